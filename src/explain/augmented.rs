//! Augmented Grad-CAM (Morbidelli et al., ICASSP 2020): a high-resolution map
//! super-resolved from the low-resolution Grad-CAMs of augmented copies of the image.
//!
//! h* = argmin_h ½ Σ_l ‖D A_l h − g_l‖² + λ TV_ℓ1(h) + (μ/2) ‖h‖²
//!
//! A_l warps a full-resolution map like the l-th augmentation warped the image
//! (a rotation and a translation), D averages each f×f block down to the
//! Grad-CAM's resolution, g_l is the Grad-CAM of the l-th augmented image.

use super::capture::resolve_targets;
use super::gradcam::{gradcam, Maps};
use super::Target;
use crate::io::{Error, Result};
use crate::nn::Module;
use crate::viz::Map;
use crate::{no_grad, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A rotation by `degrees` about the image centre followed by a shift of
/// (`dx`, `dy`) pixels, as a linear operator on `height × width` maps:
/// output pixel p reads the input at T⁻¹(p) by bilinear interpolation
/// (zero outside the image). Each output pixel stores its four taps.
pub struct Warp {
    height: usize,
    width: usize,
    taps: Vec<[(usize, f32); 4]>,
}

impl Warp {
    /// The warp for one augmentation.
    pub fn new(height: usize, width: usize, degrees: f32, (dx, dy): (f32, f32)) -> Warp {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
        let mut taps = Vec::with_capacity(height * width);
        for y in 0..height {
            for x in 0..width {
                // pixel centre p, then q = R⁻¹(p − c − t) + c, in pixel-centre coordinates
                let (px, py) = (x as f32 + 0.5 - cx - dx, y as f32 + 0.5 - cy - dy);
                let (qx, qy) = (cos * px + sin * py + cx - 0.5, -sin * px + cos * py + cy - 0.5);
                taps.push(bilinear_taps(qx, qy, height, width));
            }
        }
        Warp { height, width, taps }
    }

    // ANCHOR: warp
    /// (A h)(p) = Σ_taps w · h(q).
    pub fn apply(&self, h: &[f32]) -> Vec<f32> {
        self.taps.iter().map(|taps| taps.iter().map(|&(q, w)| w * h[q]).sum()).collect()
    }

    /// The adjoint Aᵀ: every output pixel sends its value back to the
    /// pixels it read, with the same weights (⟨A h, v⟩ = ⟨h, Aᵀ v⟩).
    pub fn adjoint(&self, v: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; self.height * self.width];
        for (taps, &value) in self.taps.iter().zip(v) {
            taps.iter().for_each(|&(q, w)| out[q] += w * value);
        }
        out
    }
    // ANCHOR_END: warp
}

/// The four bilinear taps at (qx, qy); taps outside the image get weight 0.
fn bilinear_taps(qx: f32, qy: f32, height: usize, width: usize) -> [(usize, f32); 4] {
    let (x0, y0) = (qx.floor(), qy.floor());
    let (fx, fy) = (qx - x0, qy - y0);
    let corners = [(x0, y0, (1.0 - fx) * (1.0 - fy)), (x0 + 1.0, y0, fx * (1.0 - fy))];
    let corners = [corners[0], corners[1], (x0, y0 + 1.0, (1.0 - fx) * fy), (x0 + 1.0, y0 + 1.0, fx * fy)];
    corners.map(|(x, y, w)| {
        let inside = x >= 0.0 && y >= 0.0 && (x as usize) < width && (y as usize) < height;
        if inside {
            (y as usize * width + x as usize, w)
        } else {
            (0, 0.0)
        }
    })
}

// ANCHOR: downsample
/// D: the mean of each `factor × factor` block (H×W → H/f × W/f).
pub fn downsample(h: &[f32], (height, width): (usize, usize), factor: usize) -> Vec<f32> {
    let (lh, lw) = (height / factor, width / factor);
    let mut out = vec![0f32; lh * lw];
    for y in 0..height {
        for x in 0..width {
            out[(y / factor) * lw + x / factor] += h[y * width + x];
        }
    }
    out.iter_mut().for_each(|v| *v /= (factor * factor) as f32);
    out
}

/// Dᵀ: each low-resolution value, divided by f², copied to the f×f pixels of its block.
pub fn downsample_adjoint(g: &[f32], (height, width): (usize, usize), factor: usize) -> Vec<f32> {
    let lw = width / factor;
    let scale = 1.0 / (factor * factor) as f32;
    (0..height * width).map(|i| g[(i / width / factor) * lw + (i % width) / factor] * scale).collect()
}
// ANCHOR_END: downsample

// ANCHOR: tv
/// TV_ℓ1(h) = Σ |h(y, x+1) − h(y, x)| + Σ |h(y+1, x) − h(y, x)| (anisotropic).
pub fn total_variation(h: &[f32], (height, width): (usize, usize)) -> f32 {
    let mut tv = 0.0;
    for y in 0..height {
        for x in 0..width {
            let v = h[y * width + x];
            if x + 1 < width {
                tv += (h[y * width + x + 1] - v).abs();
            }
            if y + 1 < height {
                tv += (h[(y + 1) * width + x] - v).abs();
            }
        }
    }
    tv
}

/// A subgradient of TV_ℓ1: each difference d = h_b − h_a adds sign(d) at b
/// and −sign(d) at a (sign(0) = 0, a valid choice in [−1, 1]).
pub fn total_variation_subgradient(h: &[f32], (height, width): (usize, usize)) -> Vec<f32> {
    let mut g = vec![0f32; h.len()];
    let mut pair = |a: usize, b: usize| {
        let s = (h[b] - h[a]).signum() * f32::from(h[b] != h[a]);
        g[b] += s;
        g[a] -= s;
    };
    for y in 0..height {
        for x in 0..width {
            if x + 1 < width {
                pair(y * width + x, y * width + x + 1);
            }
            if y + 1 < height {
                pair(y * width + x, (y + 1) * width + x);
            }
        }
    }
    g
}
// ANCHOR_END: tv

/// Settings of Augmented Grad-CAM.
#[derive(Clone, Copy, Debug)]
pub struct AugmentedOptions {
    /// L: augmented copies, the unchanged image included (default 16).
    pub augmentations: usize,
    /// Largest rotation, degrees (default 15; drawn uniformly in ±).
    pub max_degrees: f32,
    /// Largest shift as a fraction of the image side (default 0.1; uniform in ±).
    pub max_shift: f32,
    /// λ, the weight of the TV term (default 0.05).
    pub lambda: f32,
    /// μ, the weight of the ridge term (default 0.001).
    pub mu: f32,
    /// Subgradient steps (default 100).
    pub steps: usize,
    /// η₀ as a fraction of 1/Lipschitz of the data term (default 0.25): the
    /// first step; step t is η₀/√(t+1). Larger first steps make the TV
    /// subgradient overshoot and F rise above its start.
    pub step: f32,
    /// Seed of the augmentations.
    pub seed: u64,
}

impl Default for AugmentedOptions {
    fn default() -> Self {
        AugmentedOptions {
            augmentations: 16,
            max_degrees: 15.0,
            max_shift: 0.1,
            lambda: 0.05,
            mu: 0.001,
            steps: 100,
            step: 0.25,
            seed: 0,
        }
    }
}

/// The super-resolution problem for one image.
pub struct SuperResolution<'a> {
    /// The warps A_l.
    pub warps: &'a [Warp],
    /// The low-resolution maps g_l.
    pub low: &'a [Map],
    /// f: the side of a block of D.
    pub factor: usize,
    /// λ.
    pub lambda: f32,
    /// μ.
    pub mu: f32,
    /// η₀ as a fraction of 1/Lipschitz (see [`AugmentedOptions::step`]).
    pub step: f32,
}

impl SuperResolution<'_> {
    fn size(&self) -> (usize, usize) {
        (self.low[0].height * self.factor, self.low[0].width * self.factor)
    }

    // ANCHOR: objective
    /// F(h) = ½ Σ_l ‖D A_l h − g_l‖² + λ TV_ℓ1(h) + (μ/2) ‖h‖².
    pub fn objective(&self, h: &[f32]) -> f64 {
        let size = self.size();
        let data: f64 = self
            .warps
            .iter()
            .zip(self.low)
            .map(|(a_l, g_l)| {
                let residual = downsample(&a_l.apply(h), size, self.factor);
                residual.iter().zip(&g_l.values).map(|(r, g)| 0.5 * ((r - g) as f64).powi(2)).sum::<f64>()
            })
            .sum();
        let ridge: f64 = h.iter().map(|&v| (v as f64).powi(2)).sum();
        data + (self.lambda * total_variation(h, size)) as f64 + 0.5 * self.mu as f64 * ridge
    }

    /// A subgradient of F: Σ_l A_lᵀ Dᵀ (D A_l h − g_l) + λ ∂TV(h) + μ h.
    pub fn subgradient(&self, h: &[f32]) -> Vec<f32> {
        let size = self.size();
        let mut grad: Vec<f32> =
            total_variation_subgradient(h, size).iter().zip(h).map(|(t, &v)| self.lambda * t + self.mu * v).collect();
        for (a_l, g_l) in self.warps.iter().zip(self.low) {
            let mut residual = downsample(&a_l.apply(h), size, self.factor);
            residual.iter_mut().zip(&g_l.values).for_each(|(r, g)| *r -= g);
            let back = a_l.adjoint(&downsample_adjoint(&residual, size, self.factor));
            grad.iter_mut().zip(back).for_each(|(g, b)| *g += b);
        }
        grad
    }
    // ANCHOR_END: objective

    // ANCHOR: solve
    /// Subgradient descent from `start` with steps η_t = η₀/√(t+1), where
    /// η₀ is `step` × f²/L, the inverse Lipschitz constant of the data term
    /// (‖D‖² = 1/f², ‖A_l‖ ≈ 1). Subgradient steps need not decrease F every
    /// time, so the best iterate is kept. Returns it and F at every step.
    pub fn solve(&self, start: Vec<f32>, steps: usize) -> (Vec<f32>, Vec<f64>) {
        let eta0 = self.step * (self.factor * self.factor) as f32 / self.warps.len().max(1) as f32;
        let mut h = start;
        let (mut best, mut best_f) = (h.clone(), self.objective(&h));
        let mut history = vec![best_f];
        for t in 0..steps {
            let eta = eta0 / ((t + 1) as f32).sqrt();
            let grad = self.subgradient(&h);
            h.iter_mut().zip(&grad).for_each(|(v, g)| *v -= eta * g);
            let f = self.objective(&h);
            history.push(f);
            if f < best_f {
                (best, best_f) = (h.clone(), f);
            }
        }
        (best, history)
    }
    // ANCHOR_END: solve
}

/// The L augmentations of one image: the identity first, then random
/// rotations and shifts drawn from `opts` and the image's own seed.
pub fn augmentations(opts: &AugmentedOptions, (height, width): (usize, usize), seed: u64) -> Vec<Warp> {
    let mut rng = StdRng::seed_from_u64(opts.seed ^ seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let shift = opts.max_shift * height.max(width) as f32;
    (0..opts.augmentations.max(1))
        .map(|l| {
            if l == 0 {
                return Warp::new(height, width, 0.0, (0.0, 0.0));
            }
            let degrees = rng.random_range(-1.0..=1.0) * opts.max_degrees;
            let d = (rng.random_range(-1.0..=1.0) * shift, rng.random_range(-1.0..=1.0) * shift);
            Warp::new(height, width, degrees, d)
        })
        .collect()
}

/// Augmented Grad-CAM for each image of the batch `x`; maps at input
/// resolution. Also returns the convergence history of each image.
///
/// The g_l are Grad-CAMs of the target class of the unchanged image, scaled
/// together by their common maximum, so λ and μ mean the same on every image.
///
/// # Errors
/// As Grad-CAM; also when the input size is not a multiple of the layer's.
pub fn augmented_gradcam(
    model: &mut dyn Module,
    x: &Tensor,
    layer: &str,
    target: &Target,
    opts: &AugmentedOptions,
) -> Result<(Maps, Vec<Vec<f64>>)> {
    let (n, c, height, width) = x.dims4("augmented_gradcam");
    model.set_training(false);
    let logits = no_grad(|| model.forward(x));
    let targets = resolve_targets(&logits, target)?;
    let (mut maps, mut histories) = (Vec::new(), Vec::new());
    for (i, &target) in targets.iter().enumerate() {
        let image = &x.data()[i * c * height * width..(i + 1) * c * height * width];
        let warps = augmentations(opts, (height, width), i as u64);
        let warped: Vec<f32> =
            warps.iter().flat_map(|a| image.chunks_exact(height * width).flat_map(|p| a.apply(p))).collect();
        let batch = Tensor::from_vec(warped, &[warps.len(), c, height, width]);
        let (mut low, _, _) = gradcam(model, &batch, layer, &Target::Class(target))?;
        let factor = height / low[0].height;
        if factor * low[0].height != height || factor * low[0].width != width {
            return Err(Error::msg(format!(
                "augmented-gradcam: the input {height}x{width} is not a whole multiple of layer {layer}'s {}x{} maps",
                low[0].height, low[0].width
            )));
        }
        let top = low.iter().map(Map::max).fold(0f32, f32::max);
        if top > 0.0 {
            low.iter_mut().for_each(|m| m.values.iter_mut().for_each(|v| *v /= top));
        }
        let problem =
            SuperResolution { warps: &warps, low: &low, factor, lambda: opts.lambda, mu: opts.mu, step: opts.step };
        let start = low[0].upsample(height, width).values;
        let (h, history) = problem.solve(start, opts.steps);
        maps.push(Map::new(height, width, h));
        histories.push(history);
    }
    debug_assert_eq!(maps.len(), n);
    Ok(((maps, logits, targets), histories))
}
