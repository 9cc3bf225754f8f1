//! Reference solution of the lab "Pose estimation as regression": the flip with its joint swap, N(y; b), PCK.

/// The (right, left) joint pairs of the LSP order.
pub const FLIP_PAIRS: [(usize, usize); 6] = [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9)];

/// x ↦ W − x, then each right joint swapped with its left partner.
pub fn flip_joints(joints: &[[f32; 2]], width: usize) -> Vec<[f32; 2]> {
    let mut out: Vec<[f32; 2]> = joints.iter().map(|&[x, y]| [width as f32 - x, y]).collect();
    for (right, left) in FLIP_PAIRS {
        out.swap(right, left);
    }
    out
}

/// Each joint relative to the box's centre, in units of its size.
pub fn normalise(joints: &[[f32; 2]], b: [f32; 4]) -> Vec<f32> {
    let (cx, cy, bw, bh) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, b[2] - b[0], b[3] - b[1]);
    joints.iter().flat_map(|&[x, y]| [(x - cx) / bw, (y - cy) / bh]).collect()
}

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// The share of joints within `fraction` torso diameters.
pub fn pck(predicted: &[Vec<[f32; 2]>], truth: &[Vec<[f32; 2]>], fraction: f32) -> f64 {
    let (mut hits, mut joints) = (0usize, 0usize);
    for (p, t) in predicted.iter().zip(truth) {
        let reach = fraction * distance(t[9], t[2]);
        hits += p.iter().zip(t).filter(|(a, b)| distance(**a, **b) <= reach).count();
        joints += t.len();
    }
    hits as f64 / joints.max(1) as f64
}
