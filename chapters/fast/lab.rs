//! Lab "Training fast": the patch covariance and the whitening filters of the frozen first layer, and look-ahead weight averaging.
//!
//! Replace each `todo!`, then run `cargo lab fast`.
#![allow(unused_variables)]

// ANCHOR: task
/// Σ = (1/P) Σ_p p pᵀ, the uncentred covariance of every k×k patch (stride
/// 1, no padding) of every image of `images` (`[n, c, h, w]`, NCHW), each
/// patch read as d = c·k·k values in the order (channel, row, column) of a
/// conv weight; P is the number of patches. Returns d×d values, row-major.
pub fn patch_covariance(images: &[f32], [n, c, h, w]: [usize; 4], k: usize) -> Vec<f64> {
    todo!("accumulate p pᵀ over every patch, then divide by their number")
}

/// The 2d whitening filters from Σ's eigenvalues λ_j (descending) and unit
/// eigenvectors v_j: v_j/√(max(λ_j, 0) + ε) for j = 1…d, then the same d
/// filters negated; flattened as a conv weight `[2d, d]`.
pub fn whitening_filters(eigenvalues: &[f64], eigenvectors: &[Vec<f64>], eps: f64) -> Vec<f32> {
    todo!("scale each eigenvector, then append the negatives")
}

/// Look-ahead's decay after `t` of `total` steps: α = 0.95⁵·(t/total)³.
pub fn lookahead_alpha(t: usize, total: usize) -> f64 {
    todo!("small early, 0.95⁵ at the end")
}

/// One look-ahead average, in place: a ← α·a + (1 − α)·w, then w ← a (in f32,
/// with α and 1 − α rounded to f32 first).
pub fn lookahead_average(average: &mut [f32], weights: &mut [f32], alpha: f64) {
    todo!("move the average towards the weights, then the weights onto it")
}
// ANCHOR_END: task
