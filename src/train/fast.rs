//! The fast CIFAR-10 recipe (after Keller Jordan's airbench94): its settings, and what it adds to the training loop.
//!
//! Every trick is a field, so that each can be switched off to measure its
//! worth. The loop in `train` asks the recipe for the optimiser, prepares
//! the model with it (whitening, initialisation) and calls
//! [`FastRecipe::start_epoch`] before each epoch; everything else (the
//! schedule, alternating flips, reflecting translations, label smoothing)
//! is ordinary configuration.

use super::TrainConfig;
use crate::data::augment::Augment;
use crate::data::preprocess::{Normalization, Preprocessing};
use crate::data::Dataset;
use crate::eval::TestTimeAugmentation;
use crate::io::{Error, Result};
use crate::models::{whitening, Arch, Model};
use crate::nn::{init, Conv2d, Module, Sequential};
use crate::optim::{Lookahead, Optimizer, Sgd};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Training images the whitening layer is computed from.
pub const WHITENING_IMAGES: usize = 5000;
/// ε added to the eigenvalues of the patch covariance.
pub const WHITENING_EPS: f64 = 5e-4;
/// Steps between look-ahead averages.
pub const LOOKAHEAD_EVERY: usize = 5;

/// What the fast recipe adds to an ordinary training configuration.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FastRecipe {
    /// The first layer is the whitening of the training images' 2×2 patches,
    /// frozen (else an ordinary trained 2×2 convolution).
    pub whiten: bool,
    /// Epochs during which the whitening layer's bias still trains (3).
    pub whiten_bias_epochs: usize,
    /// The 3×3 convolutions start as partial identities (Dirac).
    pub dirac: bool,
    /// Nesterov momentum μ (0.85).
    pub momentum: f64,
    /// Learning-rate multiplier of the BatchNorm biases (64; their weight decay is divided by it).
    pub bn_bias_lr_scale: f64,
    /// Look-ahead averaging of the weights every 5 steps, the average kept at the end.
    pub lookahead: bool,
    /// The views the final evaluation averages.
    pub tta: TestTimeAugmentation,
}

impl Default for FastRecipe {
    fn default() -> Self {
        FastRecipe {
            whiten: true,
            whiten_bias_epochs: 3,
            dirac: true,
            momentum: 0.85,
            bn_bias_lr_scale: 64.0,
            lookahead: true,
            tta: TestTimeAugmentation::FlipTranslate,
        }
    }
}

// ANCHOR: recipe_config
/// The whole recipe on `data` with `seed`: fastcnn, 10 epochs of batches of
/// 1,024 (the last partial batch of an epoch dropped), learning rate 11.5
/// and weight decay 0.0153 per 1,024 images, linear warm-up over 23% of the
/// steps from 0.2× then linear decay to 0.07×, label smoothing 0.2,
/// alternating flips, translations by up to 2 pixels with a mirrored border;
/// no validation split (the test split is scored once, at the end).
pub fn recipe_config(data: &str, seed: u64) -> TrainConfig {
    TrainConfig {
        data: data.to_string(),
        model: Arch::FastCnn.name().into(),
        epochs: 10,
        batch: 1024,
        lr: 11.5,
        optimizer: "sgd".into(),
        weight_decay: 0.0153,
        schedule: "warmup-linear".into(),
        label_smoothing: 0.2,
        normalization: Normalization::ChannelMeanStd,
        augment: Augment { flip: true, alternate_flip: true, translate: 2, reflect: true, ..Augment::none() },
        seed,
        limit: None,
        val: Some(0),
        fast: Some(FastRecipe::default()),
        ..TrainConfig::demo()
    }
}
// ANCHOR_END: recipe_config

impl FastRecipe {
    // ANCHOR: units
    /// The learning rate of one step. The recipe states it per 1,024 images
    /// and for steps of the size of the gradients: the loss here is the
    /// batch *mean*, so a batch of B images scales it by B/1024, and
    /// Nesterov momentum makes steady steps 1 + 1/(1 − μ) times the
    /// gradient, which it divides out.
    pub fn step_lr(&self, cfg: &TrainConfig) -> f64 {
        cfg.lr * cfg.batch as f64 / 1024.0 / (1.0 + 1.0 / (1.0 - self.momentum))
    }

    /// The L2 coefficient λ added to the gradient: chosen so that the decay
    /// step η·λ equals `weight_decay` per 1,024 images at the peak learning rate.
    pub fn l2(&self, cfg: &TrainConfig) -> f64 {
        cfg.weight_decay / cfg.lr
    }
    // ANCHOR_END: units

    /// Nesterov SGD with the BatchNorm biases' multiplier, wrapped in
    /// look-ahead averaging when the recipe uses it; `total` steps in all.
    pub fn optimizer(&self, cfg: &TrainConfig, total: usize) -> Box<dyn Optimizer> {
        let scale = self.bn_bias_lr_scale;
        let sgd = Sgd::new(self.step_lr(cfg))
            .momentum(self.momentum, true)
            .weight_decay(self.l2(cfg))
            .lr_scale(move |name| if is_norm_bias(name) { scale } else { 1.0 });
        if self.lookahead {
            Box::new(Lookahead::new(Box::new(sgd), LOOKAHEAD_EVERY, total))
        } else {
            Box::new(sgd)
        }
    }

    /// Checks the values and that the model is the recipe's.
    pub fn validate(&self, cfg: &TrainConfig) -> Result<()> {
        if cfg.arch()? != Arch::FastCnn {
            return Err(Error::msg(format!("--recipe fast94 trains fastcnn, not {}", cfg.model)));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::msg(format!("--momentum: {} must be in [0, 1)", self.momentum)));
        }
        if !(self.bn_bias_lr_scale.is_finite() && self.bn_bias_lr_scale > 0.0) {
            return Err(Error::msg(format!("--bn-bias-lr-scale: {} must be positive", self.bn_bias_lr_scale)));
        }
        Ok(())
    }

    // ANCHOR: prepare
    /// Before the first step: the whitening layer from the first
    /// [`WHITENING_IMAGES`] training images (normalised as training sees
    /// them), frozen; without Dirac, the 3×3 convolutions redrawn at random.
    pub fn prepare(&self, model: &mut Model, train: &Dataset, pre: &Preprocessing, seed: u64) -> Result<()> {
        let net = sequential(model)?;
        if self.whiten {
            let first: Vec<usize> = (0..train.len().min(WHITENING_IMAGES)).collect();
            let (x, _) = crate::data::batches::make_batch(train, &first, pre, None);
            let (n, c, h, w) = x.dims4("whitening");
            let whiten = first_conv(net)?;
            let (out, k) = (whiten.weight.shape()[0], whiten.weight.shape()[2]);
            let cov = whitening::patch_covariance(x.data(), [n, c, h, w], k);
            let filters = whitening::whitening_filters(&cov, c * k * k, WHITENING_EPS);
            assert_eq!(filters.len(), out * c * k * k, "fastcnn's first layer has 2·C·k² filters");
            whiten.weight = crate::Tensor::from_vec(filters, &[out, c, k, k]); // a constant: frozen
        }
        if !self.dirac {
            let mut rng = StdRng::seed_from_u64(seed ^ 0xD1AC);
            net.visit_state("", &mut |name, t, _| {
                if name.ends_with("conv1.weight") || name.ends_with("conv2.weight") {
                    let fan_in = init::fans(t.shape()).0;
                    *t = init::uniform(t.shape(), 1.0 / (fan_in as f64).sqrt(), &mut rng).with_grad();
                }
            });
        }
        Ok(())
    }
    // ANCHOR_END: prepare

    /// Before epoch `epoch` (from 0): the whitening layer's bias trains in
    /// the first `whiten_bias_epochs` epochs and is frozen after.
    pub fn start_epoch(&self, model: &mut Model, epoch: usize) -> Result<()> {
        if !self.whiten {
            return Ok(());
        }
        let whiten = first_conv(sequential(model)?)?;
        if let Some(b) = whiten.bias.take() {
            let trains = epoch < self.whiten_bias_epochs;
            whiten.bias = Some(if trains { b.detach().with_grad() } else { b.detach() });
        }
        Ok(())
    }
}

/// The BatchNorm biases of fastcnn (`2.norm1.bias`, …): the ones the recipe's multiplier speeds up.
pub fn is_norm_bias(name: &str) -> bool {
    name.ends_with(".bias") && name.rsplit('.').nth(1).is_some_and(|layer| layer.starts_with("norm"))
}

fn sequential(model: &mut Model) -> Result<&mut Sequential> {
    let arch = model.arch;
    model.net.as_any_mut().downcast_mut::<Sequential>().ok_or_else(|| Error::msg(format!("{arch} is not fastcnn")))
}

fn first_conv(net: &mut Sequential) -> Result<&mut Conv2d> {
    let first = net.layers.first_mut().ok_or_else(|| Error::msg("empty network"))?;
    first.as_any_mut().downcast_mut::<Conv2d>().ok_or_else(|| Error::msg("fastcnn's layer 0 is not a convolution"))
}
