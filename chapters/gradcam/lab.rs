//! Lab "Grad-CAM and its descendants": ∂y^c/∂A for a captured layer, Grad-CAM's weights α_k^c, and the map ReLU(Σ_k α_k^c A^k).
//!
//! Replace each `todo!`, then run `cargo lab gradcam`.
#![allow(unused_variables)]

use cnnlab::explain::capture::Capture;
use cnnlab::Tensor;

// ANCHOR: task
/// ∂y^{c_n}/∂A for every image n of a batch, where `captured` holds the
/// class scores y (`[N, classes]`) and the layer's feature maps A
/// (`[N, K, h, w]`, a leaf of the graph that requires gradients), and
/// `classes[n]` is the class to explain for image n. Returns a tensor
/// shaped like A.
///
/// One backward pass does it: in evaluation mode the images do not
/// interact, so ∂(Σ_n y^{c_n}_n)/∂A_n = ∂y^{c_n}_n/∂A_n.
pub fn class_gradients(captured: &Capture, classes: &[usize]) -> Tensor {
    todo!("seed the backward pass of the scores with a one-hot row per image, then read the gradient of A")
}

/// Grad-CAM's weights: α_k^c = (1/Z)·Σ_ij ∂y^c/∂A^k_ij, the gradient
/// averaged over the Z = h·w positions of map k. `gradients` is one image's
/// `[K, h, w]`, flattened.
pub fn gradcam_weights(gradients: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
    todo!("one average per map")
}

/// The Grad-CAM map L^c = ReLU(Σ_k α_k^c·A^k) of one image (`feature_maps`
/// `[K, h, w]` flattened), row-major `h`×`w`.
pub fn gradcam_map(feature_maps: &[f32], weights: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
    todo!("a weighted sum of the maps, then the positive part")
}
// ANCHOR_END: task
