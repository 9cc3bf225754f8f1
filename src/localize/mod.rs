//! Weakly supervised localization: from a saliency map to a box, and how good the boxes and maps are.

mod perturb;

pub use perturb::{blur, deletion_insertion, PerturbCurves};

use crate::data::batches::make_batch;
use crate::data::preprocess::Preprocessing;
use crate::data::{BBox, Dataset};
use crate::explain::{explain, Map, Method, Options, Target};
use crate::io::{Error, Result};
use crate::models::Model;

// ANCHOR: box_from_map
/// The lecture's recipe: keep the pixels above `threshold` × the map's
/// maximum, take the largest 8-connected component, return its bounding box.
/// `None` when the map has no positive value (nothing to localize).
pub fn box_from_map(map: &Map, threshold: f32) -> Option<BBox> {
    let top = map.max();
    if top.is_nan() || top <= 0.0 {
        return None;
    }
    let cut = threshold * top;
    let (h, w) = (map.height, map.width);
    let mut label = vec![false; h * w]; // visited
    let mut best: Option<(usize, BBox)> = None;
    for start in 0..h * w {
        if label[start] || map.values[start] < cut {
            continue;
        }
        // flood fill one component with an explicit stack
        let (mut area, mut bbox) = (0, BBox { x0: w as f32, y0: h as f32, x1: 0.0, y1: 0.0 });
        let mut stack = vec![start];
        label[start] = true;
        while let Some(p) = stack.pop() {
            let (y, x) = (p / w, p % w);
            area += 1;
            bbox = BBox {
                x0: bbox.x0.min(x as f32),
                y0: bbox.y0.min(y as f32),
                x1: bbox.x1.max(x as f32 + 1.0),
                y1: bbox.y1.max(y as f32 + 1.0),
            };
            for (dy, dx) in [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)] {
                let (ny, nx) = (y as isize + dy, x as isize + dx);
                if ny >= 0 && nx >= 0 && (ny as usize) < h && (nx as usize) < w {
                    let q = ny as usize * w + nx as usize;
                    if !label[q] && map.values[q] >= cut {
                        label[q] = true;
                        stack.push(q);
                    }
                }
            }
        }
        if best.as_ref().is_none_or(|(a, _)| area > *a) {
            best = Some((area, bbox));
        }
    }
    best.map(|(_, b)| b)
}
// ANCHOR_END: box_from_map

/// How the localization metrics are computed.
#[derive(Clone, Debug)]
pub struct LocalizeOptions {
    /// Threshold (fraction of the maximum) for top-1, GT-known and mean IoU
    /// (default: the method's own, see [`Method::default_threshold`]).
    pub threshold: Option<f32>,
    /// Evaluate the first N test images only.
    pub limit: Option<usize>,
    /// Deletion/insertion curves on the first N of those (they cost 2·(steps+1) forward passes per image).
    pub perturb_limit: Option<usize>,
    /// Steps of the deletion and insertion curves (default 16).
    pub perturb_steps: usize,
    /// Held-out images on which the threshold is calibrated (default 200).
    pub calibration_images: usize,
    /// Images per batch (default 64).
    pub batch: usize,
}

impl Default for LocalizeOptions {
    fn default() -> Self {
        LocalizeOptions {
            threshold: None,
            limit: None,
            perturb_limit: None,
            perturb_steps: 16,
            calibration_images: 200,
            batch: 64,
        }
    }
}

/// One method's localization and perturbation scores.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The method.
    pub method: String,
    /// Test images evaluated.
    pub images: usize,
    /// The threshold used for top-1, GT-known and mean IoU.
    pub threshold: f32,
    /// Class right and IoU ≥ 0.5 (the map of the predicted class).
    pub top1_loc: f64,
    /// IoU ≥ 0.5 with the map of the true class, whatever was predicted.
    pub gt_known_loc: f64,
    /// GT-known localization at the best threshold of 0.00, 0.01, …, 0.99 on the test images (Choe et al. 2020).
    pub max_box_acc: f64,
    /// That best threshold.
    pub best_threshold: f32,
    /// Mean IoU of the true class's box with the ground truth, at `threshold`.
    pub mean_iou: f64,
    /// The threshold that is best on held-out training images (no test image is used to choose it).
    pub calibrated_threshold: Option<f32>,
    /// Held-out images it was chosen on.
    pub calibration_images: usize,
    /// Top-1 localization at the calibrated threshold.
    pub top1_loc_calibrated: Option<f64>,
    /// GT-known localization at the calibrated threshold.
    pub gt_known_loc_calibrated: Option<f64>,
    /// Mean IoU at the calibrated threshold.
    pub mean_iou_calibrated: Option<f64>,
    /// Area under the deletion curve (lower is better).
    pub deletion_auc: f64,
    /// Area under the insertion curve (higher is better).
    pub insertion_auc: f64,
    /// Images the perturbation curves were averaged over.
    pub perturb_images: usize,
    /// Seconds taken.
    pub seconds: f64,
}

/// Thresholds of the MaxBoxAcc sweep: 0.00, 0.01, …, 0.99.
const SWEEP: usize = 100;

/// Normalised maps at input resolution for the true classes of images
/// `indices`, the predictions, and the normalised batch they came from.
fn true_class_maps(
    model: &mut Model,
    data: &Dataset,
    pre: &Preprocessing,
    indices: &[usize],
    method: Method,
    opts: &Options,
) -> Result<(Vec<Map>, Vec<usize>, crate::Tensor)> {
    let [_, h, w] = data.shape;
    let (x, labels) = make_batch(data, indices, pre, None);
    let (maps, logits, _) = explain(model, &x, method, &Target::PerImage(labels), opts)?;
    let maps = maps.iter().map(|m| m.upsample(h, w).normalized()).collect();
    Ok((maps, logits.argmax(1), x))
}

/// IoU of the box found at `threshold` with the truth (0 when no box is found).
fn iou_at(map: &Map, threshold: f32, truth: &BBox) -> f32 {
    box_from_map(map, threshold).map_or(0.0, |b| b.iou(truth))
}

// ANCHOR: calibrate
/// The threshold with the most boxes of IoU ≥ 0.5 on held-out images
/// (ties: the lowest). Choe et al. (2020) show the best threshold differs by
/// method and model, so it must be chosen on data the scores are not measured on.
pub fn calibrate_threshold(
    model: &mut Model,
    held_out: &Dataset,
    pre: &Preprocessing,
    method: Method,
    opts: &Options,
    lo: &LocalizeOptions,
) -> Result<f32> {
    let indices: Vec<usize> = (0..lo.calibration_images.min(held_out.len())).collect();
    let mut hits = vec![0usize; SWEEP];
    for chunk in indices.chunks(lo.batch.max(1)) {
        let (maps, _, _) = true_class_maps(model, held_out, pre, chunk, method, opts)?;
        for (map, &i) in maps.iter().zip(chunk) {
            add_sweep_hits(map, &held_out.boxes[i], &mut hits);
        }
    }
    Ok(best_of_sweep(&hits).0)
}
// ANCHOR_END: calibrate

/// Counts, for every threshold of the sweep, whether the box found at it has IoU ≥ 0.5 with `truth`.
fn add_sweep_hits(map: &Map, truth: &BBox, hits: &mut [usize]) {
    for (t, hit) in hits.iter_mut().enumerate() {
        *hit += usize::from(iou_at(map, t as f32 / SWEEP as f32, truth) >= 0.5);
    }
}

/// (threshold, hits) of the best sweep entry, the lowest threshold on ties.
fn best_of_sweep(hits: &[usize]) -> (f32, usize) {
    let (t, &best) = hits.iter().enumerate().max_by_key(|&(t, &h)| (h, std::cmp::Reverse(t))).expect("a sweep");
    (t as f32 / SWEEP as f32, best)
}

/// Running sums of one localization pass.
#[derive(Default)]
struct Tally {
    top1: usize,
    known: usize,
    iou: f64,
}

impl Tally {
    fn add(&mut self, iou: f32, correct: bool) {
        self.iou += iou as f64;
        self.known += usize::from(iou >= 0.5);
        self.top1 += usize::from(iou >= 0.5 && correct);
    }
}

// ANCHOR: localize
/// Explains the first `limit` test images for their *true* class with
/// `method`, boxes each upsampled, normalised map and compares with the
/// ground truth; with `held_out` images, also at a calibrated threshold.
///
/// # Errors
/// When the data has no boxes, or the method cannot explain this model.
pub fn localize(
    model: &mut Model,
    data: &Dataset,
    pre: &Preprocessing,
    method: Method,
    opts: &Options,
    lo: &LocalizeOptions,
    held_out: Option<&Dataset>,
) -> Result<Report> {
    if data.boxes.len() != data.len() || held_out.is_some_and(|d| d.boxes.len() != d.len()) {
        return Err(Error::msg("localize needs ground-truth boxes; only the built-in shapes datasets have them"));
    }
    let started = std::time::Instant::now();
    let calibrated = match held_out {
        Some(d) if lo.calibration_images > 0 => Some(calibrate_threshold(model, d, pre, method, opts, lo)?),
        _ => None,
    };
    let count = lo.limit.unwrap_or(data.len()).min(data.len());
    let perturb_count = lo.perturb_limit.unwrap_or(count).min(count);
    let threshold = lo.threshold.unwrap_or(method.default_threshold());
    let (mut at_default, mut at_calibrated) = (Tally::default(), Tally::default());
    let mut sweep_hits = vec![0usize; SWEEP];
    let (mut deletion, mut insertion) = (0f64, 0f64);
    let indices: Vec<usize> = (0..count).collect();
    for chunk in indices.chunks(lo.batch.max(1)) {
        let (maps, predicted, x) = true_class_maps(model, data, pre, chunk, method, opts)?;
        let per_image = x.numel() / chunk.len();
        for (k, &i) in chunk.iter().enumerate() {
            let (map, truth, label) = (&maps[k], &data.boxes[i], data.labels[i]);
            at_default.add(iou_at(map, threshold, truth), predicted[k] == label);
            if let Some(t) = calibrated {
                at_calibrated.add(iou_at(map, t, truth), predicted[k] == label);
            }
            add_sweep_hits(map, truth, &mut sweep_hits);
            if i < perturb_count {
                let image = &x.data()[k * per_image..(k + 1) * per_image];
                let curves = deletion_insertion(model, image, data.shape, map, label, lo.perturb_steps);
                deletion += curves.deletion_auc();
                insertion += curves.insertion_auc();
            }
        }
    }
    let (best_threshold, best_hits) = best_of_sweep(&sweep_hits);
    let (n, pn) = (count.max(1) as f64, perturb_count.max(1) as f64);
    let calibrated_score = |f: fn(&Tally) -> f64| calibrated.map(|_| f(&at_calibrated) / n);
    Ok(Report {
        method: method.name().into(),
        images: count,
        threshold,
        top1_loc: at_default.top1 as f64 / n,
        gt_known_loc: at_default.known as f64 / n,
        max_box_acc: best_hits as f64 / n,
        best_threshold,
        mean_iou: at_default.iou / n,
        calibrated_threshold: calibrated,
        calibration_images: calibrated.map_or(0, |_| lo.calibration_images.min(held_out.map_or(0, Dataset::len))),
        top1_loc_calibrated: calibrated_score(|t| t.top1 as f64),
        gt_known_loc_calibrated: calibrated_score(|t| t.known as f64),
        mean_iou_calibrated: calibrated_score(|t| t.iou),
        deletion_auc: deletion / pn,
        insertion_auc: insertion / pn,
        perturb_images: perturb_count,
        seconds: started.elapsed().as_secs_f64(),
    })
}
// ANCHOR_END: localize

/// The reports as a Markdown table.
pub fn table(reports: &[Report]) -> String {
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.1}%", 100.0 * v));
    let mut out = String::from(
        "| method | images | top-1 loc (τ) | GT-known loc | mean IoU | calibrated τ | top-1 loc | GT-known loc | mean IoU | MaxBoxAcc (τ) | deletion AUC ↓ | insertion AUC ↑ | seconds |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        out += &format!(
            "| {} | {} | {:.1}% ({:.2}) | {:.1}% | {:.3} | {} | {} | {} | {} | {:.1}% ({:.2}) | {:.3} | {:.3} | {:.1} |\n",
            r.method,
            r.images,
            100.0 * r.top1_loc,
            r.threshold,
            100.0 * r.gt_known_loc,
            r.mean_iou,
            r.calibrated_threshold.map_or("–".to_string(), |t| format!("{t:.2}")),
            pct(r.top1_loc_calibrated),
            pct(r.gt_known_loc_calibrated),
            r.mean_iou_calibrated.map_or("–".to_string(), |v| format!("{v:.3}")),
            100.0 * r.max_box_acc,
            r.best_threshold,
            r.deletion_auc,
            r.insertion_auc,
            r.seconds
        );
    }
    out
}
