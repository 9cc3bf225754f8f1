//! Training with attention separability (`--attention-separability λ`): the forward pass that keeps the last feature maps in the graph, and the loss term λ·L_AS.

use crate::explain::separability::{attention_separability, most_confusing};
use crate::models::{Arch, Model};
use crate::nn::Linear;
use crate::Tensor;

/// Whether `arch` can train with attention separability: a chain of layers
/// ending in GAP and one Linear layer (smallcnn).
pub fn supports(arch: Arch) -> bool {
    arch == Arch::SmallCnn
}

// ANCHOR: sharpen_forward
/// The class scores of the batch `x`, and λ·L_AS for its `labels`: the
/// layers run one by one so that the feature layer's output stays a node of
/// the graph, and the loss reaches the convolutions and the class weights.
pub fn forward_with_separability(model: &mut Model, x: &Tensor, labels: &[usize], lambda: f64) -> (Tensor, Tensor) {
    let feature_layer: usize = model.arch.feature_layer().parse().expect("smallcnn names its layers by index");
    let chain = model.net.as_sequential().expect("smallcnn is a chain of layers");
    let mut features = None;
    let mut h = x.clone();
    for (i, layer) in chain.layers.iter_mut().enumerate() {
        h = layer.forward(&h);
        if i == feature_layer {
            features = Some(h.clone());
        }
    }
    let head = chain.layers.last_mut().and_then(|l| l.as_any_mut().downcast_mut::<Linear>());
    let class_weights = &head.expect("smallcnn ends in a Linear layer").weight;
    let confusing = most_confusing(h.data(), class_weights.shape()[0], labels);
    let features = features.expect("the feature layer is part of the chain");
    let separability = attention_separability(&features, class_weights, labels, &confusing);
    (h, separability.mul_scalar(lambda))
}
// ANCHOR_END: sharpen_forward
