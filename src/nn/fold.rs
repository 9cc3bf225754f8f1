//! Folding a BatchNorm into the convolution before it, for inference.
//!
//! In evaluation mode BN is the per-channel affine map y = s·z + (β − s·μ)
//! with s = γ/√(σ² + ε). Applied to a convolution's output z = W∗x + b it
//! gives another convolution:
//!
//! ```text
//! W'[o] = s[o] · W[o]          b'[o] = s[o] · (b[o] − μ[o]) + β[o]
//! ```
//!
//! so the folded network does the same work with one layer fewer.

use super::{BatchNorm, Conv2d, Identity, Sequential};
use crate::Tensor;

// ANCHOR: fold
/// Replaces every Conv2d → BatchNorm2d pair of `model` by the folded Conv2d
/// (with bias) followed by an [`Identity`], so layer indices do not change.
/// Returns how many pairs were folded. Only meaningful in evaluation mode.
pub fn fold_batchnorm(model: &mut Sequential) -> usize {
    let mut folded = 0;
    for i in 1..model.layers.len() {
        let (before, after) = model.layers.split_at_mut(i);
        let conv = before[i - 1].as_any_mut().downcast_mut::<Conv2d>();
        let bn = after[0].as_any_mut().downcast_mut::<BatchNorm>();
        if let (Some(conv), Some(bn)) = (conv, bn) {
            fold_pair(conv, bn);
            model.layers[i] = Box::new(Identity);
            folded += 1;
        }
    }
    folded
}

/// W' = s·W, b' = s·(b − μ) + β with s = γ/√(σ² + ε), per output channel.
fn fold_pair(conv: &mut Conv2d, bn: &BatchNorm) {
    let c_out = conv.weight.shape()[0];
    let per_channel = conv.weight.numel() / c_out;
    let scale: Vec<f64> =
        (0..c_out).map(|o| bn.gamma.data()[o] as f64 / (bn.running_var.data()[o] as f64 + bn.eps).sqrt()).collect();
    let weight: Vec<f32> =
        conv.weight.data().iter().enumerate().map(|(i, &w)| (w as f64 * scale[i / per_channel]) as f32).collect();
    let old_bias = conv.bias.as_ref().map(|b| b.to_vec()).unwrap_or(vec![0.0; c_out]);
    let bias: Vec<f32> = (0..c_out)
        .map(|o| (scale[o] * (old_bias[o] as f64 - bn.running_mean.data()[o] as f64) + bn.beta.data()[o] as f64) as f32)
        .collect();
    conv.weight = Tensor::from_vec(weight, conv.weight.shape()).with_grad();
    conv.bias = Some(Tensor::from_vec(bias, &[c_out]).with_grad());
}
// ANCHOR_END: fold
