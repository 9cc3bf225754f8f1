//! Grad-CAM (Selvaraju et al. 2017), Grad-CAM++ (Chattopadhay et al. 2018) and Smooth Grad-CAM++ (Omeiza et al. 2019).
//!
//! All three weight the feature maps A^k of a chosen layer and keep the
//! positive part: L^c = ReLU(Σ_k α_k^c A^k). They differ in the weights.

use super::cam::class_activation_map;
use super::capture::{capture, class_gradients, resolve_targets, Capture};
use super::Target;
use crate::io::Result;
use crate::nn::Module;
use crate::tensor::standard_normal;
use crate::viz::Map;
use crate::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Raw maps (at the layer's resolution), the class scores, and the target classes.
pub type Maps = (Vec<Map>, Tensor, Vec<usize>);

// ANCHOR: gradcam_weights
/// Grad-CAM's weights: α_k^c = (1/Z) Σ_ij ∂y^c/∂A^k_ij, the gradient
/// averaged over the Z = h·w positions of map k (`gradients` is `[K, h, w]`).
pub fn gradcam_weights(gradients: &[f32], plane: usize) -> Vec<f32> {
    gradients.chunks_exact(plane).map(|g_k| g_k.iter().sum::<f32>() / plane as f32).collect()
}
// ANCHOR_END: gradcam_weights

// ANCHOR: gradcam_pp_weights
/// Grad-CAM++'s weights under the exponential assumption Y^c = exp(y^c),
/// from first-order gradients g = ∂y^c/∂A alone (Chattopadhay et al., eq. 19):
///
/// a_ij^k = g_ij² / (2·g_ij² + Σ_ab A^k_ab · g_ij³),   w_k^c = Σ_ij a_ij^k · ReLU(g_ij).
///
/// Convention (as the reference implementation and pytorch-grad-cam): the
/// factor exp(y^c) that ∂Y^c/∂A carries is dropped, since it scales every
/// w_k alike and the map is normalised later; a_ij = 0 where g_ij = 0 or
/// the denominator vanishes. `first`, `second`, `third` hold g, g², g³ —
/// or, for Smooth Grad-CAM++, their averages over noisy inputs.
pub fn gradcam_pp_weights(
    feature_maps: &[f32],
    first: &[f32],
    second: &[f32],
    third: &[f32],
    plane: usize,
) -> Vec<f32> {
    let maps = feature_maps.chunks_exact(plane);
    let derivatives = first.chunks_exact(plane).zip(second.chunks_exact(plane)).zip(third.chunks_exact(plane));
    maps.zip(derivatives)
        .map(|(a_k, ((g1, g2), g3))| {
            let sum_a: f32 = a_k.iter().sum();
            let mut w_k = 0.0;
            for ij in 0..plane {
                let denominator = 2.0 * g2[ij] + sum_a * g3[ij];
                if g1[ij] != 0.0 && denominator != 0.0 {
                    w_k += g2[ij] / denominator * g1[ij].max(0.0);
                }
            }
            w_k
        })
        .collect()
}
// ANCHOR_END: gradcam_pp_weights

/// L^c = ReLU(Σ_k α_k A^k) for every image of a capture.
fn weighted_maps(captured: &Capture, weights: &[Vec<f32>]) -> Vec<Map> {
    let (_, k, h, w) = captured.feature_maps.dims4("gradcam");
    let images = captured.feature_maps.data().chunks_exact(k * h * w);
    images.zip(weights).map(|(a, alpha)| class_activation_map(a, alpha, (h, w)).relu()).collect()
}

/// Grad-CAM of layer `layer` for a batch `x`, for `class` or each image's top class.
///
/// # Errors
/// When the layer does not exist or has no feature maps, or `class` is out of range.
pub fn gradcam(model: &mut dyn Module, x: &Tensor, layer: &str, target: &Target) -> Result<Maps> {
    let captured = capture(model, x, layer)?;
    let targets = resolve_targets(&captured.logits, target)?;
    let gradients = class_gradients(&captured, &targets);
    let (_, k, h, w) = captured.feature_maps.dims4("gradcam");
    let weights: Vec<_> = gradients.data().chunks_exact(k * h * w).map(|g| gradcam_weights(g, h * w)).collect();
    Ok((weighted_maps(&captured, &weights), captured.logits, targets))
}

/// Grad-CAM++ of layer `layer` for a batch `x` (see [`gradcam_pp_weights`]).
///
/// # Errors
/// As [`gradcam`].
pub fn gradcam_pp(model: &mut dyn Module, x: &Tensor, layer: &str, target: &Target) -> Result<Maps> {
    let captured = capture(model, x, layer)?;
    let targets = resolve_targets(&captured.logits, target)?;
    let g = class_gradients(&captured, &targets).to_vec();
    let g2: Vec<f32> = g.iter().map(|v| v * v).collect();
    let g3: Vec<f32> = g.iter().map(|v| v * v * v).collect();
    Ok((pp_maps(&captured, &g, &g2, &g3), captured.logits, targets))
}

fn pp_maps(captured: &Capture, g1: &[f32], g2: &[f32], g3: &[f32]) -> Vec<Map> {
    let (n, k, h, w) = captured.feature_maps.dims4("gradcam++");
    let size = k * h * w;
    let a = captured.feature_maps.data();
    let weights: Vec<_> = (0..n)
        .map(|i| {
            let r = i * size..(i + 1) * size;
            gradcam_pp_weights(&a[r.clone()], &g1[r.clone()], &g2[r.clone()], &g3[r], h * w)
        })
        .collect();
    weighted_maps(captured, &weights)
}

/// Settings of Smooth Grad-CAM++.
#[derive(Clone, Copy, Debug)]
pub struct SmoothOptions {
    /// n: noisy copies per image (default 20).
    pub samples: usize,
    /// σ as a fraction of each image's value range max(x) − min(x) (default 0.15,
    /// SmoothGrad's recommendation of 10–20%).
    pub noise: f32,
    /// Seed of the noise.
    pub seed: u64,
}

impl Default for SmoothOptions {
    fn default() -> Self {
        SmoothOptions { samples: 20, noise: 0.15, seed: 0 }
    }
}

// ANCHOR: smooth
/// Smooth Grad-CAM++: the derivative terms g, g², g³ are averaged over n
/// copies x + ε, ε ~ N(0, σ²), then Grad-CAM++'s weights are formed from the
/// averages (Omeiza et al., eqs. 6–8) and applied to the clean image's maps.
///
/// # Errors
/// As [`gradcam`].
pub fn smooth_gradcam_pp(
    model: &mut dyn Module,
    x: &Tensor,
    layer: &str,
    target: &Target,
    opts: SmoothOptions,
) -> Result<Maps> {
    let clean = capture(model, x, layer)?;
    let targets = resolve_targets(&clean.logits, target)?;
    let size = clean.feature_maps.numel();
    let (mut d1, mut d2, mut d3) = (vec![0f32; size], vec![0f32; size], vec![0f32; size]);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    for _ in 0..opts.samples {
        let noisy = add_noise(x, opts.noise, &mut rng);
        let g = class_gradients(&capture(model, &noisy, layer)?, &targets);
        for (i, &v) in g.data().iter().enumerate() {
            (d1[i], d2[i], d3[i]) = (d1[i] + v, d2[i] + v * v, d3[i] + v * v * v);
        }
    }
    let n = opts.samples.max(1) as f32;
    [&mut d1, &mut d2, &mut d3].into_iter().for_each(|d| d.iter_mut().for_each(|v| *v /= n));
    Ok((pp_maps(&clean, &d1, &d2, &d3), clean.logits, targets))
}
// ANCHOR_END: smooth

/// x + ε with ε ~ N(0, σ²), σ = `spread` · (max − min) of each image.
fn add_noise(x: &Tensor, spread: f32, rng: &mut StdRng) -> Tensor {
    let n = x.shape()[0];
    let per_image = x.numel() / n.max(1);
    let mut values = x.to_vec();
    for image in values.chunks_exact_mut(per_image) {
        let (lo, hi) = image.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &v| (l.min(v), u.max(v)));
        let sigma = spread * (hi - lo);
        image.iter_mut().for_each(|v| *v += sigma * standard_normal(rng) as f32);
    }
    Tensor::from_vec(values, x.shape())
}
