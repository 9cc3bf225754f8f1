//! Lab "Pose estimation as regression": the mirror image of a skeleton (with its left and right swapped), DeepPose's normalisation, and PCK.
//!
//! Replace each `todo!`, then run `cargo lab pose`.
#![allow(unused_variables)]

// ANCHOR: task
/// The LSP joint order: right ankle, right knee, right hip, left hip, left
/// knee, left ankle, right wrist, right elbow, right shoulder, left shoulder,
/// left elbow, left wrist, neck, head top. These (right, left) pairs trade
/// places in a mirror image; neck and head top are their own partners.
pub const FLIP_PAIRS: [(usize, usize); 6] = [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)];

/// The 14 joints of the mirror image of a `width`-pixel-wide image: each x
/// becomes W − x, and each right joint trades places with its left partner.
pub fn flip_joints(joints: &[[f32; 2]], width: usize) -> Vec<[f32; 2]> {
    todo!("mirror every x, then swap the pairs")
}

/// DeepPose's N(y; b): each joint as ((x − b_cx) / b_w, (y − b_cy) / b_h),
/// flattened to x₀, y₀, x₁, y₁, …; the box `b` is (x0, y0, x1, y1).
pub fn normalise(joints: &[[f32; 2]], b: [f32; 4]) -> Vec<f32> {
    todo!("the box's centre and size")
}

/// PCK: the share of all joints of all images whose predicted position lies
/// within `fraction` × the torso diameter of the true one. The torso
/// diameter of an image is the distance from its true left shoulder (9) to
/// its true right hip (2).
pub fn pck(predicted: &[Vec<[f32; 2]>], truth: &[Vec<[f32; 2]>], fraction: f32) -> f64 {
    todo!("count the joints within reach")
}
// ANCHOR_END: task
