//! Reference solution of the lab "Augmented Grad-CAM": D, Dᵀ, total variation and a subgradient.

/// The mean of each factor×factor block.
pub fn downsample(h: &[f32], (height, width): (usize, usize), factor: usize) -> Vec<f32> {
    let lw = width / factor;
    let mut out = vec![0f32; (height / factor) * lw];
    for (i, &v) in h.iter().enumerate() {
        out[(i / width / factor) * lw + (i % width) / factor] += v;
    }
    out.iter().map(|v| v / (factor * factor) as f32).collect()
}

/// Dᵀ g: each pixel gets its block's value divided by factor².
pub fn downsample_adjoint(g: &[f32], (height, width): (usize, usize), factor: usize) -> Vec<f32> {
    let lw = width / factor;
    (0..height * width)
        .map(|i| g[(i / width / factor) * lw + (i % width) / factor] / (factor * factor) as f32)
        .collect()
}

/// The neighbour pairs (a, b): b right of a, and b below a.
fn pairs((height, width): (usize, usize)) -> impl Iterator<Item = (usize, usize)> {
    let right = (0..height).flat_map(move |y| (0..width - 1).map(move |x| (y * width + x, y * width + x + 1)));
    let down = (0..height - 1).flat_map(move |y| (0..width).map(move |x| (y * width + x, (y + 1) * width + x)));
    right.chain(down)
}

/// Σ |h_b − h_a| over neighbour pairs.
pub fn total_variation(h: &[f32], size: (usize, usize)) -> f32 {
    pairs(size).map(|(a, b)| (h[b] - h[a]).abs()).sum()
}

/// sign(h_b − h_a) at b and its negative at a, summed over pairs (0 for a zero difference).
pub fn total_variation_subgradient(h: &[f32], size: (usize, usize)) -> Vec<f32> {
    let mut s = vec![0f32; h.len()];
    for (a, b) in pairs(size) {
        let d = h[b] - h[a];
        let sign = if d > 0.0 {
            1.0
        } else if d < 0.0 {
            -1.0
        } else {
            0.0
        };
        s[b] += sign;
        s[a] -= sign;
    }
    s
}
