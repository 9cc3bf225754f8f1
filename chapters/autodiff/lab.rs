//! Lab "Reverse-mode autodiff": write two ops' backward passes by hand — SiLU (one input) and a row scaling (two inputs).
//!
//! Replace each `todo!` with your code, then run `cargo lab autodiff`.
//! The chapter's `softplus` (examples/02_autodiff.rs) shows the pattern.
#![allow(unused_variables)]

use cnnlab::Tensor;

// ANCHOR: task
/// SiLU (the "swish" activation), elementwise: silu(x) = x·σ(x) with
/// σ(x) = 1/(1 + e^(−x)).
///
/// Return one graph node called `"silu"` (build it with `Tensor::from_op`)
/// whose backward closure turns ∂L/∂y into ∂L/∂x = ∂L/∂y · silu′(x).
/// Work out silu′(x) on paper first.
pub fn silu(x: &Tensor<f64>) -> Tensor<f64> {
    todo!("the values x·σ(x), then Tensor::from_op(\"silu\", values, x.shape(), &[x], backward)")
}

/// Scales each row of a matrix by its own factor: y_ij = s_i · x_ij, for
/// x of shape `[n, d]` and s of shape `[n]`.
///
/// Return one graph node called `"scale_rows"` whose backward closure returns
/// both gradients, `vec![Some(∂L/∂x), Some(∂L/∂s)]`, each with the shape of
/// its input. Hint: s_i touches every element of row i.
pub fn scale_rows(x: &Tensor<f64>, s: &Tensor<f64>) -> Tensor<f64> {
    todo!("check the shapes, compute y, then Tensor::from_op(\"scale_rows\", y, &[n, d], &[x, s], backward)")
}
// ANCHOR_END: task
