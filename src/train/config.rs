//! Everything that defines a training run, saved as `config.json` in the run folder.

use super::fast::FastRecipe;
use crate::data::augment::Augment;
use crate::data::preprocess::Normalization;
use crate::io::{Error, Result};
use crate::models::Arch;
use crate::optim::{Adam, LrSchedule, Optimizer, Sgd};
use crate::regression::{BoxLoss, LossSettings, Task};

/// A training run's settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// `shapes`, `shapes-binary`, `cifar10` or a path.
    pub data: String,
    /// Architecture name (`smallcnn`, `resnet20`, …).
    pub model: String,
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per step.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// `sgd` (momentum 0.9, Nesterov), `adam` or `adamw`.
    pub optimizer: String,
    /// Weight decay (L2 for sgd/adam, decoupled for adamw).
    pub weight_decay: f64,
    /// `constant`, `step`, `cosine`, `warmup-cosine`, `onecycle` or `warmup-linear`.
    pub schedule: String,
    /// Label smoothing ε for the cross-entropy.
    pub label_smoothing: f64,
    /// Input normalisation.
    pub normalization: Normalization,
    /// Training-time augmentation.
    pub augment: Augment,
    /// Seed for weights, data order, augmentation and synthetic data.
    pub seed: u64,
    /// Train on N training images only (the first N of a seeded permutation).
    pub limit: Option<usize>,
    /// Training images held out for validation (taken from the end of the
    /// training split); 0 validates on the test split instead; `None`: a tenth
    /// of the training split, at most 5000.
    pub val: Option<usize>,
    /// The fast CIFAR-10 recipe's additions (`--recipe fast94`); `None` for an ordinary run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast: Option<FastRecipe>,
    /// What the network outputs: classes, classes and a box, or joints.
    #[serde(default, skip_serializing_if = "Task::is_classify")]
    pub task: Task,
    /// Localize: α in L = α·S + (1 − α)·R.
    #[serde(default = "half", skip_serializing_if = "is_half")]
    pub alpha: f64,
    /// Localize: the box loss R.
    #[serde(default, skip_serializing_if = "is_default_box_loss")]
    pub box_loss: BoxLoss,
    /// A trained run (or checkpoint) whose backbone starts this one; the head stays new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_from: Option<std::path::PathBuf>,
    /// λ of the attention-separability term λ·L_AS added to the loss ("sharpen focus"); 0: none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attention_separability: f64,
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

fn half() -> f64 {
    0.5
}

fn is_half(alpha: &f64) -> bool {
    *alpha == 0.5
}

fn is_default_box_loss(loss: &BoxLoss) -> bool {
    *loss == BoxLoss::default()
}

impl TrainConfig {
    /// True when the run validates on the test split (`--val 0`): its best
    /// epoch is then chosen by test accuracy, and only its last checkpoint
    /// may be scored on that split.
    pub fn validates_on_test(&self) -> bool {
        self.val == Some(0)
    }

    /// The demo's settings: smallcnn on `shapes`, 3 epochs over 8,000 images,
    /// sized so that `cnnlab demo` (training and explanations) finishes in
    /// under 3 minutes on 2 cores.
    pub fn demo() -> TrainConfig {
        TrainConfig {
            data: "shapes".into(),
            model: Arch::SmallCnn.name().into(),
            epochs: 3,
            batch: 64,
            lr: 0.1,
            optimizer: "sgd".into(),
            weight_decay: 5e-4,
            schedule: "onecycle".into(),
            label_smoothing: 0.0,
            normalization: Normalization::ChannelMeanStd,
            augment: Augment::none(),
            seed: 0,
            limit: Some(8000),
            val: Some(1000),
            fast: None,
            task: Task::Classify,
            alpha: 0.5,
            box_loss: BoxLoss::default(),
            init_from: None,
            attention_separability: 0.0,
        }
    }

    /// The loss settings of the localize task.
    pub fn loss_settings(&self) -> LossSettings {
        LossSettings { alpha: self.alpha, box_loss: self.box_loss }
    }

    /// Checks every value, naming the offending option.
    pub fn validate(&self) -> Result<()> {
        let bad = |opt: &str, why: String| Err(Error::msg(format!("--{opt}: {why}")));
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1".into());
        }
        if self.batch < 2 {
            return bad("batch", format!("{} is too small: BatchNorm needs at least 2 images per batch", self.batch));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad("lr", format!("{} must be a positive number", self.lr));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight-decay", format!("{} must be zero or positive", self.weight_decay));
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad("label-smoothing", format!("{} must be in [0, 1)", self.label_smoothing));
        }
        if !(0.0..=1.0).contains(&self.alpha) {
            return bad("alpha", format!("{} must be in [0, 1]: L = α·S + (1 − α)·R", self.alpha));
        }
        if self.task != Task::Classify && self.fast.is_some() {
            return bad("task", format!("{} cannot use --recipe fast94, a classification recipe", self.task));
        }
        if !(self.attention_separability.is_finite() && self.attention_separability >= 0.0) {
            return bad("attention-separability", format!("{} must be zero or positive", self.attention_separability));
        }
        if self.attention_separability > 0.0
            && (self.task != Task::Classify || self.fast.is_some() || !super::sharpen::supports(self.arch()?))
        {
            return bad("attention-separability", "needs a smallcnn classifier without --recipe".into());
        }
        if self.limit == Some(0) {
            return bad("limit", "must be at least 1".into());
        }
        self.arch()?;
        self.schedule(1, 1)?;
        self.optimizer()?;
        if let Some(fast) = &self.fast {
            fast.validate(self)?;
        }
        Ok(())
    }

    /// Checks the options that depend on the images, known once the data is loaded.
    pub fn validate_for_images(&self, [_, h, w]: [usize; 3], images: usize) -> Result<()> {
        if self.augment.cutout > h.max(w) {
            let why = format!("{} is larger than the {h}x{w} training images", self.augment.cutout);
            return Err(Error::msg(format!("--cutout: {why}")));
        }
        for (flag, shift) in [("--crop-padding", self.augment.crop_padding), ("--translate", self.augment.translate)] {
            if shift >= h.min(w) {
                return Err(Error::msg(format!(
                    "{flag}: a shift of {shift} pixels would move a {h}x{w} training image entirely out of view"
                )));
            }
        }
        if images < 2 {
            return Err(Error::msg(format!(
                "{images} training image(s) left (after --limit and --val): BatchNorm needs batches of at least 2, \
                 so no step could be taken"
            )));
        }
        Ok(())
    }

    /// The architecture.
    pub fn arch(&self) -> Result<Arch> {
        self.model.parse()
    }

    /// The learning-rate schedule for `total` steps with `per_epoch` steps per epoch.
    pub fn schedule(&self, total: usize, per_epoch: usize) -> Result<LrSchedule> {
        Ok(match self.schedule.as_str() {
            "constant" => LrSchedule::Constant,
            "step" => LrSchedule::Step { every: (total / 3).max(1), gamma: 0.1 },
            "cosine" => LrSchedule::Cosine { min_factor: 0.0 },
            "warmup-cosine" => LrSchedule::WarmupCosine { warmup: per_epoch.min(total / 10).max(1), min_factor: 0.0 },
            "onecycle" => LrSchedule::OneCycle { pct_start: 0.25 },
            "warmup-linear" => LrSchedule::WarmupLinear { warmup: 0.23, start: 0.2, end: 0.07 },
            other => {
                return Err(Error::msg(format!(
                    "--schedule: unknown schedule '{other}'; choose constant, step, cosine, warmup-cosine, onecycle or warmup-linear"
                )))
            }
        })
    }

    /// Optimiser steps per epoch over `images` training images: every batch,
    /// or (the fast recipe) only the full ones.
    pub fn steps_per_epoch(&self, images: usize) -> usize {
        if self.fast.is_some() && images >= self.batch {
            images / self.batch
        } else {
            images.div_ceil(self.batch)
        }
    }

    /// The learning rate the schedule scales: `lr`, or for the fast recipe
    /// the step size its per-1,024-images rate stands for.
    pub fn step_lr(&self) -> f64 {
        self.fast.as_ref().map_or(self.lr, |f| f.step_lr(self))
    }

    /// A fresh optimiser for a run of `total` steps (the fast recipe's look-ahead needs the total).
    pub fn optimizer_for(&self, total: usize) -> Result<Box<dyn Optimizer>> {
        match &self.fast {
            Some(fast) => Ok(fast.optimizer(self, total)),
            None => self.optimizer(),
        }
    }

    /// A fresh optimiser.
    pub fn optimizer(&self) -> Result<Box<dyn Optimizer>> {
        Ok(match self.optimizer.as_str() {
            "sgd" => Box::new(Sgd::new(self.lr).momentum(0.9, true).weight_decay(self.weight_decay)),
            "adam" => Box::new(Adam::new(self.lr).weight_decay(self.weight_decay)),
            "adamw" => Box::new(Adam::adamw(self.lr, self.weight_decay)),
            other => {
                return Err(Error::msg(format!("--optimizer: unknown optimizer '{other}'; choose sgd, adam or adamw")))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_written_before_cutout_existed_reads_with_cutout_off() {
        // config.json of a ResNet-20 run from before `--cutout`, verbatim
        let old = r#"{"data":"cifar10","model":"resnet20","epochs":100,"batch":128,"lr":0.1,
            "optimizer":"sgd","weight_decay":0.0005,"schedule":"warmup-cosine","label_smoothing":0.0,
            "normalization":"channel-mean-std","augment":{"crop_padding":4,"flip":true,"translate":0},
            "seed":0,"limit":null,"val":null}"#;
        let cfg: TrainConfig = serde_json::from_str(old).unwrap();
        assert_eq!(cfg.augment, crate::data::augment::Augment::standard());
        assert_eq!(cfg.augment.cutout, 0);
    }
}
