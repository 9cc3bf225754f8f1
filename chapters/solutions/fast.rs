//! Reference solution of the lab "Training fast": patch covariance, whitening filters, look-ahead averaging.

/// Σ = (1/P) Σ p pᵀ over every k×k patch.
pub fn patch_covariance(images: &[f32], [n, c, h, w]: [usize; 4], k: usize) -> Vec<f64> {
    let d = c * k * k;
    let mut sum = vec![0f64; d * d];
    let mut patch = vec![0f64; d];
    for image in images.chunks_exact(c * h * w).take(n) {
        for y in 0..=h - k {
            for x in 0..=w - k {
                for (t, v) in patch.iter_mut().enumerate() {
                    let (ch, i, j) = (t / (k * k), t / k % k, t % k);
                    *v = f64::from(image[(ch * h + y + i) * w + x + j]);
                }
                for a in 0..d {
                    for b in 0..d {
                        sum[a * d + b] += patch[a] * patch[b];
                    }
                }
            }
        }
    }
    let patches = (n * (h - k + 1) * (w - k + 1)) as f64;
    sum.iter().map(|s| s / patches).collect()
}

/// v_j/√(max(λ_j, 0) + ε), then their negatives.
pub fn whitening_filters(eigenvalues: &[f64], eigenvectors: &[Vec<f64>], eps: f64) -> Vec<f32> {
    let mut filters = Vec::new();
    for sign in [1.0, -1.0] {
        for (&lambda, v) in eigenvalues.iter().zip(eigenvectors) {
            let scale = sign / (lambda.max(0.0) + eps).sqrt();
            filters.extend(v.iter().map(|&x| (x * scale) as f32));
        }
    }
    filters
}

/// α = 0.95⁵·(t/total)³.
pub fn lookahead_alpha(t: usize, total: usize) -> f64 {
    0.95f64.powi(5) * (t as f64 / total.max(1) as f64).powi(3)
}

/// a ← α·a + (1 − α)·w; w ← a.
pub fn lookahead_average(average: &mut [f32], weights: &mut [f32], alpha: f64) {
    let (alpha, keep) = (alpha as f32, 1.0 - alpha as f32);
    for (a, w) in average.iter_mut().zip(weights.iter_mut()) {
        *a = alpha * *a + keep * *w;
        *w = *a;
    }
}
