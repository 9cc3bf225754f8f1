//! Localization and pose estimation as regression: the tasks, their targets, losses and scores.
//!
//! One backbone, one final linear layer whose outputs are split by task:
//! `classify` has one score per class; `localize` adds four box outputs after
//! the class scores (two heads on the same features are exactly one linear
//! layer with their rows stacked) and trains on L = α·S + (1 − α)·R; `pose`
//! has 28 outputs, the (x, y) of 14 joints, trained with the L2 loss.

pub mod draw;
pub mod metrics;
pub mod targets;

use crate::data::augment::Augment;
use crate::data::Dataset;
use crate::io::{Error, Result};
use crate::Tensor;

pub use metrics::{LocalizeScores, PoseScores};

/// What a network is trained to output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Class scores (softmax, cross-entropy).
    #[default]
    Classify,
    /// Class scores and one box (x, y, w, h), as a multitask network.
    Localize,
    /// The (x, y) of the 14 joints of one person.
    Pose,
}

impl Task {
    /// The name on the command line and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            Task::Classify => "classify",
            Task::Localize => "localize",
            Task::Pose => "pose",
        }
    }

    /// True for the default task (configs and checkpoints then omit it).
    pub fn is_classify(&self) -> bool {
        *self == Task::Classify
    }

    /// Output units of the final layer for a dataset of `classes` classes.
    pub fn outputs(self, classes: usize) -> usize {
        match self {
            Task::Classify => classes,
            Task::Localize => classes + 4,
            Task::Pose => 2 * targets::JOINTS,
        }
    }

    /// How many scored items an image holds (joints for pose, else 1): a
    /// training epoch's "accuracy" is hits / (images · this).
    pub fn items_per_image(self) -> usize {
        if self == Task::Pose {
            targets::JOINTS
        } else {
            1
        }
    }

    /// Checks that `data` carries what the task regresses (a box, or 14
    /// joints, per image) and that augmentation keeps those targets right.
    pub fn check(self, data: &Dataset, source: &str, augment: &Augment) -> Result<()> {
        let n = data.len();
        match self {
            Task::Classify => return Ok(()),
            Task::Localize if data.boxes.len() != n => {
                return Err(Error::msg(format!(
                    "--task localize needs a ground-truth box per image, and --data {source} has {} boxes for {n} \
                     images (the built-in shapes and poses have them; an image folder needs \
                     train/boxes.csv and test/boxes.csv)",
                    data.boxes.len()
                )))
            }
            Task::Pose => {
                let wrong = data.keypoints.iter().position(|k| k.len() != targets::JOINTS);
                if data.keypoints.len() != n || wrong.is_some() {
                    return Err(Error::msg(format!(
                        "--task pose needs {} joints per image, and --data {source} does not have them \
                         (use --data poses, or an image folder with train/keypoints.csv and test/keypoints.csv)",
                        targets::JOINTS
                    )));
                }
            }
            Task::Localize => {}
        }
        if augment.crop_padding > 0 || augment.translate > 0 {
            return Err(Error::msg(format!(
                "--task {}: --crop-padding and --translate move the image but not its targets; \
                 use --flip (boxes and joints are mirrored with it) or --cutout",
                self.name()
            )));
        }
        Ok(())
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Task {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "classify" => Ok(Task::Classify),
            "localize" => Ok(Task::Localize),
            "pose" => Ok(Task::Pose),
            _ => Err(Error::msg(format!("unknown task '{s}'; choose classify, localize or pose"))),
        }
    }
}

/// The regression loss R of the box head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BoxLoss {
    /// Mean squared error (the lecture's L2).
    Mse,
    /// Mean absolute error.
    L1,
    /// Smooth L1 with β = 0.1 of the image: quadratic near the target, linear far from it.
    #[default]
    SmoothL1,
}

impl BoxLoss {
    /// R(b̂, b) averaged over the batch's box coordinates.
    pub fn apply(self, predicted: &Tensor, target: &Tensor) -> Tensor {
        match self {
            BoxLoss::Mse => predicted.mse_loss(target),
            BoxLoss::L1 => predicted.l1_loss(target),
            BoxLoss::SmoothL1 => predicted.smooth_l1_loss(target, 0.1),
        }
    }
}

impl std::str::FromStr for BoxLoss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mse" => Ok(BoxLoss::Mse),
            "l1" => Ok(BoxLoss::L1),
            "smooth-l1" => Ok(BoxLoss::SmoothL1),
            _ => Err(Error::msg(format!("unknown box loss '{s}'; choose mse, l1 or smooth-l1"))),
        }
    }
}

/// How a regression task is trained: the weight α of the class loss and the box loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LossSettings {
    /// α in L = α·S + (1 − α)·R.
    pub alpha: f64,
    /// R.
    pub box_loss: BoxLoss,
}

// ANCHOR: localize_loss
/// The multitask loss L = α·S + (1 − α)·R: S the cross-entropy of the class
/// scores (the first K outputs), R the box loss of the last four outputs
/// against `boxes` (B × 4, normalised). Returns L, S and R.
pub fn localize_loss(outputs: &Tensor, labels: &[usize], boxes: &Tensor, settings: LossSettings) -> (Tensor, f32, f32) {
    let classes = outputs.shape()[1] - 4;
    let class_loss = outputs.narrow(1, 0, classes).cross_entropy(labels, 0.0);
    let box_loss = settings.box_loss.apply(&outputs.narrow(1, classes, 4), boxes);
    let (s, r) = (class_loss.item(), box_loss.item());
    let total = class_loss.mul_scalar(settings.alpha).add(&box_loss.mul_scalar(1.0 - settings.alpha));
    (total, s, r)
}
// ANCHOR_END: localize_loss

// ANCHOR: pose_loss
/// DeepPose's L2 loss: the mean over the batch and the 28 coordinates of
/// (ψ(x) − N(y; b))², the targets normalised to the box b.
pub fn pose_loss(outputs: &Tensor, joints: &Tensor) -> Tensor {
    outputs.mse_loss(joints)
}
// ANCHOR_END: pose_loss

/// One training step's loss for `task` on the images `indices` of `data`
/// (mirrored where `flips` says), and its hits: right classes (classify),
/// right classes (localize), joints within PCK@0.2 (pose).
pub fn step_loss(
    task: Task,
    settings: LossSettings,
    outputs: &Tensor,
    data: &Dataset,
    indices: &[usize],
    flips: &[bool],
    label_smoothing: f64,
) -> (Tensor, usize) {
    let labels: Vec<usize> = indices.iter().map(|&i| data.labels[i]).collect();
    let right_class = |scores: &Tensor| scores.argmax(1).iter().zip(&labels).filter(|(p, y)| p == y).count();
    let [_, h, w] = data.shape;
    match task {
        Task::Classify => (outputs.cross_entropy(&labels, label_smoothing), right_class(outputs)),
        Task::Localize => {
            let boxes = targets::box_batch(data, indices, flips);
            let (loss, _, _) = localize_loss(outputs, &labels, &boxes, settings);
            let classes = outputs.shape()[1] - 4;
            (loss, right_class(&outputs.narrow(1, 0, classes)))
        }
        Task::Pose => {
            let joints = targets::pose_batch(data, indices, flips);
            let loss = pose_loss(outputs, &joints);
            let hits = outputs
                .data()
                .chunks(2 * targets::JOINTS)
                .zip(joints.data().chunks(2 * targets::JOINTS))
                .map(|(o, t)| {
                    let (p, truth) = (targets::joints_from(o, [h, w]), targets::joints_from(t, [h, w]));
                    metrics::joints_within(&p, &truth, 0.2, metrics::torso_diameter(&truth))
                })
                .sum();
            (loss, hits)
        }
    }
}
