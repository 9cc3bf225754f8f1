//! Scores of regressed boxes (accuracy, IoU, correct localization) and joints (PCK, PCKh, pixel error).

use super::targets::{self, JOINTS};
use crate::data::batches::make_batch;
use crate::data::poses::JOINTS as JOINT_NAMES;
use crate::data::preprocess::Preprocessing;
use crate::data::Dataset;
use crate::nn::Module;
use crate::no_grad;

/// The raw outputs of the network for every image of `data` (no softmax), in evaluation mode.
pub fn outputs(model: &mut dyn Module, data: &Dataset, pre: &Preprocessing, batch: usize) -> Vec<Vec<f32>> {
    model.set_training(false);
    let mut model = crate::nn::fuse_for_inference(model);
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut out = Vec::with_capacity(data.len());
    no_grad(|| {
        for chunk in indices.chunks(batch.max(1)) {
            let (x, _) = make_batch(data, chunk, pre, None);
            let y = model.forward(&x);
            out.extend(y.data().chunks(y.shape()[1]).map(|row| row.to_vec()));
        }
    });
    out
}

/// How well a localize network did on a set of images.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct LocalizeScores {
    /// Share of images whose class is right.
    pub accuracy: f64,
    /// Mean IoU of the regressed box with the true one.
    pub mean_iou: f64,
    /// Share of images whose box has IoU ≥ 0.5.
    pub iou_at_least_half: f64,
    /// Share of images with the right class and IoU ≥ 0.5 ("correct localization").
    pub correct_localization: f64,
    /// The images scored.
    pub images: usize,
}

// ANCHOR: localize_scores
/// Scores regressed boxes: `outputs` are each image's K class scores followed by its four box outputs.
pub fn localize_scores(outputs: &[Vec<f32>], data: &Dataset) -> LocalizeScores {
    let [_, h, w] = data.shape;
    let (mut right, mut iou_sum, mut half, mut both) = (0usize, 0.0f64, 0usize, 0usize);
    for ((o, &label), truth) in outputs.iter().zip(&data.labels).zip(&data.boxes) {
        let classes = o.len() - 4;
        let predicted_class = crate::eval::argmax(&o[..classes]);
        let iou = targets::box_from(&o[classes..], [h, w]).iou(truth);
        right += usize::from(predicted_class == label);
        iou_sum += iou as f64;
        half += usize::from(iou >= 0.5);
        both += usize::from(iou >= 0.5 && predicted_class == label);
    }
    let n = outputs.len().max(1) as f64;
    LocalizeScores {
        accuracy: right as f64 / n,
        mean_iou: iou_sum / n,
        iou_at_least_half: half as f64 / n,
        correct_localization: both as f64 / n,
        images: outputs.len(),
    }
}
// ANCHOR_END: localize_scores

/// How well a pose network did on a set of images, overall and per joint.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PoseScores {
    /// Share of joints within 0.2 torso diameters of the truth.
    pub pck_02: f64,
    /// Share of joints within half the head segment (neck to head top) of the truth.
    pub pckh_05: f64,
    /// Mean distance of a predicted joint from the true one, in pixels.
    pub mean_error_px: f64,
    /// Per joint, in LSP order: name, PCK@0.2, mean error in pixels.
    pub per_joint: Vec<(String, f64, f64)>,
    /// The images scored.
    pub images: usize,
}

// ANCHOR: pck
/// The torso diameter of a skeleton in LSP order: the distance from the left
/// shoulder to the right hip (PCK's unit of length).
pub fn torso_diameter(joints: &[[f32; 2]]) -> f32 {
    distance(joints[9], joints[2])
}

/// The head segment: neck to head top (PCKh's unit of length).
pub fn head_segment(joints: &[[f32; 2]]) -> f32 {
    distance(joints[12], joints[13])
}

/// How many predicted joints lie within `fraction` · `unit` of the true ones.
pub fn joints_within(predicted: &[[f32; 2]], truth: &[[f32; 2]], fraction: f32, unit: f32) -> usize {
    predicted.iter().zip(truth).filter(|(p, t)| distance(**p, **t) <= fraction * unit).count()
}
// ANCHOR_END: pck

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Scores regressed joints: `outputs` are each image's 28 normalised coordinates.
pub fn pose_scores(outputs: &[Vec<f32>], data: &Dataset) -> PoseScores {
    let [_, h, w] = data.shape;
    let (mut pck, mut pckh, mut error) = (0usize, 0usize, 0.0f64);
    let mut per_joint = vec![(0usize, 0.0f64); JOINTS];
    for (o, truth) in outputs.iter().zip(&data.keypoints) {
        let predicted = targets::joints_from(o, [h, w]);
        let (torso, head) = (torso_diameter(truth), head_segment(truth));
        pck += joints_within(&predicted, truth, 0.2, torso);
        pckh += joints_within(&predicted, truth, 0.5, head);
        for (j, (p, t)) in predicted.iter().zip(truth).enumerate() {
            let d = distance(*p, *t);
            error += d as f64;
            per_joint[j].0 += usize::from(d <= 0.2 * torso);
            per_joint[j].1 += d as f64;
        }
    }
    let n = outputs.len().max(1) as f64;
    let joints = n * JOINTS as f64;
    PoseScores {
        pck_02: pck as f64 / joints,
        pckh_05: pckh as f64 / joints,
        mean_error_px: error / joints,
        per_joint: JOINT_NAMES
            .iter()
            .zip(per_joint)
            .map(|(name, (hits, err))| (name.to_string(), hits as f64 / n, err / n))
            .collect(),
        images: outputs.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::BBox;

    #[test]
    fn perfect_outputs_score_perfectly_and_a_shift_is_measured_in_pixels() {
        let data = crate::data::poses::generate(32, 20, 1);
        let truth: Vec<Vec<f32>> = data.keypoints.iter().map(|k| targets::pose_target(k, [32, 32], false)).collect();
        let s = pose_scores(&truth, &data);
        assert_eq!((s.pck_02, s.pckh_05), (1.0, 1.0));
        assert!(s.mean_error_px < 1e-5, "normalising and back loses only rounding: {}", s.mean_error_px);
        // every joint 3 pixels to the right: error 3, PCK counts those within 0.2 torso diameters
        let shifted: Vec<Vec<f32>> = truth
            .iter()
            .map(|t| t.iter().enumerate().map(|(i, &v)| v + (i % 2 == 0) as u8 as f32 * 3.0 / 32.0).collect())
            .collect();
        let s = pose_scores(&shifted, &data);
        assert!((s.mean_error_px - 3.0).abs() < 1e-4, "{}", s.mean_error_px);
        let expected = data.keypoints.iter().filter(|k| 0.2 * torso_diameter(k) >= 3.0).count() as f64 / 20.0;
        assert!((s.pck_02 - expected).abs() < 1e-9);
    }

    #[test]
    fn box_scores_count_class_and_overlap_separately() {
        let mut data = Dataset { classes: vec!["a".into(), "b".into()], shape: [3, 32, 32], ..Dataset::default() };
        data.labels = vec![0, 1];
        let b = BBox { x0: 0.0, y0: 0.0, x1: 16.0, y1: 16.0 };
        data.boxes = vec![b, b];
        let exact = box_target_row(&b);
        // image 0: right class, exact box; image 1: wrong class, box shifted by half its width (IoU 1/3)
        let shifted = BBox { x0: 8.0, x1: 24.0, ..b };
        let outputs = vec![[vec![2.0, 0.0], exact].concat(), [vec![2.0, 0.0], box_target_row(&shifted)].concat()];
        let s = localize_scores(&outputs, &data);
        assert_eq!((s.accuracy, s.iou_at_least_half, s.correct_localization), (0.5, 0.5, 0.5));
        assert!((s.mean_iou - (1.0 + 1.0 / 3.0) / 2.0).abs() < 1e-6);
    }

    fn box_target_row(b: &BBox) -> Vec<f32> {
        targets::box_target(b, [32, 32], false).to_vec()
    }
}
