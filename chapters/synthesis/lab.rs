//! Lab "Input synthesis by gradient ascent": jitter as a wrap-around shift, and one ascent step on S_c(I) − λ‖I‖².
//!
//! Replace each `todo!`, then run `cargo lab synthesis`.
#![allow(unused_variables)]

// ANCHOR: task
/// Shifts every plane of `image` (`[c, h, w]`, CHW order) by `(dy, dx)`
/// with wrap-around: the value at (y, x) moves to ((y + dy) mod h,
/// (x + dx) mod w). Shifts may be negative or larger than the image.
pub fn roll(image: &[f32], [c, h, w]: [usize; 3], (dy, dx): (isize, isize)) -> Vec<f32> {
    todo!("rem_euclid keeps the index in range for negative shifts")
}

/// One step of gradient ascent on J(I) = S_c(I) − λ‖I‖² with jitter:
/// shift the image by `shift`, ask `score_gradient` for ∂S_c/∂I at the
/// shifted image, shift that gradient back, add the penalty's gradient
/// −2λI, and return I + lr · (the sum).
pub fn ascent_step(
    image: &[f32],
    shape: [usize; 3],
    score_gradient: &dyn Fn(&[f32]) -> Vec<f32>,
    lambda: f32,
    lr: f32,
    shift: (isize, isize),
) -> Vec<f32> {
    todo!("roll, gradient, roll back, penalty, step")
}
// ANCHOR_END: task
