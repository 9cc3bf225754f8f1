//! Lab "RISE and perturbation methods": saliency as the average of random masks, each weighted by the class probability the network gives the image it lets through.
//!
//! Replace each `todo!`, then run `cargo lab rise`.
#![allow(unused_variables)]

use cnnlab::nn::Module;
use cnnlab::Tensor;

// ANCHOR: task
/// The image seen through a mask: every channel of the CHW `image`
/// (`channels` planes of h·w values) multiplied pixel by pixel by the h·w
/// `mask`.
pub fn masked(image: &[f32], mask: &[f32], channels: usize) -> Vec<f32> {
    todo!("one product per value; the mask is the same for every channel")
}

/// RISE's estimator, given the masks M_i and the scores f_i = f_c(x ⊙ M_i):
/// S = 1/(N·p) · Σ_i f_i · M_i, with N masks each keeping a pixel with
/// probability p (`keep`).
pub fn saliency(masks: &[Vec<f32>], scores: &[f32], keep: f32) -> Vec<f32> {
    todo!("a weighted sum of the masks, then the scale")
}

/// RISE for one normalised image `x` (`[1, C, H, W]`) and class `class`:
/// the masked images go through `model` (evaluation mode is set already)
/// in batches of at most `batch`, f_i is the *softmax probability* of
/// `class`, and the result is [`saliency`] of the masks at H·W.
pub fn rise(model: &mut dyn Module, x: &Tensor, masks: &[Vec<f32>], class: usize, keep: f32, batch: usize) -> Vec<f32> {
    todo!("stack masked copies into a batch, forward, softmax, read column `class`")
}
// ANCHOR_END: task
