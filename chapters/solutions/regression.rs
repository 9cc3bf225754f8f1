//! Reference solution of the lab "Localization as regression": boxes from outputs, validation scores, the choice of α.

/// An axis-aligned box in pixels, ends exclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Box2 {
    /// Left column.
    pub x0: f32,
    /// Top row.
    pub y0: f32,
    /// One past the right column.
    pub x1: f32,
    /// One past the bottom row.
    pub y1: f32,
}

/// Centre ± half the size, in pixels, clamped to the image.
pub fn box_from_outputs(t: [f32; 4], (h, w): (usize, usize)) -> Box2 {
    let (w, h) = (w as f32, h as f32);
    let (cx, cy) = (t[0] * w, t[1] * h);
    let (half_w, half_h) = (t[2].max(0.0) * w / 2.0, t[3].max(0.0) * h / 2.0);
    Box2 {
        x0: (cx - half_w).clamp(0.0, w),
        y0: (cy - half_h).clamp(0.0, h),
        x1: (cx + half_w).clamp(0.0, w),
        y1: (cy + half_h).clamp(0.0, h),
    }
}

/// Validation scores of boxes and classes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    /// Right classes.
    pub accuracy: f64,
    /// Mean IoU.
    pub mean_iou: f64,
    /// Right class and IoU ≥ 0.5.
    pub correct_localization: f64,
}

fn area(b: &Box2) -> f32 {
    (b.x1 - b.x0).max(0.0) * (b.y1 - b.y0).max(0.0)
}

fn overlap(a: &Box2, b: &Box2) -> f32 {
    let inter = Box2 { x0: a.x0.max(b.x0), y0: a.y0.max(b.y0), x1: a.x1.min(b.x1), y1: a.y1.min(b.y1) };
    let union = area(a) + area(b) - area(&inter);
    if union > 0.0 {
        area(&inter) / union
    } else {
        0.0
    }
}

/// Accuracy, mean IoU and correct localization over the images.
pub fn scores(outputs: &[Vec<f32>], labels: &[usize], boxes: &[Box2], (h, w): (usize, usize)) -> Scores {
    let (mut right, mut iou_sum, mut both) = (0usize, 0.0f64, 0usize);
    for ((o, &label), truth) in outputs.iter().zip(labels).zip(boxes) {
        let k = o.len() - 4;
        let class = (0..k).max_by(|&a, &b| o[a].total_cmp(&o[b])).unwrap_or(0);
        let iou = overlap(&box_from_outputs([o[k], o[k + 1], o[k + 2], o[k + 3]], (h, w)), truth);
        right += usize::from(class == label);
        iou_sum += iou as f64;
        both += usize::from(class == label && iou >= 0.5);
    }
    let n = outputs.len().max(1) as f64;
    Scores { accuracy: right as f64 / n, mean_iou: iou_sum / n, correct_localization: both as f64 / n }
}

/// The best (correct localization, mean IoU); the first of equals, i.e. the smaller α when sorted.
pub fn choose_alpha(points: &[(f64, Scores)]) -> f64 {
    let mut best: Option<&(f64, Scores)> = None;
    for p in points {
        let better = match best {
            None => true,
            Some(b) => {
                let key = |s: &Scores| (s.correct_localization, s.mean_iou);
                key(&p.1) > key(&b.1) || (key(&p.1) == key(&b.1) && p.0 < b.0)
            }
        };
        if better {
            best = Some(p);
        }
    }
    best.map_or(0.5, |p| p.0)
}
