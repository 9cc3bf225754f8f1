//! `fastcnn`: the network of the fast CIFAR-10 recipe, after Keller Jordan's airbench94.

use crate::nn::{init, BatchNorm, Conv2d, Flatten, GlobalMaxPool, Linear, MaxPool2d, Scale, Sequential, GELU};
use crate::{Conv2dConfig, Pool2dConfig};
use rand::Rng;

/// Side of the whitening layer's kernels.
pub const WHITEN_KERNEL: usize = 2;
/// The widths of the three conv groups.
pub const WIDTHS: [usize; 3] = [64, 256, 256];
/// The fixed scale of the logits (the Linear layer has no bias).
pub const LOGIT_SCALE: f64 = 1.0 / 9.0;
/// BatchNorm's momentum in PyTorch's convention (the newest batch weighs 0.4).
pub const BN_MOMENTUM: f64 = 0.4;
/// BatchNorm's ε.
pub const BN_EPS: f64 = 1e-12;

/// A 3×3 convolution (padding 1, no bias) drawn as PyTorch draws it, U(±1/√fan_in),
/// with its first min(out, in) filters set to the identity.
fn conv3x3(c_in: usize, c_out: usize, rng: &mut impl Rng) -> Conv2d {
    let mut conv = Conv2d::new(c_in, c_out, 3, Conv2dConfig::default().padding(1), false, rng);
    let bound = 1.0 / ((c_in * 9) as f64).sqrt();
    conv.weight = init::uniform(&[c_out, c_in, 3, 3], bound, rng);
    init::dirac(&mut conv.weight);
    conv.weight = conv.weight.with_grad();
    conv
}

/// BatchNorm2d with γ frozen at 1, momentum 0.4, ε 1e-12.
fn norm(channels: usize) -> BatchNorm {
    BatchNorm::new_2d(channels).with_momentum(BN_MOMENTUM).with_eps(BN_EPS).frozen_scale()
}

// ANCHOR: conv_group
/// conv3×3 → max-pool 2 → BN → GELU → conv3×3 → BN → GELU, with the names
/// of the reference's `ConvGroup` (so the state is `conv1.weight`,
/// `norm1.bias`, …); pooling right after the first conv makes the second
/// one four times cheaper.
fn conv_group(c_in: usize, c_out: usize, rng: &mut impl Rng) -> Sequential {
    Sequential::new()
        .push_named("conv1", conv3x3(c_in, c_out, rng))
        .push_named("pool", MaxPool2d(Pool2dConfig::new(2)))
        .push_named("norm1", norm(c_out))
        .push_named("gelu1", GELU)
        .push_named("conv2", conv3x3(c_out, c_out, rng))
        .push_named("norm2", norm(c_out))
        .push_named("gelu2", GELU)
}
// ANCHOR_END: conv_group

// ANCHOR: fastcnn
/// The fast recipe's network, layer for layer the `nn.Sequential` of
/// `book/reference/torch_fast94.py`: 0 a 2×2 convolution (no padding, with
/// bias) that the recipe sets to a whitening of the training patches and
/// freezes (2·C·2·2 = 24 channels for RGB), 1 GELU, 2–4 three conv groups of widths 64, 256, 256, 5 global
/// max-pooling (the reference's `MaxPool2d(3)` on its 3×3 maps), 6 Flatten,
/// 7 Linear without bias, 8 the fixed scale 1/9.
pub fn fastcnn(c_in: usize, classes: usize, rng: &mut impl Rng) -> Sequential {
    // the eigenvectors of the C·2·2 patch covariance and their negatives (24 for RGB)
    let whiten_width = 2 * c_in * WHITEN_KERNEL * WHITEN_KERNEL;
    let whiten = Conv2d::new(c_in, whiten_width, WHITEN_KERNEL, Conv2dConfig::default(), true, rng);
    let [w1, w2, w3] = WIDTHS;
    Sequential::new()
        .push(whiten)
        .push(GELU)
        .push(conv_group(whiten_width, w1, rng))
        .push(conv_group(w1, w2, rng))
        .push(conv_group(w2, w3, rng))
        .push(GlobalMaxPool)
        .push(Flatten)
        .push(Linear::without_bias(w3, classes, rng))
        .push(Scale(LOGIT_SCALE))
}
// ANCHOR_END: fastcnn
