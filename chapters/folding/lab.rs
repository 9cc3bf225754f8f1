//! Lab "Where the time goes": batch norm at inference time, run in the convolution's epilogue (bit for bit) or folded into its weights (to rounding).
//!
//! Replace each `todo!`, then run `cargo lab folding`.
#![allow(unused_variables)]

// ANCHOR: task
/// Evaluation-mode batch norm is the affine map y = (v − μ_o)·k_o + β_o per
/// channel o, with k_o = γ_o/√(σ²_o + ε). Compute every k_o the way cnnlab
/// does, so that your epilogue can match it bit for bit: in f64, as
/// γ_o · (1/√(σ²_o + ε)), rounded to f32 once at the end.
pub fn eval_scale(gamma: &[f32], running_var: &[f64], eps: f64) -> Vec<f32> {
    todo!("one k_o per channel")
}

/// The epilogue of one output channel's plane, in place: v ← (v − μ)·k + β,
/// then ReLU when `relu`. In f32, in exactly this order — (v − μ), times k,
/// plus β — so that it gives the same bits as `batch_norm_eval` then `relu`.
pub fn epilogue(plane: &mut [f32], mean: f32, scale: f32, shift: f32, relu: bool) {
    todo!("one affine map and an optional ReLU per value")
}

/// Batch norm folded into the convolution before it: weights `[C_out, C_in, kh, kw]`
/// (flattened) and optional bias `[C_out]` become W'_o = k_o·W_o and
/// b'_o = (b_o − μ_o)·k_o + β_o (b_o = 0 without a bias), so that
/// conv(x; W', b') = BN(conv(x; W, b)) up to rounding. `scale` holds the
/// k_o of [`eval_scale`]; `mean` the running means μ_o. Returns (W', b').
pub fn fold_into_conv(
    weight: &[f32],
    bias: Option<&[f32]>,
    mean: &[f64],
    scale: &[f32],
    beta: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    todo!("scale each output channel's weights; shift its bias")
}
// ANCHOR_END: task
