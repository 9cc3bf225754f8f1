//! Training with attention separability (`--attention-separability λ`): the forward pass that keeps the last feature maps in the graph, and the loss term λ·L_AS.

use crate::explain::separability::{attention_separability, most_confusing};
use crate::models::{Arch, Model};
use crate::nn::{Linear, Module};
use crate::Tensor;

/// Whether `arch` can train with attention separability: a chain of layers
/// ending in GAP and one Linear layer (smallcnn).
pub fn supports(arch: Arch) -> bool {
    arch == Arch::SmallCnn
}

// ANCHOR: sharpen_forward
/// The class scores of the batch `x`, and λ·L_AS for its `labels`: the
/// forward pass hands over the feature layer's output on its way, still a
/// node of the graph, so the loss reaches the convolutions and the class weights.
pub fn forward_with_separability(model: &mut Model, x: &Tensor, labels: &[usize], lambda: f64) -> (Tensor, Tensor) {
    let feature_layer = model.arch.feature_layer();
    let mut features = None;
    let scores = model.forward_inspect(x, "", &mut |name, y| {
        if name == feature_layer {
            features = Some(y.clone());
        }
        y
    });
    let chain = model.net.as_sequential().expect("smallcnn is a chain of layers");
    let head = chain.layers.last_mut().and_then(|l| l.as_any_mut().downcast_mut::<Linear>());
    let class_weights = &head.expect("smallcnn ends in a Linear layer").weight;
    let confusing = most_confusing(scores.data(), class_weights.shape()[0], labels);
    let features = features.expect("the feature layer is part of the network");
    let separability = attention_separability(&features, class_weights, labels, &confusing);
    (scores, separability.mul_scalar(lambda))
}
// ANCHOR_END: sharpen_forward
