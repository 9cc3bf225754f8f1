//! Checks of the lab "Pose estimation as regression": the flip, N(y; b) and PCK against cnnlab's at random skeletons, flipping twice, the swap a plain mirror misses, and cases by hand.

#[path = "../check_support.rs"]
mod support;

use cnnlab::data::{poses, BBox, Dataset};
use cnnlab::regression::metrics::pose_scores;
use cnnlab::regression::targets::{self, image_box};
use cnnlab_labs::pose::{flip_joints, normalise, pck};
use proptest::prelude::*;

/// 14 joints anywhere in a 64×64 image.
fn any_joints() -> impl Strategy<Value = Vec<[f32; 2]>> {
    proptest::collection::vec(proptest::array::uniform2(0.0f32..64.0), 14)
}

fn close(a: &[[f32; 2]], b: &[[f32; 2]]) -> bool {
    a.iter().zip(b).all(|(p, q)| (p[0] - q[0]).abs() < 1e-4 && (p[1] - q[1]).abs() < 1e-4)
}

proptest! {
    #![proptest_config(support::config(256))]

    #[test]
    fn the_flip_matches_cnnlab_and_twice_is_nothing(joints in any_joints(), width in 16usize..=64) {
        let once = flip_joints(&joints, width);
        prop_assert!(close(&once, &targets::flip_joints(&joints, width)), "flip of {:?} (width {})", joints, width);
        prop_assert!(close(&flip_joints(&once, width), &joints), "flipping twice must give the joints back");
    }

    #[test]
    fn normalising_matches_cnnlab(joints in any_joints(), corner in proptest::array::uniform2(0.0f32..20.0), size in proptest::array::uniform2(8.0f32..40.0)) {
        let b = BBox { x0: corner[0], y0: corner[1], x1: corner[0] + size[0], y1: corner[1] + size[1] };
        let got = normalise(&joints, [b.x0, b.y0, b.x1, b.y1]);
        let expected = targets::normalise(&joints, &b);
        prop_assert_eq!(got.len(), 28);
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            prop_assert!((g - e).abs() < 1e-5, "coordinate {}: {} expected {}", i, g, e);
        }
    }

    #[test]
    fn pck_matches_cnnlab(seed in 0u64..1000, noise in proptest::collection::vec(-4.0f32..4.0, 8 * 28)) {
        let data = poses::generate(32, 8, seed);
        let predicted: Vec<Vec<[f32; 2]>> = data
            .keypoints
            .iter()
            .enumerate()
            .map(|(i, k)| k.iter().enumerate().map(|(j, &[x, y])| [x + noise[i * 28 + 2 * j], y + noise[i * 28 + 2 * j + 1]]).collect())
            .collect();
        let outputs: Vec<Vec<f32>> = predicted.iter().map(|p| targets::normalise(p, &image_box([32, 32]))).collect();
        let expected = pose_scores(&outputs, &Dataset { shape: [3, 32, 32], ..data.clone() }).pck_02;
        let got = pck(&predicted, &data.keypoints, 0.2);
        prop_assert!((got - expected).abs() < 1e-9, "PCK@0.2 {} expected {}", got, expected);
    }
}

#[test]
fn by_hand() {
    // a skeleton whose right side (joints 0–2, 6–8) is on the left of a 10-pixel-wide image
    let joints: Vec<[f32; 2]> =
        (0..14).map(|j| if matches!(j, 0..=2 | 6..=8) { [2.0, j as f32] } else { [7.0, j as f32] }).collect();
    let flipped = flip_joints(&joints, 10);
    // mirrored, the person's right joints are still on the image's left: at x = 10 − 7 = 3
    assert_eq!(flipped[2], [3.0, 3.0], "the right hip takes the mirrored left hip's place");
    assert_eq!(flipped[9], [8.0, 8.0], "the left shoulder takes the mirrored right shoulder's place");
    assert_eq!(flipped[12], [3.0, 12.0], "the neck is only mirrored");
    // N(y; b) of the box's centre is 0, of its corner −½
    assert_eq!(normalise(&[[5.0, 10.0], [0.0, 0.0]], [0.0, 0.0, 10.0, 20.0]), [0.0, 0.0, -0.5, -0.5]);
    // torso diameter 5 (left shoulder (3, 4) to right hip (0, 0)): reach 1 at PCK@0.2
    let mut truth = vec![[0.0f32, 0.0]; 14];
    truth[9] = [3.0, 4.0];
    let mut predicted = truth.clone();
    predicted[0] = [1.0, 0.0]; // exactly within reach
    predicted[1] = [0.0, 1.5]; // too far
    assert_eq!(pck(&[predicted], &[truth], 0.2), 13.0 / 14.0);
}

#[test]
fn your_own_work() {
    support::assert_own_work("pose", lab_source!("pose"), &["regression::", "targets::", "metrics::"]);
}
