//! Gradient checking: compare a backward pass with central finite differences, in f64.
//!
//! For a function y = f(x₁, …, x_k) and a random cotangent v (same shape as
//! y), the scalar φ(x) = ⟨v, f(x)⟩ has gradient ∇ᵢφ = Jᵢᵀv — exactly what
//! `y.backward_with(v)` computes. Two checks compare it with
//! φ'(x; u) ≈ (φ(x + εu) − φ(x − εu)) / 2ε, whose error is O(ε²):
//!
//! * **directional**: one random direction u for all inputs at once,
//!   Σᵢ ⟨uᵢ, ∇ᵢφ⟩ against the central difference along u (cheap: two calls of f);
//! * **element-wise**: u = each unit vector in turn (tiny inputs only), which
//!   also locates a wrong entry.
//!
//! Why f64: in f32 a central difference has a rounding error of about
//! 10⁻⁷·|φ|/ε, so no ε is both small enough for the Taylor error and large
//! enough for rounding; tolerances would have to be loose enough to let a
//! wrong factor through. The same op code runs in f64 (every op is generic
//! over [`Element`](crate::Element)), where ε = 10⁻⁶ leaves errors near 10⁻¹⁰.

use crate::autograd::no_grad;
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::fmt;

/// Step and tolerances of a gradient check.
#[derive(Clone, Debug)]
pub struct GradcheckConfig {
    /// Finite-difference step ε.
    pub eps: f64,
    /// Relative tolerance.
    pub rtol: f64,
    /// Absolute tolerance, scaled by 1 + |φ(x)|.
    pub atol: f64,
    /// Seed of the random cotangent and directions.
    pub seed: u64,
    /// Element-wise checks run when the inputs hold at most this many values.
    pub elementwise_limit: usize,
}

impl Default for GradcheckConfig {
    fn default() -> Self {
        GradcheckConfig { eps: 1e-6, rtol: 1e-5, atol: 1e-7, seed: 0, elementwise_limit: 300 }
    }
}

/// Where an analytic gradient disagreed with finite differences.
#[derive(Clone, Debug, PartialEq)]
pub enum GradcheckFailure {
    /// The directional derivative along a random direction disagreed.
    Directional {
        /// Σᵢ ⟨uᵢ, ∇ᵢφ⟩ from the backward pass.
        analytic: f64,
        /// Central difference of φ along u.
        numeric: f64,
    },
    /// One partial derivative disagreed.
    Element {
        /// Which input.
        input: usize,
        /// Which element of it (row-major).
        index: usize,
        /// ∂φ/∂x from the backward pass.
        analytic: f64,
        /// Central difference of φ in that coordinate.
        numeric: f64,
    },
}

impl fmt::Display for GradcheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Directional { analytic, numeric } => {
                write!(f, "directional derivative: backward gives {analytic:.10e}, finite differences {numeric:.10e}")
            }
            Self::Element { input, index, analytic, numeric } => write!(
                f,
                "input {input}, element {index}: backward gives {analytic:.10e}, finite differences {numeric:.10e}"
            ),
        }
    }
}

/// What a passing check compared.
#[derive(Clone, Debug)]
pub struct GradcheckReport {
    /// Number of derivatives compared.
    pub comparisons: usize,
    /// The largest |analytic − numeric| / (|analytic| + |numeric| + tiny) seen.
    pub max_relative_error: f64,
}

// ANCHOR: gradcheck
/// Checks the backward pass of `f` at `inputs` (see the module docs).
///
/// `f` must be deterministic (seed any randomness, as dropout takes a seed).
pub fn gradcheck(
    f: impl Fn(&[Tensor<f64>]) -> Tensor<f64>,
    inputs: &[Tensor<f64>],
    cfg: &GradcheckConfig,
) -> Result<GradcheckReport, GradcheckFailure> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let leaves: Vec<Tensor<f64>> = inputs.iter().map(|x| x.detach().with_grad()).collect();
    let y = f(&leaves);
    let v = Tensor::<f64>::randn(y.shape(), &mut rng);
    let grads = y.backward_with(&v);
    let analytic: Vec<Vec<f64>> = leaves.iter().map(|x| grads.wrt_or_zeros(x).to_vec()).collect();
    // φ(x) = ⟨v, f(x)⟩, evaluated without recording a graph
    let phi = |xs: &[Tensor<f64>]| no_grad(|| dot(v.data(), f(xs).data()));
    let scale = 1.0 + phi(inputs).abs();
    let mut report = Checker { cfg, scale, report: GradcheckReport { comparisons: 0, max_relative_error: 0.0 } };

    let u: Vec<Tensor<f64>> = inputs.iter().map(|x| Tensor::randn(x.shape(), &mut rng)).collect();
    let along = |sign: f64| -> Vec<Tensor<f64>> {
        inputs.iter().zip(&u).map(|(x, u)| shifted(x, |i| sign * cfg.eps * u.data()[i])).collect()
    };
    let numeric = (phi(&along(1.0)) - phi(&along(-1.0))) / (2.0 * cfg.eps);
    let analytic_dir: f64 = analytic.iter().zip(&u).map(|(g, u)| dot(g, u.data())).sum();
    if !report.agree(analytic_dir, numeric) {
        return Err(GradcheckFailure::Directional { analytic: analytic_dir, numeric });
    }

    if inputs.iter().map(|x| x.numel()).sum::<usize>() <= cfg.elementwise_limit {
        for (input, x) in inputs.iter().enumerate() {
            for index in 0..x.numel() {
                let at = |sign: f64| {
                    let mut xs = inputs.to_vec();
                    xs[input] = shifted(x, |i| if i == index { sign * cfg.eps } else { 0.0 });
                    phi(&xs)
                };
                let numeric = (at(1.0) - at(-1.0)) / (2.0 * cfg.eps);
                let analytic = analytic[input][index];
                if !report.agree(analytic, numeric) {
                    return Err(GradcheckFailure::Element { input, index, analytic, numeric });
                }
            }
        }
    }
    Ok(report.report)
}
// ANCHOR_END: gradcheck

/// Tolerance test and bookkeeping of one check.
struct Checker<'a> {
    cfg: &'a GradcheckConfig,
    scale: f64,
    report: GradcheckReport,
}

impl Checker<'_> {
    /// |a − n| ≤ atol·(1 + |φ|) + rtol·max(|a|, |n|).
    fn agree(&mut self, analytic: f64, numeric: f64) -> bool {
        let diff = (analytic - numeric).abs();
        let rel = diff / (analytic.abs() + numeric.abs() + 1e-300);
        self.report.comparisons += 1;
        self.report.max_relative_error = self.report.max_relative_error.max(rel);
        diff.is_finite() && diff <= self.cfg.atol * self.scale + self.cfg.rtol * analytic.abs().max(numeric.abs())
    }
}

/// x + δ, with δᵢ given per element.
fn shifted(x: &Tensor<f64>, delta: impl Fn(usize) -> f64) -> Tensor<f64> {
    let data = x.data().iter().enumerate().map(|(i, &v)| v + delta(i)).collect();
    Tensor::from_vec(data, x.shape())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
