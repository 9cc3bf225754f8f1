//! Weakly supervised localization: from a saliency map to a box, and how good the boxes and maps are.

mod perturb;

pub use perturb::{blur, deletion_insertion, PerturbCurves};

use crate::data::preprocess::Preprocessing;
use crate::data::{BBox, Dataset};
use crate::explain::{explain, Map, Method, Options, Target};
use crate::io::{Error, Result};
use crate::models::Model;
use crate::train::batches::make_batch;

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
    /// Images per batch (default 64).
    pub batch: usize,
}

impl Default for LocalizeOptions {
    fn default() -> Self {
        LocalizeOptions { threshold: None, limit: None, perturb_limit: None, perturb_steps: 16, batch: 64 }
    }
}

/// One method's localization and perturbation scores.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The method.
    pub method: String,
    /// Images evaluated.
    pub images: usize,
    /// The threshold used for top-1, GT-known and mean IoU.
    pub threshold: f32,
    /// Class right and IoU ≥ 0.5 (the map of the predicted class).
    pub top1_loc: f64,
    /// IoU ≥ 0.5 with the map of the true class, whatever was predicted.
    pub gt_known_loc: f64,
    /// GT-known localization at the best threshold of 0.00, 0.01, …, 0.99 (Choe et al. 2020).
    pub max_box_acc: f64,
    /// That best threshold.
    pub best_threshold: f32,
    /// Mean IoU of the true class's box with the ground truth.
    pub mean_iou: f64,
    /// Area under the deletion curve (lower is better).
    pub deletion_auc: f64,
    /// Area under the insertion curve (higher is better).
    pub insertion_auc: f64,
    /// Images the perturbation curves were averaged over.
    pub perturb_images: usize,
    /// Seconds taken.
    pub seconds: f64,
}

/// Thresholds of the MaxBoxAcc sweep.
const SWEEP: usize = 100;

// ANCHOR: localize
/// Explains every test image (the first `limit`) for its *true* class with
/// `method`, boxes the upsampled, normalised map and compares with the ground truth.
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
) -> Result<Report> {
    if data.boxes.len() != data.len() {
        return Err(Error::msg("localize needs ground-truth boxes; only the built-in shapes datasets have them"));
    }
    let started = std::time::Instant::now();
    let count = lo.limit.unwrap_or(data.len()).min(data.len());
    let perturb_count = lo.perturb_limit.unwrap_or(count).min(count);
    let threshold = lo.threshold.unwrap_or(method.default_threshold());
    let [_, h, w] = data.shape;
    let (mut top1, mut known, mut iou_sum) = (0usize, 0usize, 0f64);
    let mut sweep_hits = vec![0usize; SWEEP];
    let (mut deletion, mut insertion) = (0f64, 0f64);
    let indices: Vec<usize> = (0..count).collect();
    for chunk in indices.chunks(lo.batch.max(1)) {
        let (x, labels) = make_batch(data, chunk, pre, None);
        let (maps, logits, _) = explain(model, &x, method, &Target::PerImage(labels.clone()), opts)?;
        let predicted = logits.argmax(1);
        for (k, &i) in chunk.iter().enumerate() {
            let map = maps[k].upsample(h, w).normalized();
            let truth = &data.boxes[i];
            let iou = box_from_map(&map, threshold).map_or(0.0, |b| b.iou(truth));
            iou_sum += iou as f64;
            known += usize::from(iou >= 0.5);
            top1 += usize::from(iou >= 0.5 && predicted[k] == labels[k]);
            for (t, hits) in sweep_hits.iter_mut().enumerate() {
                let b = box_from_map(&map, t as f32 / SWEEP as f32);
                *hits += usize::from(b.is_some_and(|b| b.iou(truth) >= 0.5));
            }
            if i < perturb_count {
                let image = &x.data()[k * x.numel() / chunk.len()..(k + 1) * x.numel() / chunk.len()];
                let curves = deletion_insertion(model, image, data.shape, &map, labels[k], lo.perturb_steps);
                deletion += curves.deletion_auc();
                insertion += curves.insertion_auc();
            }
        }
    }
    let (best_t, best_hits) = sweep_hits.iter().enumerate().max_by_key(|&(t, &h)| (h, std::cmp::Reverse(t))).unwrap();
    let n = count.max(1) as f64;
    let pn = perturb_count.max(1) as f64;
    Ok(Report {
        method: method.name().into(),
        images: count,
        threshold,
        top1_loc: top1 as f64 / n,
        gt_known_loc: known as f64 / n,
        max_box_acc: *best_hits as f64 / n,
        best_threshold: best_t as f32 / SWEEP as f32,
        mean_iou: iou_sum / n,
        deletion_auc: deletion / pn,
        insertion_auc: insertion / pn,
        perturb_images: perturb_count,
        seconds: started.elapsed().as_secs_f64(),
    })
}
// ANCHOR_END: localize

/// The reports as a Markdown table.
pub fn table(reports: &[Report]) -> String {
    let mut out = String::from(
        "| method | images | top-1 loc | GT-known loc | MaxBoxAcc (τ) | mean IoU | deletion AUC ↓ | insertion AUC ↑ | seconds |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in reports {
        out += &format!(
            "| {} | {} | {:.1}% | {:.1}% | {:.1}% ({:.2}) | {:.3} | {:.3} | {:.3} | {:.1} |\n",
            r.method,
            r.images,
            100.0 * r.top1_loc,
            100.0 * r.gt_known_loc,
            100.0 * r.max_box_acc,
            r.best_threshold,
            r.mean_iou,
            r.deletion_auc,
            r.insertion_auc,
            r.seconds
        );
    }
    out
}
