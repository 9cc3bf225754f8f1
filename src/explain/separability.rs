//! Attention separability ("Sharpen focus", Wang et al., ICCV 2019): a training loss that pulls apart the maps of the true class and of the most confusing one.
//!
//! On a network ending in GAP and one Linear layer, Grad-CAM at the last
//! convolutional layer is exactly ReLU(M_c)/Z (chapter *Grad-CAM*), so the
//! attention maps A^c = ReLU(Σ_k w_k^c f_k) are ordinary graph ops of the
//! feature maps and the class weights, and their overlap can be trained
//! down with first derivatives alone (the paper's maps at inner layers need
//! the gradient of a gradient).

use crate::tensor::{Element, Tensor};

// ANCHOR: separability
/// L_AS = (1/N) Σ_n 2·Σ_ij min(A^T_ij, A^C_ij) / Σ_ij (A^T_ij + A^C_ij), with
/// A^c = ReLU(Σ_k w_k^c f_k) for image n's true class T = `target[n]` and
/// its most confusing class C = `confusing[n]`. 0 when the two maps never
/// overlap, 1 when they are equal; `feature_maps` is `[N, K, h, w]`,
/// `class_weights` `[classes, K]` (the Linear layer's weight). Both take
/// gradients; min(a, b) is written (a + b − |a − b|)/2.
pub fn attention_separability<E: Element>(
    feature_maps: &Tensor<E>,
    class_weights: &Tensor<E>,
    target: &[usize],
    confusing: &[usize],
) -> Tensor<E> {
    let (n, k, h, w) = feature_maps.dims4("attention_separability");
    let classes = class_weights.shape()[0];
    assert!(
        target.len() == n && confusing.len() == n && class_weights.shape() == [classes, k],
        "attention_separability: {n} images, {} targets, {} confusing classes, class weights {:?} for {k} maps",
        target.len(),
        confusing.len(),
        class_weights.shape()
    );
    let maps = feature_maps.reshape(&[n, k, h * w]);
    let attention = |chosen: &[usize]| {
        let mut one_hot = vec![E::from_f64(0.0); n * classes];
        chosen.iter().enumerate().for_each(|(i, &c)| one_hot[i * classes + c] = E::from_f64(1.0));
        let weights = Tensor::from_vec(one_hot, &[n, classes]).matmul(class_weights).reshape(&[n, k, 1]);
        weights.mul(&maps).sum_axes(&[1], false).relu() // [N, hw]
    };
    let (a_t, a_c) = (attention(target), attention(confusing));
    let both = a_t.add(&a_c);
    let twice_min = both.sub(&a_t.sub(&a_c).abs());
    let ratio = twice_min.sum_axes(&[1], false).div(&both.sum_axes(&[1], false).add_scalar(1e-12));
    ratio.mean()
}
// ANCHOR_END: separability

/// The most confusing class of each image: the highest score other than the true class's.
pub fn most_confusing(scores: &[f32], classes: usize, target: &[usize]) -> Vec<usize> {
    let rows = scores.chunks_exact(classes).zip(target);
    rows.map(|(row, &t)| {
        let others = (0..classes).filter(|&c| c != t);
        others.max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a))).unwrap_or(t)
    })
    .collect()
}
