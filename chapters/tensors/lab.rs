//! Lab "Tensors and broadcasting": the broadcasting rule, and its backward pass — summing a gradient back down to an input's shape.
//!
//! Replace each `todo!`, then run `cargo lab tensors`.
#![allow(unused_variables)]

// ANCHOR: task
/// NumPy's broadcasting rule. Align the two shapes at their last axes (a
/// missing leading axis counts as size 1); each pair of sizes must be equal
/// or contain a 1, and the result takes the larger. `None` when some pair is
/// incompatible. Example: `[2, 1, 4]` and `[3, 1]` give `[2, 3, 4]`.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    todo!("walk both shapes from the right")
}

/// The backward pass of broadcasting. An input of shape `shape` was
/// broadcast to `grad_shape` (for example by `x + y`); `grad` is ∂L/∂ of the
/// broadcast result, row-major. Every input value was used once per copy,
/// so ∂L/∂input sums `grad` over the copies: over the leading axes that
/// `shape` lacks, and over the axes where `shape` has size 1 and
/// `grad_shape` does not. Returns a row-major tensor of shape `shape`.
pub fn sum_to_shape(grad: &[f64], grad_shape: &[usize], shape: &[usize]) -> Vec<f64> {
    todo!("find, for every element of grad, the input element it came from, and add it there")
}
// ANCHOR_END: task
