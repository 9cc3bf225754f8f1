//! The built-in `poses` dataset: stick figures with 14 joints in the LSP order, on cluttered backgrounds.
//!
//! Each image holds one person facing the camera (so their right side is on
//! the image's left, as in the Leeds Sports Pose images), with random limb
//! angles, lean, size and position, drawn over the `shapes` backgrounds and
//! distractor strokes; now and then a patch of clutter hides part of a limb
//! (its joints stay labelled, as LSP labels occluded joints). Image i
//! depends only on (seed, i), as in `shapes`.

use super::shapes::{background, contrasting_colour, draw_distractors, noise, ShapesConfig};
use super::{BBox, Dataset};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

/// The 14 joints, in the order of the Leeds Sports Pose dataset.
pub const JOINTS: [&str; 14] = [
    "right ankle",
    "right knee",
    "right hip",
    "left hip",
    "left knee",
    "left ankle",
    "right wrist",
    "right elbow",
    "right shoulder",
    "left shoulder",
    "left elbow",
    "left wrist",
    "neck",
    "head top",
];

// ANCHOR: flip_pairs
/// The (right, left) joint pairs a mirror image exchanges: after x ↦ W − x
/// the person's right ankle is where the left one was. Neck and head top
/// are their own partners.
pub const FLIP_PAIRS: [(usize, usize); 6] = [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)];
// ANCHOR_END: flip_pairs

/// The segments drawn between joints (the torso is drawn from the neck to
/// the middle of the hips, the head as a disc below the head top).
pub const BONES: [(usize, usize); 11] =
    [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (6, 7), (7, 8), (8, 9), (9, 10), (10, 11), (8, 12)];

/// Generates `count` stick figures of `size`×`size` pixels: one class
/// (`person`), the person's box, and 14 keypoints per image.
pub fn generate(size: usize, count: usize, seed: u64) -> Dataset {
    generate_images(size, &(0..count).collect::<Vec<_>>(), seed)
}

/// Images `indices` of the dataset [`generate`] would make, in that order.
pub fn generate_images(size: usize, indices: &[usize], seed: u64) -> Dataset {
    let cfg = ShapesConfig { size, ..ShapesConfig::default() };
    let rendered: Vec<(Vec<u8>, BBox, Vec<[f32; 2]>)> = indices
        .par_iter()
        .with_min_len(64)
        .map(|&i| render(&cfg, &mut StdRng::seed_from_u64(seed.wrapping_mul(0xA076_1D64_78BD_642F) ^ i as u64)))
        .collect();
    let mut data = Dataset { classes: vec!["person".into()], shape: [3, size, size], ..Dataset::default() };
    for (pixels, bbox, joints) in rendered {
        data.images.extend_from_slice(&pixels);
        data.labels.push(0);
        data.boxes.push(bbox);
        data.keypoints.push(joints);
    }
    data
}

// ANCHOR: skeleton
/// A random pose in the person's own units (u ≈ an eighth of the height),
/// pelvis at the origin, y down: the 14 joints in LSP order.
fn skeleton(rng: &mut StdRng) -> [[f32; 2]; 14] {
    let lean: f32 = rng.random_range(-0.3..0.3);
    let up = [lean.sin(), -lean.cos()];
    let side = [lean.cos(), lean.sin()]; // towards the image's right = the person's left
    let at = |p: [f32; 2], d: [f32; 2], len: f32| [p[0] + len * d[0], p[1] + len * d[1]];
    // a direction `angle` radians away from "down", outwards on the person's `sign` side (−1 right, +1 left)
    let limb = |angle: f32, sign: f32| {
        let (s, c) = angle.sin_cos();
        [-up[0] * c + sign * side[0] * s, -up[1] * c + sign * side[1] * s]
    };
    let mut j = [[0f32; 2]; 14];
    let neck = at([0.0, 0.0], up, 2.7);
    j[12] = neck;
    j[13] = at(neck, [up[0] + rng.random_range(-0.25..0.25), up[1]], 1.25);
    for (sign, [hip, knee, ankle, shoulder, elbow, wrist]) in [(-1.0, [2, 1, 0, 8, 7, 6]), (1.0, [3, 4, 5, 9, 10, 11])]
    {
        j[hip] = at([0.0, 0.0], side, sign * 0.55);
        let thigh: f32 = rng.random_range(-0.2..0.9);
        j[knee] = at(j[hip], limb(thigh, sign), 1.9);
        j[ankle] = at(j[knee], limb(thigh - rng.random_range(-0.2..1.2), sign), 1.8);
        j[shoulder] = at(neck, side, sign * 0.95);
        let upper: f32 = rng.random_range(-0.2..2.9);
        j[elbow] = at(j[shoulder], limb(upper, sign), 1.4);
        j[wrist] = at(j[elbow], limb(upper + rng.random_range(-1.6..1.6), sign), 1.3);
    }
    j
}
// ANCHOR_END: skeleton

/// Draws one image: background, clutter, the figure (2×2 supersampled), an
/// occluder now and then, noise. Returns CHW bytes, the person's box, the joints in pixels.
fn render(cfg: &ShapesConfig, rng: &mut StdRng) -> (Vec<u8>, BBox, Vec<[f32; 2]>) {
    let s = cfg.size as f32;
    let (mut img, grey) = background(cfg.size, rng);
    draw_distractors(cfg, &mut img, rng);
    let pose = skeleton(rng);
    // scale so that the figure spans 55–90% of the image, then place it inside with a margin
    let (lo, hi) = extent(&pose);
    let span = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    let margin = 0.06 * s;
    let unit = rng.random_range(0.55..0.9) * (s - 2.0 * margin) / span;
    let free = [s - 2.0 * margin - unit * (hi[0] - lo[0]), s - 2.0 * margin - unit * (hi[1] - lo[1])];
    let offset: [f32; 2] = std::array::from_fn(|a| margin + rng.random_range(0.0..=free[a].max(0.0)) - unit * lo[a]);
    let joints: Vec<[f32; 2]> = pose.iter().map(|p| [offset[0] + unit * p[0], offset[1] + unit * p[1]]).collect();
    let colour = contrasting_colour(grey, rng);
    let width = (0.45 * unit).max(1.0);
    let pelvis = mid(joints[2], joints[3]);
    let mut segments: Vec<([f32; 2], [f32; 2], f32)> =
        BONES.iter().map(|&(a, b)| (joints[a], joints[b], width)).collect();
    segments.push((joints[9], joints[12], width));
    segments.push((joints[12], pelvis, 1.6 * width));
    // the head: a disc of diameter 1.2u whose top is the head-top joint, 1.25u above the neck
    let head = lerp(joints[13], joints[12], 0.6 / 1.25);
    segments.push((head, head, 1.2 * unit));
    paint(&mut img, cfg.size, &segments, colour);
    if rng.random::<f32>() < 0.15 {
        // an occluder: a square of another colour over the middle of a random limb
        let (a, b) = BONES[rng.random_range(0..10)];
        let centre = mid(joints[a], joints[b]);
        let occluder: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.0..255.0));
        paint(&mut img, cfg.size, &[(centre, centre, 1.3 * unit)], occluder);
    }
    let (lo, hi) = extent(&joints);
    let pad = 0.5 * unit;
    let bbox = BBox {
        x0: (lo[0] - pad).max(0.0),
        y0: (lo[1] - pad).max(0.0),
        x1: (hi[0] + pad).min(s),
        y1: (hi[1] + pad).min(s),
    };
    let bytes = img.iter().map(|&v| (v + cfg.noise * noise(rng)).round().clamp(0.0, 255.0) as u8).collect();
    (bytes, bbox, joints)
}

/// The smallest and largest x and y of `points`.
fn extent(points: &[[f32; 2]]) -> ([f32; 2], [f32; 2]) {
    let mut lo = [f32::INFINITY; 2];
    let mut hi = [f32::NEG_INFINITY; 2];
    for p in points {
        for a in 0..2 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    (lo, hi)
}

fn mid(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    lerp(a, b, 0.5)
}

/// The point a fraction `t` of the way from `a` to `b`.
fn lerp(a: [f32; 2], b: [f32; 2], t: f32) -> [f32; 2] {
    [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])]
}

/// Paints thick segments (a, b, width) — a disc when a = b — in `colour`,
/// blending by the share of each pixel's 2×2 sub-samples they cover.
fn paint(img: &mut [f32], s: usize, segments: &[([f32; 2], [f32; 2], f32)], colour: [f32; 3]) {
    for y in 0..s {
        for x in 0..s {
            let hits = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)]
                .iter()
                .filter(|(ox, oy)| {
                    let p = [x as f32 + ox, y as f32 + oy];
                    segments.iter().any(|&(a, b, w)| distance_to_segment(p, a, b) <= w / 2.0)
                })
                .count();
            let cover = hits as f32 / 4.0;
            if cover > 0.0 {
                for (c, &value) in colour.iter().enumerate() {
                    let px = &mut img[c * s * s + y * s + x];
                    *px = (1.0 - cover) * *px + cover * value;
                }
            }
        }
    }
}

/// The distance from `p` to the segment from `a` to `b`.
fn distance_to_segment(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let (d, ap) = ([b[0] - a[0], b[1] - a[1]], [p[0] - a[0], p[1] - a[1]]);
    let len2 = d[0] * d[0] + d[1] * d[1];
    let t = if len2 > 0.0 { ((ap[0] * d[0] + ap[1] * d[1]) / len2).clamp(0.0, 1.0) } else { 0.0 };
    ((ap[0] - t * d[0]).powi(2) + (ap[1] - t * d[1]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_every_joint_inside_the_image_and_the_box() {
        let a = generate(32, 200, 3);
        let b = generate(32, 20, 3);
        assert_eq!(&a.images[..b.images.len()], &b.images[..]);
        assert_eq!(a.classes, ["person"]);
        for (bbox, joints) in a.boxes.iter().zip(&a.keypoints) {
            assert_eq!(joints.len(), 14);
            for &[x, y] in joints {
                assert!((0.0..=32.0).contains(&x) && (0.0..=32.0).contains(&y), "{joints:?}");
                assert!(x >= bbox.x0 && x <= bbox.x1 && y >= bbox.y0 && y <= bbox.y1);
            }
            // the person's right is on the image's left at the hips and shoulders
            assert!(joints[2][0] < joints[3][0] && joints[8][0] < joints[9][0], "{joints:?}");
            // head top above the neck, neck above the hips
            assert!(joints[13][1] < joints[12][1] && joints[12][1] < joints[2][1]);
        }
        assert_ne!(generate(32, 5, 4).images, generate(32, 5, 3).images);
    }
}
