//! Reference solution of the lab "Grad-CAM and its descendants" (part two): Grad-CAM++'s weights and Smooth Grad-CAM++'s averaged derivatives.

/// `[g, g², g³]`.
pub fn derivative_powers(gradients: &[f32]) -> [Vec<f32>; 3] {
    let first = gradients.to_vec();
    let second = gradients.iter().map(|g| g * g).collect();
    let third = gradients.iter().map(|g| g * g * g).collect();
    [first, second, third]
}

/// Each power averaged over the copies: the mean of g³, not the cube of the mean.
pub fn averaged_powers(gradients: &[Vec<f32>]) -> [Vec<f32>; 3] {
    let n = gradients.len() as f32;
    let mean_of = |power: i32| -> Vec<f32> {
        (0..gradients[0].len()).map(|i| gradients.iter().map(|g| g[i].powi(power)).sum::<f32>() / n).collect()
    };
    [mean_of(1), mean_of(2), mean_of(3)]
}

/// x + σ·z, σ = noise·(max − min).
pub fn noisy_copy(x: &[f32], noise: f32, standard_normal: &mut dyn FnMut() -> f32) -> Vec<f32> {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let min = x.iter().copied().fold(f32::INFINITY, f32::min);
    let sigma = noise * (max - min);
    x.iter().map(|&v| v + sigma * standard_normal()).collect()
}

/// w_k = Σ_ij g²/(2g² + S_k g³) · ReLU(g), S_k = Σ_ab A^k_ab.
pub fn gradcam_pp_weights(
    feature_maps: &[f32],
    first: &[f32],
    second: &[f32],
    third: &[f32],
    (h, w): (usize, usize),
) -> Vec<f32> {
    let plane = h * w;
    let mut weights = Vec::new();
    for (k, a_k) in feature_maps.chunks_exact(plane).enumerate() {
        let sum_a: f32 = a_k.iter().sum();
        let mut w_k = 0.0;
        for ij in k * plane..(k + 1) * plane {
            let denominator = 2.0 * second[ij] + sum_a * third[ij];
            if first[ij] != 0.0 && denominator != 0.0 {
                w_k += second[ij] / denominator * first[ij].max(0.0);
            }
        }
        weights.push(w_k);
    }
    weights
}
