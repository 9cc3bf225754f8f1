//! Reference solution of the lab "Training a CNN": stable cross-entropy with label smoothing and its gradient; an SGD step.

/// log softmax(z)_c = z_c − m − ln Σ_j e^{z_j − m}, with m = max_j z_j.
fn log_softmax(row: &[f64]) -> Vec<f64> {
    let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = row.iter().map(|z| (z - m).exp()).sum::<f64>().ln();
    row.iter().map(|z| z - m - log_sum).collect()
}

/// L = −(1/n) Σ_i Σ_c q_ic log p_ic and ∂L/∂z_ic = (p_ic − q_ic)/n.
pub fn cross_entropy(logits: &[f64], labels: &[usize], classes: usize, smoothing: f64) -> (f64, Vec<f64>) {
    let n = labels.len();
    let (mut loss, mut grad) = (0.0, Vec::with_capacity(logits.len()));
    for (row, &label) in logits.chunks_exact(classes).zip(labels) {
        for (c, log_p) in log_softmax(row).into_iter().enumerate() {
            let q = smoothing / classes as f64 + if c == label { 1.0 - smoothing } else { 0.0 };
            loss -= q * log_p;
            grad.push((log_p.exp() - q) / n as f64);
        }
    }
    (loss / n as f64, grad)
}

/// The velocity buffer of one parameter tensor: `None` before the first step.
pub type Velocity = Option<Vec<f32>>;

/// torch.optim.SGD's update for one tensor.
pub fn sgd_step(
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut Velocity,
    lr: f32,
    momentum: f32,
    nesterov: bool,
    weight_decay: f32,
) {
    let first = velocity.is_none();
    let v = velocity.get_or_insert_with(|| vec![0.0; params.len()]);
    for i in 0..params.len() {
        let mut d = grads[i] + weight_decay * params[i];
        if momentum != 0.0 {
            v[i] = if first { d } else { momentum * v[i] + d };
            d = if nesterov { d + momentum * v[i] } else { v[i] };
        }
        params[i] -= lr * d;
    }
}
