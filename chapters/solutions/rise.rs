//! Reference solution of the lab "RISE and perturbation methods": masked images, the weighted average of masks, RISE through a model.

use cnnlab::nn::Module;
use cnnlab::{no_grad, Tensor};

/// x ⊙ M, the mask applied to every channel.
pub fn masked(image: &[f32], mask: &[f32], channels: usize) -> Vec<f32> {
    let plane = mask.len();
    image[..channels * plane].chunks_exact(plane).flat_map(|p| p.iter().zip(mask).map(|(v, m)| v * m)).collect()
}

/// S = 1/(N·p) Σ_i f_i M_i.
pub fn saliency(masks: &[Vec<f32>], scores: &[f32], keep: f32) -> Vec<f32> {
    let mut s = vec![0f32; masks.first().map_or(0, Vec::len)];
    for (mask, &f) in masks.iter().zip(scores) {
        for (s, &m) in s.iter_mut().zip(mask) {
            *s += f * m;
        }
    }
    let scale = 1.0 / (masks.len() as f32 * keep);
    s.iter().map(|v| v * scale).collect()
}

/// f_c(x ⊙ M_i) for every mask, in batches, then the estimator.
pub fn rise(model: &mut dyn Module, x: &Tensor, masks: &[Vec<f32>], class: usize, keep: f32, batch: usize) -> Vec<f32> {
    let [_, c, h, w] = x.shape() else { panic!("rise: x must be [1, C, H, W], got {:?}", x.shape()) };
    let mut scores = Vec::with_capacity(masks.len());
    for chunk in masks.chunks(batch.max(1)) {
        let images: Vec<f32> = chunk.iter().flat_map(|m| masked(x.data(), m, *c)).collect();
        let probs = no_grad(|| model.forward(&Tensor::from_vec(images, &[chunk.len(), *c, *h, *w])).softmax(1));
        let classes = probs.shape()[1];
        scores.extend(probs.data().chunks_exact(classes).map(|row| row[class]));
    }
    saliency(masks, &scores, keep)
}
