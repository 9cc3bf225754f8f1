//! `smallcnn` (the reference network) and `vgg-fc` (the same convolutions, but fully connected layers instead of GAP).

use crate::nn::{
    BatchNorm, Conv2d, Dropout, Flatten, GlobalAvgPool, GlobalMaxPool, Linear, MaxPool2d, ReLU, Sequential,
};
use crate::{Conv2dConfig, Pool2dConfig};
use rand::Rng;

/// conv3x3 (pad 1, no bias) + BatchNorm2d + ReLU.
fn block(seq: Sequential, c_in: usize, c_out: usize, rng: &mut impl Rng) -> Sequential {
    seq.push(Conv2d::new(c_in, c_out, 3, Conv2dConfig::default().padding(1), false, rng))
        .push(BatchNorm::new_2d(c_out))
        .push(ReLU)
}

/// The six conv blocks and two max-pools shared by smallcnn and vgg-fc.
fn conv_stack(c_in: usize, rng: &mut impl Rng) -> Sequential {
    let s = block(Sequential::new(), c_in, 32, rng);
    let s = block(s, 32, 32, rng).push(MaxPool2d(Pool2dConfig::new(2)));
    let s = block(s, 32, 64, rng);
    let s = block(s, 64, 64, rng).push(MaxPool2d(Pool2dConfig::new(2)));
    let s = block(s, 64, 128, rng);
    block(s, 128, 128, rng)
}

// ANCHOR: smallcnn
/// The reference network, layer for layer the `nn.Sequential` of
/// `torch_smallcnn.py` (so state names run `0.weight` … `22.bias`):
/// 6 × (conv3x3-BN-ReLU) with max-pools after the 2nd and 4th, global pooling
/// (average, or max for the GMP variant), Flatten, Linear(128 → classes).
pub fn smallcnn(c_in: usize, classes: usize, gmp: bool, rng: &mut impl Rng) -> Sequential {
    let features = conv_stack(c_in, rng); // layers 0..=19; layer 19 is the last ReLU
    let pooled = if gmp { features.push(GlobalMaxPool) } else { features.push(GlobalAvgPool) };
    pooled.push(Flatten).push(Linear::new(128, classes, rng))
}
// ANCHOR_END: smallcnn

/// vgg-fc: `features` = the smallcnn convolutions plus a third max-pool;
/// `classifier` = Flatten, Linear(128·H/8·W/8 → 256), ReLU, Dropout(0.5),
/// Linear(256 → classes). No global pooling: CAM does not apply, Grad-CAM does.
pub fn vgg_fc(c_in: usize, classes: usize, (h, w): (usize, usize), rng: &mut impl Rng) -> Sequential {
    let features = conv_stack(c_in, rng).push(MaxPool2d(Pool2dConfig::new(2)));
    let flat = 128 * (h / 8) * (w / 8);
    let seed = rng.random();
    let classifier = Sequential::new()
        .push(Flatten)
        .push(Linear::new(flat, 256, rng))
        .push(ReLU)
        .push(Dropout::new(0.5, seed))
        .push(Linear::new(256, classes, rng));
    Sequential::new().push_named("features", features).push_named("classifier", classifier)
}
