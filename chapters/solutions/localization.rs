//! Reference solution of the lab "Weakly supervised localization": IoU, and the box of the largest connected component above a threshold.

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

fn area(b: &Box2) -> f32 {
    (b.x1 - b.x0).max(0.0) * (b.y1 - b.y0).max(0.0)
}

/// |a ∩ b| / |a ∪ b|.
pub fn iou(a: &Box2, b: &Box2) -> f32 {
    let inter = Box2 { x0: a.x0.max(b.x0), y0: a.y0.max(b.y0), x1: a.x1.min(b.x1), y1: a.y1.min(b.y1) };
    let union = area(a) + area(b) - area(&inter);
    if union > 0.0 {
        area(&inter) / union
    } else {
        0.0
    }
}

/// The pixels of one 8-connected component of `kept`, starting at `start`, marking them `visited`.
fn component(start: usize, kept: &[bool], visited: &mut [bool], (h, w): (usize, usize)) -> Vec<(usize, usize)> {
    let (mut pixels, mut stack) = (Vec::new(), vec![start]);
    visited[start] = true;
    while let Some(p) = stack.pop() {
        let (y, x) = (p / w, p % w);
        pixels.push((y, x));
        for ny in y.saturating_sub(1)..(y + 2).min(h) {
            for nx in x.saturating_sub(1)..(x + 2).min(w) {
                let q = ny * w + nx;
                if kept[q] && !visited[q] {
                    visited[q] = true;
                    stack.push(q);
                }
            }
        }
    }
    pixels
}

/// The bounding box of the largest 8-connected component ≥ threshold·max.
pub fn box_from_map(map: &[f32], (h, w): (usize, usize), threshold: f32) -> Option<Box2> {
    let top = map.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if top.is_nan() || top <= 0.0 {
        return None;
    }
    let kept: Vec<bool> = map.iter().map(|&v| v >= threshold * top).collect();
    let mut visited = vec![false; h * w];
    let mut best: Vec<(usize, usize)> = Vec::new();
    for start in 0..h * w {
        if kept[start] && !visited[start] {
            let pixels = component(start, &kept, &mut visited, (h, w));
            if pixels.len() > best.len() {
                best = pixels;
            }
        }
    }
    let (ys, xs): (Vec<usize>, Vec<usize>) = best.into_iter().unzip();
    Some(Box2 {
        x0: *xs.iter().min()? as f32,
        y0: *ys.iter().min()? as f32,
        x1: *xs.iter().max()? as f32 + 1.0,
        y1: *ys.iter().max()? as f32 + 1.0,
    })
}
