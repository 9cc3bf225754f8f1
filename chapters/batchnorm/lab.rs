//! Lab "Batch normalization": the training-mode forward pass, its backward pass in closed form, the running averages, and evaluation mode.
//!
//! Every tensor is a flat `[n, c, l]` slice: n images, c channels, l values
//! per channel and image (l = H·W for feature maps). Replace each `todo!`,
//! then run `cargo lab batchnorm`.
#![allow(unused_variables)]

// ANCHOR: task
/// Training mode. For each channel c, over its m = n·l values:
/// μ_c = mean, σ²_c = the *biased* variance (divide by m),
/// x̂ = (x − μ_c)/√(σ²_c + ε), y = γ_c·x̂ + β_c.
///
/// Returns (y, μ, σ²).
pub fn forward_train(
    x: &[f64],
    (n, c, l): (usize, usize, usize),
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    todo!("one pass for μ and σ² per channel, one to normalise")
}

/// The backward pass of [`forward_train`]: given ∂L/∂y, returns
/// (∂L/∂x, ∂L/∂γ, ∂L/∂β).
///
/// Remember that μ and σ² depend on every x of the channel: ∂L/∂x is not
/// just γ/√(σ² + ε)·∂L/∂y. Derive it (the chapter does), and write it with
/// per-channel sums so that it costs two passes over the batch.
pub fn backward(
    x: &[f64],
    (n, c, l): (usize, usize, usize),
    gamma: &[f64],
    eps: f64,
    grad_y: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    todo!("∂L/∂β and ∂L/∂γ are sums per channel; ∂L/∂x needs both of them")
}

/// After a training batch with statistics (μ, σ²) over `count` values per
/// channel: running ← (1 − momentum)·running + momentum·batch, for the mean
/// and for the variance — the variance made unbiased first (σ²·m/(m − 1)),
/// as PyTorch does.
pub fn update_running(
    running_mean: &mut [f64],
    running_var: &mut [f64],
    batch_mean: &[f64],
    batch_var: &[f64],
    count: usize,
    momentum: f64,
) {
    todo!("two exponential moving averages")
}

/// Evaluation mode: y = γ·(x − running_mean)/√(running_var + ε) + β, the
/// same affine map for every image, whatever else is in the batch.
pub fn forward_eval(
    x: &[f64],
    (n, c, l): (usize, usize, usize),
    gamma: &[f64],
    beta: &[f64],
    running_mean: &[f64],
    running_var: &[f64],
    eps: f64,
) -> Vec<f64> {
    todo!("normalise with the running statistics")
}
// ANCHOR_END: task
