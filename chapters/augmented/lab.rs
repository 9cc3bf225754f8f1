//! Lab "Augmented Grad-CAM": the pieces of its super-resolution problem — block downsampling D and its adjoint Dᵀ, total variation and a subgradient of it.
//!
//! Replace each `todo!`, then run `cargo lab augmented`.
#![allow(unused_variables)]

// ANCHOR: task
/// D: the mean of each `factor`×`factor` block of an `height`×`width` map
/// (both divisible by `factor`), giving a (height/factor)×(width/factor) map.
pub fn downsample(h: &[f32], (height, width): (usize, usize), factor: usize) -> Vec<f32> {
    todo!("sum each block, divide by factor²")
}

/// Dᵀ, the adjoint of [`downsample`]: the map of `height`×`width` for which
/// ⟨D h, g⟩ = ⟨h, Dᵀ g⟩ for every h. Work out what that means for one block.
pub fn downsample_adjoint(g: &[f32], (height, width): (usize, usize), factor: usize) -> Vec<f32> {
    todo!("every pixel of a block gets its low-resolution value, scaled")
}

/// Anisotropic total variation:
/// TV(h) = Σ |h(y, x+1) − h(y, x)| + Σ |h(y+1, x) − h(y, x)|,
/// over all horizontal and all vertical neighbour pairs.
pub fn total_variation(h: &[f32], (height, width): (usize, usize)) -> f32 {
    todo!("the absolute differences of all neighbour pairs")
}

/// A subgradient s of TV at h: a vector with TV(h′) ≥ TV(h) + ⟨s, h′ − h⟩
/// for every h′. Where no difference is zero, TV is differentiable and s is
/// its gradient; at a zero difference any slope in [−1, 1] will do.
pub fn total_variation_subgradient(h: &[f32], (height, width): (usize, usize)) -> Vec<f32> {
    todo!("each pair contributes the derivative of its |h_b − h_a| to both pixels")
}
// ANCHOR_END: task
