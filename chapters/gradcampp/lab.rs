//! Lab "Grad-CAM and its descendants" (part two): Grad-CAM++'s weights from first derivatives, and Smooth Grad-CAM++'s averaged derivatives.
//!
//! Replace each `todo!`, then run `cargo lab gradcampp`.
#![allow(unused_variables)]

// ANCHOR: task
/// The derivative terms Grad-CAM++ needs from one image's gradient
/// g = ∂y^c/∂A (`[K, h, w]` flattened): `[g, g², g³]`, element by element.
pub fn derivative_powers(gradients: &[f32]) -> [Vec<f32>; 3] {
    todo!("three vectors shaped like the gradient")
}

/// Smooth Grad-CAM++'s terms: the averages of g, g² and g³ over the
/// gradients of n noisy copies of the image (`gradients[s]` is copy s's
/// `[K, h, w]`): `[mean g, mean g², mean g³]`, each averaged separately.
pub fn averaged_powers(gradients: &[Vec<f32>]) -> [Vec<f32>; 3] {
    todo!("average each power over the copies")
}

/// A noisy copy x + ε of one image, ε ~ N(0, σ²) independently per value,
/// with σ = `noise`·(max(x) − min(x)). `standard_normal` draws one N(0, 1)
/// value per call; call it once per value of x, in order.
pub fn noisy_copy(x: &[f32], noise: f32, standard_normal: &mut dyn FnMut() -> f32) -> Vec<f32> {
    todo!("scale the draws by σ and add them")
}

/// Grad-CAM++'s weights of one image under the exponential assumption
/// (Chattopadhay et al., eq. 19), from `feature_maps` A (`[K, h, w]`) and
/// the terms `first`, `second`, `third` (g, g², g³, or their averages):
///
/// a^k_ij = g²_ij / (2·g²_ij + Σ_ab A^k_ab · g³_ij),   w_k = Σ_ij a^k_ij · ReLU(g_ij),
///
/// with a^k_ij = 0 where g_ij = 0 or the denominator is 0.
pub fn gradcam_pp_weights(
    feature_maps: &[f32],
    first: &[f32],
    second: &[f32],
    third: &[f32],
    (h, w): (usize, usize),
) -> Vec<f32> {
    todo!("one weight per map k")
}
// ANCHOR_END: task
