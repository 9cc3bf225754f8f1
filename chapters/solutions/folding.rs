//! Reference solution of the lab "Where the time goes": evaluation-mode batch norm in the convolution's epilogue and folded into its weights.

/// k_o = γ_o · (1/√(σ²_o + ε)) in f64, rounded once.
pub fn eval_scale(gamma: &[f32], running_var: &[f64], eps: f64) -> Vec<f32> {
    gamma.iter().zip(running_var).map(|(&g, &var)| (f64::from(g) * (1.0 / (var + eps).sqrt())) as f32).collect()
}

/// v ← (v − μ)·k + β, then ReLU.
pub fn epilogue(plane: &mut [f32], mean: f32, scale: f32, shift: f32, relu: bool) {
    for v in plane.iter_mut() {
        *v = (*v - mean) * scale + shift;
        if relu {
            *v = v.max(0.0);
        }
    }
}

/// W'_o = k_o·W_o, b'_o = (b_o − μ_o)·k_o + β_o.
pub fn fold_into_conv(
    weight: &[f32],
    bias: Option<&[f32]>,
    mean: &[f64],
    scale: &[f32],
    beta: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let per_output = weight.len() / scale.len();
    let mut folded = Vec::with_capacity(weight.len());
    for (w_o, &k) in weight.chunks_exact(per_output).zip(scale) {
        folded.extend(w_o.iter().map(|&w| w * k));
    }
    let shifted = (0..scale.len()).map(|o| {
        let b = bias.map_or(0.0, |b| f64::from(b[o]));
        ((b - mean[o]) * f64::from(scale[o]) + f64::from(beta[o])) as f32
    });
    (folded, shifted.collect())
}
