//! Lab "Perception visualization": SSIM of one image pair by its definition, and the PV composition.
//!
//! Replace each `todo!`, then run `cargo lab perception`.
#![allow(unused_variables)]

// ANCHOR: task
/// The 1-D Gaussian taps g_i ∝ exp(−(i − r)²/(2σ²)), i = 0 … size−1,
/// r = (size − 1)/2, normalised to sum to 1.
pub fn gaussian_taps(size: usize, sigma: f32) -> Vec<f32> {
    todo!("exp of minus the squared distance from the middle, then divide by the sum")
}

/// The mean SSIM of two single-channel `h`×`w` images (row-major, values in
/// [0, 1]) under a `size`×`size` Gaussian window with weights g_i·g_j, at
/// every position where the window fits inside the image:
///
///   SSIM = (2 μ_x μ_y + C₁)(2 σ_xy + C₂) / ((μ_x² + μ_y² + C₁)(σ_x² + σ_y² + C₂)),
///
/// μ the weighted means, σ² = weighted mean of the squares − μ²,
/// σ_xy = weighted mean of x·y − μ_x μ_y, C₁ = 0.01², C₂ = 0.03².
pub fn ssim(x: &[f32], y: &[f32], (h, w): (usize, usize), size: usize, sigma: f32) -> f32 {
    todo!("loop over window positions; in each, the five weighted sums")
}

/// Perception visualization of one image: PV = m ⊙ x̂ + (1 − m) ⊙ white, for
/// a reconstruction `recon` (CHW, values in [0, 1]) and a mask `mask` (H×W,
/// values in [0, 1]) shared by every channel. White is 1.
pub fn compose(recon: &[f32], mask: &[f32]) -> Vec<f32> {
    todo!("the mask has one value per pixel, the reconstruction one per pixel and channel")
}
// ANCHOR_END: task
