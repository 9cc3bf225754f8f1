//! Reference solution of the lab "GAP and CAM": the class activation map, the score it adds up to, its normalisation.

/// M_c(x, y) = Σ_k w_k^c · f_k(x, y).
pub fn class_activation_map(feature_maps: &[f32], class_weights: &[f32], (h, w): (usize, usize)) -> Vec<f32> {
    let mut map = vec![0.0; h * w];
    for (f_k, &w_kc) in feature_maps.chunks_exact(h * w).zip(class_weights) {
        for (m, &f) in map.iter_mut().zip(f_k) {
            *m += w_kc * f;
        }
    }
    map
}

/// S_c = b_c + Σ_k w_k^c (1/Z) Σ_xy f_k(x, y) = b_c + (1/Z) Σ_xy M_c(x, y).
pub fn score_from_map(map: &[f32], bias: f32) -> f32 {
    bias + map.iter().sum::<f32>() / map.len() as f32
}

/// (M − min)/(max − min), or zeros for a constant map.
pub fn normalized(map: &[f32]) -> Vec<f32> {
    let lo = map.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = map.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if hi > lo {
        map.iter().map(|&m| (m - lo) / (hi - lo)).collect()
    } else {
        vec![0.0; map.len()]
    }
}
