//! Structural similarity (SSIM, Wang et al. 2004), built from differentiable ops so that it can be a training loss.
//!
//! SSIM compares two images window by window. With μ the local means, σ² the
//! local variances and σ_xy the local covariance, all taken under a Gaussian
//! window (11×11, σ = 1.5), and C₁ = (0.01·L)², C₂ = (0.03·L)² for pixel
//! values in [0, L] (here L = 1):
//!
//!   SSIM(x, y) = (2 μ_x μ_y + C₁)(2 σ_xy + C₂) / ((μ_x² + μ_y² + C₁)(σ_x² + σ_y² + C₂))
//!
//! averaged over every window position that fits inside the image (no
//! padding) and over channels. It is 1 exactly when x = y; the first factor
//! compares brightness, the second contrast and structure. Local statistics
//! are Gaussian blurs: μ_x = G ∗ x, σ_x² = G ∗ x² − μ_x², σ_xy = G ∗ (x·y) − μ_x μ_y,
//! with G applied separably (a row of taps, then a column) per channel.

use crate::tensor::{Element, Tensor};
use crate::Conv2dConfig;

/// The stabilising constants for pixel values in [0, 1]: C₁ = 0.01², C₂ = 0.03².
pub const C1: f64 = 0.01 * 0.01;
/// See [`C1`].
pub const C2: f64 = 0.03 * 0.03;

/// The Gaussian window SSIM averages under.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SsimWindow {
    /// Side in pixels (odd; shrunk to the image for images smaller than it).
    pub size: usize,
    /// Standard deviation of the Gaussian, in pixels.
    pub sigma: f64,
}

impl Default for SsimWindow {
    /// Wang et al.'s window: 11×11, σ = 1.5.
    fn default() -> Self {
        SsimWindow { size: 11, sigma: 1.5 }
    }
}

impl SsimWindow {
    /// The window for an image of `h`×`w` pixels: the largest odd size that fits, at most `self.size`.
    fn fitted(self, h: usize, w: usize) -> SsimWindow {
        let side = self.size.min(h).min(w);
        SsimWindow { size: if side.is_multiple_of(2) { side - 1 } else { side }, ..self }
    }

    /// The 1-D taps g_i ∝ exp(−(i − r)²/(2σ²)), i = 0 … size−1, r = (size−1)/2, summing to 1.
    pub fn taps(self) -> Vec<f64> {
        let r = (self.size as f64 - 1.0) / 2.0;
        let g: Vec<f64> =
            (0..self.size).map(|i| (-((i as f64 - r).powi(2)) / (2.0 * self.sigma.powi(2))).exp()).collect();
        let total: f64 = g.iter().sum();
        g.into_iter().map(|v| v / total).collect()
    }
}

// ANCHOR: blur
/// G ∗ x for every channel of an NCHW batch: a depthwise convolution with
/// the row of taps, then with the column (valid positions only).
fn blur<E: Element>(x: &Tensor<E>, taps: &[f64]) -> Tensor<E> {
    let (c, k) = (x.shape()[1], taps.len());
    let weights: Vec<E> = (0..c).flat_map(|_| taps.iter().map(|&t| E::from_f64(t))).collect();
    let depthwise = Conv2dConfig::default().groups(c);
    let row = Tensor::from_vec(weights.clone(), &[c, 1, 1, k]);
    let column = Tensor::from_vec(weights, &[c, 1, k, 1]);
    x.conv2d(&row, None, depthwise).conv2d(&column, None, depthwise)
}
// ANCHOR_END: blur

// ANCHOR: ssim_map
/// The SSIM of every window position: `[N, C, H − s + 1, W − s + 1]` for
/// window side s, values in [−1, 1]. Differentiable in both images.
///
/// # Panics
/// When the two batches differ in shape (the message names both).
pub fn ssim_map<E: Element>(x: &Tensor<E>, y: &Tensor<E>, window: SsimWindow) -> Tensor<E> {
    assert_eq!(x.shape(), y.shape(), "ssim: the images {:?} and {:?} differ in shape", x.shape(), y.shape());
    let (_, _, h, w) = x.dims4("ssim");
    let taps = window.fitted(h, w).taps();
    let (mu_x, mu_y) = (blur(x, &taps), blur(y, &taps));
    let (mu_xx, mu_yy, mu_xy) = (mu_x.mul(&mu_x), mu_y.mul(&mu_y), mu_x.mul(&mu_y));
    let var_x = blur(&x.mul(x), &taps).sub(&mu_xx);
    let var_y = blur(&y.mul(y), &taps).sub(&mu_yy);
    let cov_xy = blur(&x.mul(y), &taps).sub(&mu_xy);
    let luminance = mu_xy.mul_scalar(2.0).add_scalar(C1).div(&mu_xx.add(&mu_yy).add_scalar(C1));
    let structure = cov_xy.mul_scalar(2.0).add_scalar(C2).div(&var_x.add(&var_y).add_scalar(C2));
    luminance.mul(&structure)
}
// ANCHOR_END: ssim_map

/// The mean SSIM of two batches (one number, differentiable): the loss
/// term is 1 − this.
pub fn ssim<E: Element>(x: &Tensor<E>, y: &Tensor<E>, window: SsimWindow) -> Tensor<E> {
    ssim_map(x, y, window).mean()
}

/// The SSIM of each image of two batches, for metrics.
pub fn ssim_per_image(x: &Tensor, y: &Tensor, window: SsimWindow) -> Vec<f32> {
    crate::no_grad(|| ssim_map(x, y, window).mean_axes(&[1, 2, 3], false).to_vec())
}

/// The peak signal-to-noise ratio of each image, for values in [0, 1]:
/// PSNR = 10·log₁₀(1 / MSE) dB (capped at 100 dB for identical images).
pub fn psnr_per_image(x: &Tensor, y: &Tensor) -> Vec<f32> {
    assert_eq!(x.shape(), y.shape(), "psnr: the images {:?} and {:?} differ in shape", x.shape(), y.shape());
    let per_image = x.numel() / x.shape()[0].max(1);
    x.data()
        .chunks(per_image)
        .zip(y.data().chunks(per_image))
        .map(|(a, b)| {
            let mse = a.iter().zip(b).map(|(p, q)| ((p - q) as f64).powi(2)).sum::<f64>() / per_image as f64;
            (10.0 * (1.0 / mse.max(1e-10)).log10()) as f32
        })
        .collect()
}
