//! Reference solution of the lab "Limitations of saliency": the top two classes, the most ambiguous images, the correlation of two maps, the contrast map.

/// Class indices sorted by probability, largest first (stable: ties keep index order).
fn ranked(probabilities: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..probabilities.len()).collect();
    order.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    order
}

/// The first two of the ranking.
pub fn top_two(probabilities: &[f32]) -> (usize, usize) {
    let order = ranked(probabilities);
    (order[0], order[1])
}

/// Images ranked by their runner-up's probability.
pub fn most_ambiguous(probabilities: &[f32], classes: usize, count: usize) -> Vec<usize> {
    let runner_up: Vec<f32> = probabilities.chunks_exact(classes).map(|p| p[top_two(p).1]).collect();
    let mut images = ranked(&runner_up);
    images.truncate(count);
    images
}

/// Pearson's r, 0 for a constant map.
pub fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (mean_a, mean_b) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut cov, mut var_a, mut var_b) = (0f32, 0f32, 0f32);
    for (&x, &y) in a.iter().zip(b) {
        cov += (x - mean_a) * (y - mean_b);
        var_a += (x - mean_a) * (x - mean_a);
        var_b += (y - mean_b) * (y - mean_b);
    }
    if var_a == 0.0 || var_b == 0.0 {
        return 0.0;
    }
    cov / (var_a * var_b).sqrt()
}

/// Σ_k (w_k^c1 − w_k^c2) f_k.
pub fn contrast_map(feature_maps: &[f32], weights_c1: &[f32], weights_c2: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
    let mut map = vec![0f32; h * w];
    for ((f_k, &w1), &w2) in feature_maps.chunks_exact(h * w).zip(weights_c1).zip(weights_c2) {
        for (m, &f) in map.iter_mut().zip(f_k) {
            *m += (w1 - w2) * f;
        }
    }
    map
}
