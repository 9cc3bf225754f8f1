//! Lab "GAP and CAM" (part two): global max pooling as a graph node with its backward pass, the peaks it reads, and the class score of a GMP network.
//!
//! Replace each `todo!`, then run `cargo lab gmp`. Do the `cam` lab first.
#![allow(unused_variables)]

use cnnlab::Tensor;

// ANCHOR: task
/// Global max pooling as one graph node called `"global_max_pool"`:
/// x `[N, C, H, W]` → F `[N, C, 1, 1]`, F_nk = max_xy x_nk(x, y).
///
/// Backward: ∂L/∂F_nk goes to the position of map (n, k) that holds its
/// maximum — the first such position in row-major order when several tie —
/// and every other position gets 0.
pub fn global_max_pool(x: &Tensor<f64>) -> Tensor<f64> {
    todo!("the maxima and where they are, then Tensor::from_op(\"global_max_pool\", …)")
}

/// The row-major position p_k of the (first) maximum of each of one
/// image's maps (`feature_maps` `[K, h, w]` flattened): the only pixel of
/// map k that a GMP network's score, and its gradient, depend on.
pub fn peak_positions(feature_maps: &[f32], (h, w): (usize, usize)) -> Vec<usize> {
    todo!("one position per map")
}

/// The class score of a network ending in GMP and one Linear layer:
/// S_c = b_c + Σ_k w_k^c · f_k(p_k), from one image's maps, the class
/// weights w^c (`[K]`) and the bias b_c.
pub fn gmp_score(feature_maps: &[f32], class_weights: &[f32], bias: f32, (h, w): (usize, usize)) -> f32 {
    todo!("the weighted sum of the maps' maxima, plus the bias")
}
// ANCHOR_END: task
