//! Reference solution of the lab "GAP and CAM" (part two): global max pooling with its backward pass, the peaks, the GMP class score.

use cnnlab::Tensor;

/// Index of the first maximum of `values`.
fn first_max(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}

/// F_nk = max of map (n, k); the gradient goes to the first maximum.
pub fn global_max_pool(x: &Tensor<f64>) -> Tensor<f64> {
    let [n, c, h, w] = x.shape() else { panic!("global_max_pool: x must be [N, C, H, W], got {:?}", x.shape()) };
    let (n, c, plane) = (*n, *c, h * w);
    let peaks: Vec<usize> = x.data().chunks_exact(plane).map(first_max).collect();
    let maxima: Vec<f64> = x.data().chunks_exact(plane).zip(&peaks).map(|(map, &p)| map[p]).collect();
    let shape = x.shape().to_vec();
    Tensor::from_op("global_max_pool", maxima, &[n, c, 1, 1], &[x], move |grad_f| {
        let mut grad_x = vec![0.0; n * c * plane];
        for (map, (&p, &g)) in peaks.iter().zip(grad_f.data()).enumerate() {
            grad_x[map * plane + p] = g;
        }
        vec![Some(Tensor::from_vec(grad_x, &shape))]
    })
}

/// p_k = the first position of map k's maximum.
pub fn peak_positions(feature_maps: &[f32], (h, w): (usize, usize)) -> Vec<usize> {
    let widen = |map: &[f32]| map.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
    feature_maps.chunks_exact(h * w).map(|map| first_max(&widen(map))).collect()
}

/// S_c = b_c + Σ_k w_k^c·f_k(p_k).
pub fn gmp_score(feature_maps: &[f32], class_weights: &[f32], bias: f32, (h, w): (usize, usize)) -> f32 {
    let peaks = peak_positions(feature_maps, (h, w));
    let maps = feature_maps.chunks_exact(h * w).zip(peaks);
    bias + maps.zip(class_weights).map(|((map, p), &w_kc)| w_kc * map[p]).sum::<f32>()
}
