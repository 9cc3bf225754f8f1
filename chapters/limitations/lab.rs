//! Lab "Limitations of saliency": the images a model is least sure about, how alike two classes' maps are, and the map of the evidence for one class over another.
//!
//! Replace each `todo!`, then run `cargo lab limitations`.
#![allow(unused_variables)]

// ANCHOR: task
/// The most likely class and the runner-up of one image's class
/// probabilities; on a tie the lower class index comes first.
pub fn top_two(probabilities: &[f32]) -> (usize, usize) {
    todo!("the two largest, in order")
}

/// The `count` most ambiguous images of a batch (`probabilities` is
/// `[N, classes]`, row by row): the images whose runner-up class is most
/// likely, largest runner-up probability first (ties: lower image index first).
pub fn most_ambiguous(probabilities: &[f32], classes: usize, count: usize) -> Vec<usize> {
    todo!("rank the images by their runner-up's probability")
}

/// Pearson's correlation of two maps of as many values:
/// Σ (a − ā)(b − b̄) / √(Σ (a − ā)² · Σ (b − b̄)²), and 0 when either map is
/// constant (nothing to correlate).
pub fn correlation(a: &[f32], b: &[f32]) -> f32 {
    todo!("centre both maps, then covariance over the product of the spreads")
}

/// Where the evidence for class `c1` over class `c2` lies: the class
/// activation map of the logit difference y_c1 − y_c2 of a GAP network,
/// Σ_k (w_k^c1 − w_k^c2) f_k, from one image's maps (`[K, h, w]`) and the
/// two classes' weights. Row-major `h`×`w`.
pub fn contrast_map(feature_maps: &[f32], weights_c1: &[f32], weights_c2: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
    todo!("one weighted sum with the difference of the weights")
}
// ANCHOR_END: task
