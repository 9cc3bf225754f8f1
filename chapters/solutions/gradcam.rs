//! Reference solution of the lab "Grad-CAM and its descendants": class gradients at a layer, Grad-CAM's weights and map.

use cnnlab::explain::capture::Capture;
use cnnlab::Tensor;

/// One backward pass of the scores, seeded with 1 at (n, c_n) and 0 elsewhere.
pub fn class_gradients(captured: &Capture, classes: &[usize]) -> Tensor {
    let [n, k] = captured.logits.shape() else { panic!("scores must be [N, classes]") };
    let mut seed = vec![0f32; n * k];
    for (image, &c) in classes.iter().enumerate() {
        seed[image * k + c] = 1.0;
    }
    let grads = captured.logits.backward_with(&Tensor::from_vec(seed, &[*n, *k]));
    grads.wrt(&captured.feature_maps).clone()
}

/// α_k = mean of map k's gradient.
pub fn gradcam_weights(gradients: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
    gradients.chunks_exact(h * w).map(|g_k| g_k.iter().sum::<f32>() / (h * w) as f32).collect()
}

/// ReLU(Σ_k α_k A^k).
pub fn gradcam_map(feature_maps: &[f32], weights: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
    let mut map = vec![0f32; h * w];
    for (a_k, &alpha) in feature_maps.chunks_exact(h * w).zip(weights) {
        for (m, &a) in map.iter_mut().zip(a_k) {
            *m += alpha * a;
        }
    }
    map.iter().map(|&m| m.max(0.0)).collect()
}
