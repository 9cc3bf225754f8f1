//! Input synthesis by gradient ascent: the image that maximises a class score S_c(I) − λ‖I‖², or a channel's mean activation, with regularisers that keep it image-like.

use super::frequency::FrequencyBasis;
use crate::data::preprocess::Preprocessing;
use crate::explain::capture::frozen;
use crate::io::{Error, Result};
use crate::models::Model;
use crate::nn::Module;
use crate::{enable_grad, no_grad, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What to maximise.
#[derive(Clone, Debug, PartialEq)]
pub enum Objective {
    /// The pre-softmax score S_c of class c (raising a softmax probability
    /// could also be done by lowering the other classes; the score cannot).
    Class(usize),
    /// The mean activation of channel `channel` of layer `layer`.
    Channel {
        /// The layer's name, as `explain --layer` takes it.
        layer: String,
        /// The channel.
        channel: usize,
    },
}

/// The regularisers and the optimiser's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SynthesisOptions {
    /// Gradient-ascent steps.
    pub steps: usize,
    /// Adam's step size (in normalised pixel units, or coefficient units
    /// with `frequency`): about how far one value moves per step, whatever
    /// the gradient's scale.
    pub lr: f32,
    /// λ of the L2 penalty λ‖I‖² (the lecture's regulariser).
    pub l2: f32,
    /// Jitter: each step the image is shifted (with wrap-around) by up to
    /// this many pixels before the forward pass, and the gradient shifted back.
    pub jitter: usize,
    /// Blur the image with a Gaussian of σ = `blur_sigma` every `blur_every` steps (0: never).
    pub blur_every: usize,
    /// σ of that blur, in pixels.
    pub blur_sigma: f32,
    /// Weight of the total variation Σ (I(y+1,x) − I(y,x))² + (I(y,x+1) − I(y,x))².
    pub tv: f32,
    /// Optimise 1/f-scaled DCT coefficients instead of pixels ([`FrequencyBasis`]).
    pub frequency: bool,
    /// Standard deviation of the starting noise (0: start from zeros, the mean image colour).
    pub init_noise: f32,
    /// Seed of the starting noise and the jitter.
    pub seed: u64,
}

impl SynthesisOptions {
    /// Plain gradient ascent on the score, no regulariser: adversarial noise.
    pub fn raw() -> Self {
        SynthesisOptions {
            steps: 256,
            lr: 0.05,
            l2: 0.0,
            jitter: 0,
            blur_every: 0,
            blur_sigma: 0.0,
            tv: 0.0,
            frequency: false,
            init_noise: 0.01,
            seed: 0,
        }
    }

    /// The lecture's objective S_c(I) − λ‖I‖² alone.
    pub fn l2_only() -> Self {
        SynthesisOptions { l2: 0.01, ..Self::raw() }
    }

    /// L2, jitter, blur, total variation and the frequency parameterisation together.
    pub fn regularized() -> Self {
        SynthesisOptions {
            l2: 0.01,
            jitter: 2,
            blur_every: 4,
            blur_sigma: 0.5,
            tv: 0.05,
            frequency: true,
            ..Self::raw()
        }
    }

    /// L2, jitter and the frequency parameterisation, without blur or total
    /// variation: on CIFAR-10 the images that other networks read as their
    /// class most often (chapter "Input synthesis by gradient ascent").
    pub fn jitter_frequency() -> Self {
        SynthesisOptions { jitter: 2, frequency: true, lr: 0.1, ..Self::l2_only() }
    }

    /// A preset by name: `none`, `l2`, `jitter-frequency` or `full`.
    ///
    /// # Errors
    /// An unknown name.
    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "none" => Ok(Self::raw()),
            "l2" => Ok(Self::l2_only()),
            "jitter-frequency" => Ok(Self::jitter_frequency()),
            "full" => Ok(Self::regularized()),
            _ => Err(Error::msg(format!("unknown preset '{name}'; choose none, l2, jitter-frequency or full"))),
        }
    }
}

/// The result for a batch of objectives.
#[derive(Debug)]
pub struct Synthesized {
    /// The images in the network's (normalised) input space, `[N, C, H, W]`.
    pub images: Tensor,
    /// The images as pixel bytes (CHW), de-normalised.
    pub pixels: Vec<Vec<u8>>,
    /// The objective (the target's value minus the penalties) at every step, per image.
    pub curves: Vec<Vec<f32>>,
    /// The target's final value: S_c, or the channel's mean activation.
    pub final_value: Vec<f32>,
    /// Softmax probability of the class at the end (class objectives; NaN for channels).
    pub probability: Vec<f32>,
}

// ANCHOR: synthesize
/// Maximises each objective with its own image of shape `[c, h, w]`, all in
/// one batch, by gradient ascent; the images stay in the valid pixel range
/// [0, 1] after de-normalisation by `pre`. The model's parameters are not changed.
///
/// # Errors
/// A class or channel out of range, an unknown layer.
pub fn synthesize(
    model: &mut Model,
    objectives: &[Objective],
    [c, h, w]: [usize; 3],
    pre: &Preprocessing,
    opts: &SynthesisOptions,
) -> Result<Synthesized> {
    let n = objectives.len();
    let (lo, hi) = valid_range(pre, [c, h, w]);
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let noise: Vec<f32> = (0..n * c * h * w).map(|_| opts.init_noise * gaussian(&mut rng)).collect();
    let mut x = Tensor::from_vec(noise, &[n, c, h, w]);
    let basis = FrequencyBasis::<f32>::new(h, w);
    let mut coefficients = basis.from_pixels(&x);
    let mut curves = vec![Vec::with_capacity(opts.steps); n];
    let mut adam = Adam::new(x.numel());
    model.set_training(false);
    for step in 0..opts.steps {
        let shift = (rng.random_range(0..=2 * opts.jitter), rng.random_range(0..=2 * opts.jitter));
        let shift = (shift.0 as isize - opts.jitter as isize, shift.1 as isize - opts.jitter as isize);
        let (values, grad) = objective_gradient(model, &roll(&x, shift), objectives)?;
        let grad = roll(&grad, (-shift.0, -shift.1));
        // ∂/∂I of −λ‖I‖² − tv·TV(I), added to the target's gradient
        let penalty = penalty_gradient(&x, opts.l2, opts.tv);
        let ascent = grad.add(&penalty);
        let objective = penalties(&x, opts.l2, opts.tv);
        curves.iter_mut().enumerate().for_each(|(i, curve)| curve.push(values[i] - objective[i]));
        x = if opts.frequency {
            let g = basis.gradient_to_coefficients(&ascent);
            coefficients = coefficients.add(&adam.step(&g, opts.lr));
            basis.to_pixels(&coefficients)
        } else {
            x.add(&adam.step(&ascent, opts.lr))
        };
        if opts.blur_every > 0 && (step + 1) % opts.blur_every == 0 {
            x = gaussian_blur(&x, opts.blur_sigma);
        }
        x = clamp(&x, &lo, &hi);
        if opts.frequency {
            coefficients = basis.from_pixels(&x);
        }
    }
    let (final_value, _) = objective_gradient(model, &x, objectives)?;
    let probs = no_grad(|| model.forward(&x).softmax(1));
    let classes = probs.shape()[1];
    let probability = objectives
        .iter()
        .enumerate()
        .map(|(i, o)| if let Objective::Class(k) = o { probs.data()[i * classes + k] } else { f32::NAN })
        .collect();
    let pixels = x.data().chunks_exact(c * h * w).map(|img| pre.invert(img)).collect();
    Ok(Synthesized { images: x, pixels, curves, final_value, probability })
}
// ANCHOR_END: synthesize

// ANCHOR: objective_gradient
/// The value of each image's objective and its gradient with respect to
/// the batch `x`, from one forward and one backward pass (parameters frozen).
fn objective_gradient(model: &mut Model, x: &Tensor, objectives: &[Objective]) -> Result<(Vec<f32>, Tensor)> {
    let leaf = x.detach().with_grad();
    frozen(model, |model| {
        let mut captured: Vec<(String, Tensor)> = Vec::new();
        let wanted: Vec<&str> = objectives
            .iter()
            .filter_map(|o| if let Objective::Channel { layer, .. } = o { Some(layer.as_str()) } else { None })
            .collect();
        let logits = enable_grad(|| {
            model.forward_inspect(&leaf, "", &mut |name, out| {
                if wanted.contains(&name) {
                    captured.push((name.to_string(), out.clone()));
                }
                out
            })
        });
        // the objective as Σ_n ⟨seed_n, output⟩ on the logits and on each captured layer
        let mut values = vec![0f32; objectives.len()];
        let mut total: Option<Tensor> = None;
        let mut add_term = |term: Tensor| {
            total = Some(match total.take() {
                Some(t) => t.add(&term),
                None => term,
            })
        };
        let classes = logits.shape()[1];
        if objectives.iter().any(|o| matches!(o, Objective::Class(_))) {
            let mut seed = vec![0f32; logits.numel()];
            for (i, o) in objectives.iter().enumerate() {
                if let Objective::Class(k) = o {
                    if *k >= classes {
                        return Err(Error::msg(format!("--class {k}: the model has classes 0..{}", classes - 1)));
                    }
                    seed[i * classes + k] = 1.0;
                    values[i] = logits.data()[i * classes + k];
                }
            }
            add_term(logits.mul(&Tensor::from_vec(seed, logits.shape())).sum());
        }
        for (name, output) in &captured {
            add_term(channel_means(output, name, objectives, &mut values)?);
        }
        let total = total.ok_or_else(|| Error::msg("no objective"))?;
        Ok((values, total.backward().wrt_or_zeros(&leaf)))
    })
}
// ANCHOR_END: objective_gradient

/// Σ over the images whose objective is a channel of layer `name` of that
/// channel's mean activation (as a graph node); their values go into `values`.
fn channel_means(output: &Tensor, name: &str, objectives: &[Objective], values: &mut [f32]) -> Result<Tensor> {
    if output.rank() != 4 {
        return Err(Error::msg(format!("--layer {name}: its output is not a stack of feature maps")));
    }
    let (_, k, h, w) = output.dims4("synthesize");
    let mut seed = vec![0f32; output.numel()];
    for (i, o) in objectives.iter().enumerate() {
        if let Objective::Channel { layer, channel } = o {
            if layer != name {
                continue;
            }
            if *channel >= k {
                return Err(Error::msg(format!("--channel {channel}: layer {name} has channels 0..{}", k - 1)));
            }
            let plane = (i * k + channel) * h * w..(i * k + channel + 1) * h * w;
            seed[plane.clone()].iter_mut().for_each(|s| *s = 1.0 / (h * w) as f32);
            values[i] = output.data()[plane].iter().sum::<f32>() / (h * w) as f32;
        }
    }
    Ok(output.mul(&Tensor::from_vec(seed, output.shape())).sum())
}

/// λ‖I‖² + tv·TV(I) per image.
fn penalties(x: &Tensor, l2: f32, tv: f32) -> Vec<f32> {
    let (_, c, h, w) = x.dims4("synthesize");
    x.data()
        .chunks_exact(c * h * w)
        .map(|img| {
            let norm: f32 = img.iter().map(|v| v * v).sum();
            let mut variation = 0.0;
            for plane in img.chunks_exact(h * w) {
                for (y, xx) in (0..h).flat_map(|y| (0..w).map(move |xx| (y, xx))) {
                    let v = plane[y * w + xx];
                    if y + 1 < h {
                        variation += (plane[(y + 1) * w + xx] - v).powi(2);
                    }
                    if xx + 1 < w {
                        variation += (plane[y * w + xx + 1] - v).powi(2);
                    }
                }
            }
            l2 * norm + tv * variation
        })
        .collect()
}

// ANCHOR: penalty_gradient
/// −∂/∂I of λ‖I‖² + tv·TV(I): −2λI − 2·tv·(the sum over I's neighbours of
/// I − neighbour), the discrete Laplacian that pulls each pixel towards its neighbours.
fn penalty_gradient(x: &Tensor, l2: f32, tv: f32) -> Tensor {
    let (_, _, h, w) = x.dims4("synthesize");
    let mut out = vec![0f32; x.numel()];
    for (plane, o) in x.data().chunks_exact(h * w).zip(out.chunks_exact_mut(h * w)) {
        for y in 0..h {
            for xx in 0..w {
                let v = plane[y * w + xx];
                let neighbours = [(y > 0, y.wrapping_sub(1), xx), (y + 1 < h, y + 1, xx)]
                    .into_iter()
                    .chain([(xx > 0, y, xx.wrapping_sub(1)), (xx + 1 < w, y, xx + 1)]);
                let pull: f32 = neighbours.filter(|n| n.0).map(|(_, ny, nx)| v - plane[ny * w + nx]).sum();
                o[y * w + xx] = -2.0 * l2 * v - 2.0 * tv * pull;
            }
        }
    }
    Tensor::from_vec(out, x.shape())
}
// ANCHOR_END: penalty_gradient

/// Adam (Kingma & Ba) for ascent: the step is lr · m̂ / (√v̂ + ε), with m
/// and v running averages of the gradient and its square. Each value moves
/// by about `lr` while its gradient keeps its sign, and less when the
/// gradient flips (near the optimum), whatever the gradient's scale.
struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
    t: i32,
}

impl Adam {
    fn new(n: usize) -> Self {
        Adam { m: vec![0.0; n], v: vec![0.0; n], t: 0 }
    }

    fn step(&mut self, g: &Tensor, lr: f32) -> Tensor {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        let step = g
            .data()
            .iter()
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
            .map(|(&g, (m, v))| {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                lr * (*m / c1) / ((*v / c2).sqrt() + eps)
            })
            .collect();
        Tensor::from_vec(step, g.shape())
    }
}

/// Each plane shifted by (dy, dx) with wrap-around: the value at (y, x)
/// moves to ((y + dy) mod h, (x + dx) mod w).
pub fn roll(x: &Tensor, (dy, dx): (isize, isize)) -> Tensor {
    if (dy, dx) == (0, 0) {
        return x.detach();
    }
    let (_, _, h, w) = x.dims4("roll");
    let mut out = vec![0f32; x.numel()];
    for (plane, o) in x.data().chunks_exact(h * w).zip(out.chunks_exact_mut(h * w)) {
        for y in 0..h {
            let ty = (y as isize + dy).rem_euclid(h as isize) as usize;
            for xx in 0..w {
                let tx = (xx as isize + dx).rem_euclid(w as isize) as usize;
                o[ty * w + tx] = plane[y * w + xx];
            }
        }
    }
    Tensor::from_vec(out, x.shape())
}

/// A separable Gaussian blur of σ pixels (kernel radius ⌈2σ⌉, edges clamped).
fn gaussian_blur(x: &Tensor, sigma: f32) -> Tensor {
    let radius = (2.0 * sigma).ceil() as isize;
    let weights: Vec<f32> = (-radius..=radius).map(|d| (-(d * d) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = weights.iter().sum();
    let (_, _, h, w) = x.dims4("blur");
    let mut out = x.to_vec();
    for plane in out.chunks_exact_mut(h * w) {
        for (along_rows, len, count) in [(false, w, h), (true, h, w)] {
            let src = plane.to_vec();
            for line in 0..count {
                for i in 0..len {
                    let mut acc = 0.0;
                    for (j, wt) in weights.iter().enumerate() {
                        let k = (i as isize + j as isize - radius).clamp(0, len as isize - 1) as usize;
                        acc += wt * if along_rows { src[k * w + line] } else { src[line * w + k] };
                    }
                    let at = if along_rows { i * w + line } else { line * w + i };
                    plane[at] = acc / total;
                }
            }
        }
    }
    Tensor::from_vec(out, x.shape())
}

/// The normalised values of pixel 0 and pixel 1 (black and white), per value of one image.
fn valid_range(pre: &Preprocessing, [c, h, w]: [usize; 3]) -> (Vec<f32>, Vec<f32>) {
    let mut lo = vec![0f32; c * h * w];
    let mut hi = vec![0f32; c * h * w];
    pre.apply(&vec![0u8; c * h * w], &mut lo);
    pre.apply(&vec![255u8; c * h * w], &mut hi);
    (lo, hi)
}

fn clamp(x: &Tensor, lo: &[f32], hi: &[f32]) -> Tensor {
    let per = lo.len();
    let values = x.data().iter().enumerate().map(|(i, v)| v.clamp(lo[i % per], hi[i % per])).collect();
    Tensor::from_vec(values, x.shape())
}

fn gaussian(rng: &mut StdRng) -> f32 {
    crate::tensor::standard_normal(rng) as f32
}
