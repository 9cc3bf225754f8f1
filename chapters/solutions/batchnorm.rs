//! Reference solution of the lab "Batch normalization": training forward and closed-form backward, running averages, evaluation mode.

/// The index range of channel `ch` of image `i` in a flat `[n, c, l]` slice.
fn plane(i: usize, ch: usize, (c, l): (usize, usize)) -> std::ops::Range<usize> {
    let start = (i * c + ch) * l;
    start..start + l
}

/// μ_c and the biased σ²_c of every channel.
fn statistics(x: &[f64], (n, c, l): (usize, usize, usize)) -> (Vec<f64>, Vec<f64>) {
    let m = (n * l) as f64;
    let values = |ch| (0..n).flat_map(move |i| x[plane(i, ch, (c, l))].iter().copied());
    let mean: Vec<f64> = (0..c).map(|ch| values(ch).sum::<f64>() / m).collect();
    let var = (0..c).map(|ch| values(ch).map(|v| (v - mean[ch]).powi(2)).sum::<f64>() / m).collect();
    (mean, var)
}

/// y = γ·(x − μ)/√(σ² + ε) + β, per channel.
fn affine(
    x: &[f64],
    (n, c, l): (usize, usize, usize),
    gamma: &[f64],
    beta: &[f64],
    mean: &[f64],
    var: &[f64],
    eps: f64,
) -> Vec<f64> {
    let mut y = vec![0.0; x.len()];
    for (i, ch) in (0..n).flat_map(|i| (0..c).map(move |ch| (i, ch))) {
        let inv_std = 1.0 / (var[ch] + eps).sqrt();
        for k in plane(i, ch, (c, l)) {
            y[k] = gamma[ch] * (x[k] - mean[ch]) * inv_std + beta[ch];
        }
    }
    y
}

/// (y, μ, σ²) with batch statistics.
pub fn forward_train(
    x: &[f64],
    dims: (usize, usize, usize),
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mean, var) = statistics(x, dims);
    (affine(x, dims, gamma, beta, &mean, &var, eps), mean, var)
}

/// With g = ∂L/∂y and x̂ the normalised input, per channel over its m values:
/// ∂L/∂β = Σ g, ∂L/∂γ = Σ g·x̂,
/// ∂L/∂x = γ/√(σ² + ε)·(g − (∂L/∂β)/m − x̂·(∂L/∂γ)/m).
pub fn backward(
    x: &[f64],
    dims @ (n, c, l): (usize, usize, usize),
    gamma: &[f64],
    eps: f64,
    grad_y: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mean, var) = statistics(x, dims);
    let inv_std: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let x_hat = |k: usize, ch: usize| (x[k] - mean[ch]) * inv_std[ch];
    let (mut d_gamma, mut d_beta) = (vec![0.0; c], vec![0.0; c]);
    for (i, ch) in (0..n).flat_map(|i| (0..c).map(move |ch| (i, ch))) {
        for k in plane(i, ch, (c, l)) {
            d_beta[ch] += grad_y[k];
            d_gamma[ch] += grad_y[k] * x_hat(k, ch);
        }
    }
    let m = (n * l) as f64;
    let mut dx = vec![0.0; x.len()];
    for (i, ch) in (0..n).flat_map(|i| (0..c).map(move |ch| (i, ch))) {
        for k in plane(i, ch, (c, l)) {
            dx[k] = gamma[ch] * inv_std[ch] * (grad_y[k] - d_beta[ch] / m - x_hat(k, ch) * d_gamma[ch] / m);
        }
    }
    (dx, d_gamma, d_beta)
}

/// running ← (1 − momentum)·running + momentum·batch, the variance unbiased by m/(m − 1).
pub fn update_running(
    running_mean: &mut [f64],
    running_var: &mut [f64],
    batch_mean: &[f64],
    batch_var: &[f64],
    count: usize,
    momentum: f64,
) {
    let unbias = count as f64 / (count as f64 - 1.0);
    for (r, &b) in running_mean.iter_mut().zip(batch_mean) {
        *r = (1.0 - momentum) * *r + momentum * b;
    }
    for (r, &b) in running_var.iter_mut().zip(batch_var) {
        *r = (1.0 - momentum) * *r + momentum * b * unbias;
    }
}

/// y = γ·(x − running_mean)/√(running_var + ε) + β.
pub fn forward_eval(
    x: &[f64],
    dims: (usize, usize, usize),
    gamma: &[f64],
    beta: &[f64],
    running_mean: &[f64],
    running_var: &[f64],
    eps: f64,
) -> Vec<f64> {
    affine(x, dims, gamma, beta, running_mean, running_var, eps)
}
