//! Reference solution of the lab "Perception visualization".

/// The 1-D Gaussian taps g_i ∝ exp(−(i − r)²/(2σ²)), normalised to sum to 1.
pub fn gaussian_taps(size: usize, sigma: f32) -> Vec<f32> {
    let r = (size as f32 - 1.0) / 2.0;
    let g: Vec<f32> = (0..size).map(|i| (-(i as f32 - r).powi(2) / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = g.iter().sum();
    g.iter().map(|v| v / total).collect()
}

/// The mean SSIM of two single-channel images under a Gaussian window.
pub fn ssim(x: &[f32], y: &[f32], (h, w): (usize, usize), size: usize, sigma: f32) -> f32 {
    let (c1, c2) = (0.01f32 * 0.01, 0.03f32 * 0.03);
    let g = gaussian_taps(size, sigma);
    let (rows, cols) = (h - size + 1, w - size + 1);
    let mut total = 0.0;
    for top in 0..rows {
        for left in 0..cols {
            let (mut mx, mut my, mut xx, mut yy, mut xy) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for i in 0..size {
                for j in 0..size {
                    let weight = g[i] * g[j];
                    let k = (top + i) * w + left + j;
                    let (a, b) = (x[k], y[k]);
                    mx += weight * a;
                    my += weight * b;
                    xx += weight * a * a;
                    yy += weight * b * b;
                    xy += weight * a * b;
                }
            }
            let (vx, vy, cov) = (xx - mx * mx, yy - my * my, xy - mx * my);
            total += (2.0 * mx * my + c1) * (2.0 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
    }
    total / (rows * cols) as f32
}

/// PV = m ⊙ x̂ + (1 − m) ⊙ white.
pub fn compose(recon: &[f32], mask: &[f32]) -> Vec<f32> {
    let plane = mask.len();
    recon.iter().enumerate().map(|(i, &r)| mask[i % plane] * r + (1.0 - mask[i % plane])).collect()
}
