//! Lab "GAP and CAM": the class activation map M_c = Σ_k w_k^c f_k, the class score it adds up to, and its normalisation for display.
//!
//! Replace each `todo!`, then run `cargo lab cam`.
#![allow(unused_variables)]

// ANCHOR: task
/// The class activation map of one image for class c:
/// M_c(x, y) = Σ_k w_k^c · f_k(x, y).
///
/// `feature_maps` holds the K feature maps f_k of the last convolutional
/// layer, `[K, h, w]` flattened; `class_weights` holds w_k^c for k = 1…K
/// (row c of the final Linear layer). Returns the `h`×`w` map, row-major.
pub fn class_activation_map(feature_maps: &[f32], class_weights: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
    todo!("a weighted sum of the K maps")
}

/// The class score S_c, computed from the class activation map alone: in a
/// network that ends in global average pooling and one Linear layer with
/// bias b_c, S_c = b_c + Σ_k w_k^c · (1/Z)·Σ_xy f_k(x, y). Rewrite it in
/// terms of M_c.
pub fn score_from_map(map: &[f32], bias: f32) -> f32 {
    todo!("swap the two sums")
}

/// Scales a map into [0, 1] for display: (M − min)/(max − min). A constant
/// map (max = min) has nothing to show: return all zeros rather than NaN.
pub fn normalized(map: &[f32]) -> Vec<f32> {
    todo!("find min and max, then rescale")
}
// ANCHOR_END: task
