//! Layers without trainable parameters: activations, pooling, flatten, dropout, identity.

use super::{FieldHook, Module, ReceptiveField};
use crate::ops::pool::Pool2dConfig;
use crate::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::any::Any;

/// Implements the boilerplate part of `Module` for a stateless layer.
macro_rules! stateless {
    ($t:ty, |$s:ident, $x:ident| $body:expr, |$d:ident| $describe:expr) => {
        stateless!($t, |$s, $x| $body, |$d| $describe, |_f, field| field);
    };
    ($t:ty, |$s:ident, $x:ident| $body:expr, |$d:ident| $describe:expr, |$f:ident, $field:ident| $rf:expr) => {
        impl Module for $t {
            fn forward(&mut self, $x: &Tensor) -> Tensor {
                let $s = self;
                $body
            }
            fn receptive_field(&self, $field: ReceptiveField, name: &str, record: &mut FieldHook) -> ReceptiveField {
                let $f = self;
                let out = $rf;
                record(name, out);
                out
            }
            fn describe(&self) -> String {
                let $d = self;
                $describe
            }
            fn as_any_mut(&mut self) -> &mut dyn Any {
                self
            }
        }
    };
}

/// max(0, x).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReLU;
stateless!(ReLU, |_s, x| x.relu(), |_d| String::from("ReLU"));

/// x·Φ(x), Φ the standard normal CDF (PyTorch's `nn.GELU()`).
#[derive(Clone, Copy, Debug, Default)]
pub struct GELU;
stateless!(GELU, |_s, x| x.gelu(), |_d| String::from("GELU"));

/// c·x for a fixed c: a network's fixed output scale (no state, like the
/// `Mul(c)` module of the PyTorch reference).
#[derive(Clone, Copy, Debug)]
pub struct Scale(pub f64);
stateless!(Scale, |s, x| x.mul_scalar(s.0), |d| format!("Scale({})", d.0));

/// x for x > 0, αx otherwise.
#[derive(Clone, Copy, Debug)]
pub struct LeakyReLU(pub f64);
stateless!(LeakyReLU, |s, x| x.leaky_relu(s.0), |d| format!("LeakyReLU({})", d.0));

/// 1/(1 + e^(−x)), e.g. a decoder's last layer mapping to pixel values in (0, 1).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sigmoid;
stateless!(Sigmoid, |_s, x| x.sigmoid(), |_d| String::from("Sigmoid"));

/// How [`Upsample`] fills in the new pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpsampleMode {
    /// Each pixel repeated (PyTorch's `mode="nearest"`).
    Nearest,
    /// Bilinear interpolation (`mode="bilinear", align_corners=False`).
    Bilinear,
}

/// Resizing feature maps by an integer factor (PyTorch's `nn.Upsample(scale_factor=…)`).
#[derive(Clone, Copy, Debug)]
pub struct Upsample {
    /// Output size = input size × this.
    pub factor: usize,
    /// Nearest or bilinear.
    pub mode: UpsampleMode,
}
stateless!(
    Upsample,
    |s, x| {
        let size = (x.shape()[2] * s.factor, x.shape()[3] * s.factor);
        match s.mode {
            UpsampleMode::Nearest => x.upsample_nearest(size),
            UpsampleMode::Bilinear => x.upsample_bilinear(size),
        }
    },
    |d| format!("Upsample(×{}, {:?})", d.factor, d.mode)
);

/// Max pooling over windows.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d(pub Pool2dConfig);
stateless!(
    MaxPool2d,
    |s, x| x.max_pool2d(s.0),
    |d| format!("MaxPool2d({}x{})", d.0.kernel.0, d.0.kernel.1),
    |p, field| { field.window(p.0.kernel, p.0.stride, p.0.padding, (1, 1)) }
);

/// Average pooling over windows.
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d(pub Pool2dConfig);
stateless!(
    AvgPool2d,
    |s, x| x.avg_pool2d(s.0),
    |d| format!("AvgPool2d({}x{})", d.0.kernel.0, d.0.kernel.1),
    |p, field| { field.window(p.0.kernel, p.0.stride, p.0.padding, (1, 1)) }
);

/// Global average pooling `[N, C, H, W] → [N, C, 1, 1]` (PyTorch: `AdaptiveAvgPool2d(1)`).
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalAvgPool;
stateless!(GlobalAvgPool, |_s, x| x.global_avg_pool2d(), |_d| String::from("GlobalAvgPool"), |_p, field| {
    field.whole_image()
});

/// Global max pooling `[N, C, H, W] → [N, C, 1, 1]` (PyTorch: `AdaptiveMaxPool2d(1)`).
#[derive(Clone, Copy, Debug, Default)]
pub struct GlobalMaxPool;
stateless!(GlobalMaxPool, |_s, x| x.global_max_pool2d(), |_d| String::from("GlobalMaxPool"), |_p, field| {
    field.whole_image()
});

/// `[N, …] → [N, product of the rest]`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Flatten;
stateless!(Flatten, |_s, x| x.flatten(1), |_d| String::from("Flatten"));

/// Passes its input through (what a folded BatchNorm becomes).
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;
stateless!(Identity, |_s, x| x.clone(), |_d| String::from("Identity"));

/// Inverted dropout with probability `p`, active in training mode only.
#[derive(Clone)]
pub struct Dropout {
    p: f64,
    rng: StdRng,
    training: bool,
}

impl Dropout {
    /// Dropout with probability `p`; masks are drawn from `seed`.
    pub fn new(p: f64, seed: u64) -> Self {
        assert!((0.0..1.0).contains(&p), "Dropout: p = {p} must be in [0, 1)");
        Dropout { p, rng: StdRng::seed_from_u64(seed), training: true }
    }
}

impl Module for Dropout {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        if self.training && self.p > 0.0 {
            x.dropout(self.p, self.rng.random())
        } else {
            x.clone()
        }
    }
    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
    fn describe(&self) -> String {
        format!("Dropout({})", self.p)
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
