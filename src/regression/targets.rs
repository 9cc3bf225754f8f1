//! Regression targets: boxes and joints normalised to the image, and their mirror images.

use crate::data::poses::FLIP_PAIRS;
use crate::data::{BBox, Dataset};
use crate::Tensor;

/// Joints per person (the LSP skeleton).
pub const JOINTS: usize = 14;

// ANCHOR: box_target
/// A box as the network regresses it: centre and size as fractions of the
/// image, t = (c_x / W, c_y / H, w / W, h / H). Mirroring maps c_x to W − c_x.
pub fn box_target(b: &BBox, [h, w]: [usize; 2], mirrored: bool) -> [f32; 4] {
    let (w, h) = (w as f32, h as f32);
    let centre_x = (b.x0 + b.x1) / 2.0;
    let centre_x = if mirrored { w - centre_x } else { centre_x };
    [centre_x / w, (b.y0 + b.y1) / 2.0 / h, (b.x1 - b.x0) / w, (b.y1 - b.y0) / h]
}

/// The box in pixels that four outputs stand for. Outputs are not clamped
/// while training; the box is clamped to the image here, for scores and drawing.
pub fn box_from(t: &[f32], [h, w]: [usize; 2]) -> BBox {
    let (w, h) = (w as f32, h as f32);
    let (half_w, half_h) = (t[2].max(0.0) * w / 2.0, t[3].max(0.0) * h / 2.0);
    let (cx, cy) = (t[0] * w, t[1] * h);
    BBox {
        x0: (cx - half_w).clamp(0.0, w),
        y0: (cy - half_h).clamp(0.0, h),
        x1: (cx + half_w).clamp(0.0, w),
        y1: (cy + half_h).clamp(0.0, h),
    }
}
// ANCHOR_END: box_target

// ANCHOR: flip_joints
/// The joints of the mirror image of a `width`-pixel-wide image: x ↦ W − x,
/// and each right joint trades places with its left partner (the person's
/// right hand is now where the left one was). Mirroring twice is the identity.
pub fn flip_joints(joints: &[[f32; 2]], width: usize) -> Vec<[f32; 2]> {
    let mut out: Vec<[f32; 2]> = joints.iter().map(|&[x, y]| [width as f32 - x, y]).collect();
    for &(right, left) in &FLIP_PAIRS {
        out.swap(right, left);
    }
    out
}
// ANCHOR_END: flip_joints

// ANCHOR: normalise
/// DeepPose's N(y; b): each joint relative to the box b, as
/// ((x − b_cx) / b_w, (y − b_cy) / b_h). Our images are person-centred crops
/// (as LSP's are), so b is the whole image, as in DeepPose's first stage.
pub fn normalise(joints: &[[f32; 2]], b: &BBox) -> Vec<f32> {
    let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
    let (bw, bh) = (b.x1 - b.x0, b.y1 - b.y0);
    joints.iter().flat_map(|&[x, y]| [(x - cx) / bw, (y - cy) / bh]).collect()
}

/// N⁻¹: joints in pixels from normalised coordinates.
pub fn denormalise(t: &[f32], b: &BBox) -> Vec<[f32; 2]> {
    let (cx, cy) = ((b.x0 + b.x1) / 2.0, (b.y0 + b.y1) / 2.0);
    let (bw, bh) = (b.x1 - b.x0, b.y1 - b.y0);
    t.chunks(2).map(|p| [cx + p[0] * bw, cy + p[1] * bh]).collect()
}
// ANCHOR_END: normalise

/// The whole `h`×`w` image as a box.
pub fn image_box([h, w]: [usize; 2]) -> BBox {
    BBox { x0: 0.0, y0: 0.0, x1: w as f32, y1: h as f32 }
}

/// The pose target of one image: its joints (mirrored if asked), normalised to the image.
pub fn pose_target(joints: &[[f32; 2]], [h, w]: [usize; 2], mirrored: bool) -> Vec<f32> {
    let joints = if mirrored { flip_joints(joints, w) } else { joints.to_vec() };
    normalise(&joints, &image_box([h, w]))
}

/// Joints in pixels from 28 outputs (or targets) of an `h`×`w` image.
pub fn joints_from(t: &[f32], size: [usize; 2]) -> Vec<[f32; 2]> {
    denormalise(t, &image_box(size))
}

/// The box targets of images `indices` of `data` (B × 4), mirrored where `flips` says.
pub fn box_batch(data: &Dataset, indices: &[usize], flips: &[bool]) -> Tensor {
    let [_, h, w] = data.shape;
    let values = indices.iter().zip(flips).flat_map(|(&i, &f)| box_target(&data.boxes[i], [h, w], f)).collect();
    Tensor::from_vec(values, &[indices.len(), 4])
}

/// The pose targets of images `indices` of `data` (B × 28), mirrored where `flips` says.
pub fn pose_batch(data: &Dataset, indices: &[usize], flips: &[bool]) -> Tensor {
    let [_, h, w] = data.shape;
    let values = indices.iter().zip(flips).flat_map(|(&i, &f)| pose_target(&data.keypoints[i], [h, w], f)).collect();
    Tensor::from_vec(values, &[indices.len(), 2 * JOINTS])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_box_survives_the_round_trip_and_mirrors_about_the_centre() {
        let b = BBox { x0: 3.0, y0: 5.0, x1: 13.0, y1: 25.0 };
        assert_eq!(box_from(&box_target(&b, [32, 32], false), [32, 32]), b);
        let m = box_from(&box_target(&b, [32, 32], true), [32, 32]);
        assert_eq!(m, BBox { x0: 19.0, y0: 5.0, x1: 29.0, y1: 25.0 });
        // outputs beyond the image are clamped only when read back
        assert_eq!(box_from(&[0.0, 0.5, 1.0, 2.0], [32, 32]), BBox { x0: 0.0, y0: 0.0, x1: 16.0, y1: 32.0 });
    }

    #[test]
    fn normalising_is_undone_by_denormalising() {
        let joints: Vec<[f32; 2]> = (0..JOINTS).map(|j| [j as f32 * 2.0, 31.0 - j as f32]).collect();
        let b = BBox { x0: 2.0, y0: 4.0, x1: 30.0, y1: 20.0 };
        let back = denormalise(&normalise(&joints, &b), &b);
        for (a, b) in joints.iter().zip(&back) {
            assert!((a[0] - b[0]).abs() < 1e-5 && (a[1] - b[1]).abs() < 1e-5);
        }
    }
}
