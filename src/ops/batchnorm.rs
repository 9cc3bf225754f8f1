//! Batch normalisation (Ioffe & Szegedy 2015), training and evaluation forms.
//!
//! For each channel c, over the m = N·H·W values of a batch:
//!
//! ```text
//! μ = (1/m) Σ xᵢ          σ² = (1/m) Σ (xᵢ − μ)²        (biased, as in Algorithm 1)
//! x̂ᵢ = (xᵢ − μ) / √(σ² + ε)                            yᵢ = γ·x̂ᵢ + β
//! ```
//!
//! In training μ and σ² depend on every xᵢ, which gives the backward pass
//!
//! ```text
//! ∂L/∂β = Σ ∂L/∂yᵢ        ∂L/∂γ = Σ ∂L/∂yᵢ · x̂ᵢ
//! ∂L/∂xᵢ = γ / (m·√(σ² + ε)) · (m·∂L/∂yᵢ − ∂L/∂β − x̂ᵢ·∂L/∂γ)
//! ```
//!
//! In evaluation μ and σ² are fixed running averages, so BN is the affine map
//! y = γ/√(σ²+ε) · x + (β − γμ/√(σ²+ε)) — which is why it can be folded into
//! the preceding convolution.

use crate::tensor::{Element, Tensor};
use rayon::prelude::*;

/// The per-channel statistics of one training batch (σ² biased).
#[derive(Clone, Debug)]
pub struct BatchStats {
    /// μ per channel.
    pub mean: Vec<f64>,
    /// σ² per channel, divided by m (use m/(m−1)·σ² for the running average).
    pub var: Vec<f64>,
    /// m, the number of values per channel.
    pub count: usize,
}

/// `[N, C, …]` seen as (N, C, L) with L the product of the trailing axes.
fn channel_layout(op: &str, shape: &[usize]) -> (usize, usize, usize) {
    assert!(shape.len() >= 2, "{op}: expected [N, C, …], got shape {shape:?}");
    (shape[0], shape[1], shape[2..].iter().product())
}

/// For every channel, the two sums Σᵢ f(i) over that channel's offsets i, in f64.
fn channel_sums(dims: (usize, usize, usize), f: impl Fn(usize, usize) -> (f64, f64) + Sync) -> Vec<(f64, f64)> {
    let (n, c, l) = dims;
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let mut acc = (0.0, 0.0);
            for b in 0..n {
                for i in (b * c + ch) * l..(b * c + ch + 1) * l {
                    let (u, v) = f(ch, i);
                    (acc.0, acc.1) = (acc.0 + u, acc.1 + v);
                }
            }
            acc
        })
        .collect()
}

/// Applies `f(channel, offset)` to fill a tensor of `(N, C, L)` layout, in parallel.
fn fill_per_channel<E: Element>(dims: (usize, usize, usize), f: impl Fn(usize, usize) -> E + Sync) -> Vec<E> {
    let (n, c, l) = dims;
    let mut out = vec![E::ZERO; n * c * l];
    out.par_chunks_mut(l.max(1)).enumerate().for_each(|(plane, chunk)| {
        chunk.iter_mut().enumerate().for_each(|(j, v)| *v = f(plane % c, plane * l + j));
    });
    out
}

/// ∂L/∂γ = Σ ∂L/∂y·x̂ and ∂L/∂β = Σ ∂L/∂y per channel, from the sums (Σ ∂L/∂y, Σ ∂L/∂y·x̂).
fn gamma_beta_grads<E: Element>(sums: &[(f64, f64)]) -> [Option<Tensor<E>>; 2] {
    let c = sums.len();
    let d_gamma = sums.iter().map(|s| E::from_f64(s.1)).collect();
    let d_beta = sums.iter().map(|s| E::from_f64(s.0)).collect();
    [Some(Tensor::from_vec(d_gamma, &[c])), Some(Tensor::from_vec(d_beta, &[c]))]
}

fn check_params<E: Element>(op: &str, c: usize, gamma: &Tensor<E>, beta: &Tensor<E>) {
    assert!(
        gamma.shape == [c] && beta.shape == [c],
        "{op}: gamma {:?} and beta {:?} must both be [{c}]",
        gamma.shape,
        beta.shape
    );
}

impl<E: Element> Tensor<E> {
    // ANCHOR: train
    /// Training-mode batch norm over axis 1 of `[N, C, …]`, with batch
    /// statistics; returns them too, for the running averages.
    pub fn batch_norm_train(&self, gamma: &Tensor<E>, beta: &Tensor<E>, eps: f64) -> (Tensor<E>, BatchStats) {
        let dims @ (n, c, l) = channel_layout("batch_norm", &self.shape);
        check_params("batch_norm", c, gamma, beta);
        let m = (n * l) as f64;
        let x = self.data.clone();
        let sums = channel_sums(dims, |_, i| (x[i].to_f64(), 0.0));
        let mean: Vec<f64> = sums.iter().map(|s| s.0 / m).collect();
        let sq = channel_sums(dims, |ch, i| ((x[i].to_f64() - mean[ch]).powi(2), 0.0));
        let var: Vec<f64> = sq.iter().map(|s| s.0 / m).collect();
        let inv_std: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        let (g, b) = (gamma.data.clone(), beta.data.clone());
        let y = fill_per_channel(dims, |ch, i| {
            let x_hat = (x[i].to_f64() - mean[ch]) * inv_std[ch];
            E::from_f64(g[ch].to_f64() * x_hat) + b[ch]
        });
        let stats = BatchStats { mean: mean.clone(), var, count: n * l };
        let shape = self.shape.clone();
        let out = Tensor::from_op("batch_norm", y, &self.shape, &[self, gamma, beta], move |dy| {
            let dy = dy.data.clone();
            let x_hat = |ch: usize, i: usize| (x[i].to_f64() - mean[ch]) * inv_std[ch];
            // ∂L/∂β = Σ ∂L/∂y,  ∂L/∂γ = Σ ∂L/∂y · x̂
            let sums = channel_sums(dims, |ch, i| (dy[i].to_f64(), dy[i].to_f64() * x_hat(ch, i)));
            let dx = fill_per_channel(dims, |ch, i| {
                let (d_beta, d_gamma) = sums[ch];
                let k = g[ch].to_f64() * inv_std[ch] / m;
                E::from_f64(k * (m * dy[i].to_f64() - d_beta - x_hat(ch, i) * d_gamma))
            });
            let [d_gamma, d_beta] = gamma_beta_grads(&sums);
            vec![Some(Tensor::from_vec(dx, &shape)), d_gamma, d_beta]
        });
        (out, stats)
    }
    // ANCHOR_END: train

    // ANCHOR: eval
    /// Evaluation-mode batch norm with fixed statistics: an affine map per
    /// channel, y = γ·(x − μ)/√(σ² + ε) + β. Gradients flow to x, γ and β
    /// (Grad-CAM differentiates through a model in evaluation mode).
    pub fn batch_norm_eval(
        &self,
        gamma: &Tensor<E>,
        beta: &Tensor<E>,
        running_mean: &[f64],
        running_var: &[f64],
        eps: f64,
    ) -> Tensor<E> {
        let dims @ (_, c, _) = channel_layout("batch_norm_eval", &self.shape);
        check_params("batch_norm_eval", c, gamma, beta);
        assert!(
            running_mean.len() == c && running_var.len() == c,
            "batch_norm_eval: running statistics must have {c} channels"
        );
        let inv_std: Vec<f64> = running_var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        let mean = running_mean.to_vec();
        let (x, g, b) = (self.data.clone(), gamma.data.clone(), beta.data.clone());
        let y = fill_per_channel(dims, |ch, i| {
            E::from_f64(g[ch].to_f64() * (x[i].to_f64() - mean[ch]) * inv_std[ch]) + b[ch]
        });
        let shape = self.shape.clone();
        Tensor::from_op("batch_norm_eval", y, &self.shape, &[self, gamma, beta], move |dy| {
            let dy = dy.data.clone();
            let x_hat = |ch: usize, i: usize| (x[i].to_f64() - mean[ch]) * inv_std[ch];
            let sums = channel_sums(dims, |ch, i| (dy[i].to_f64(), dy[i].to_f64() * x_hat(ch, i)));
            // ∂L/∂x = ∂L/∂y · γ/√(σ²+ε): the statistics are constants here
            let dx = fill_per_channel(dims, |ch, i| E::from_f64(dy[i].to_f64() * g[ch].to_f64() * inv_std[ch]));
            let [d_gamma, d_beta] = gamma_beta_grads(&sums);
            vec![Some(Tensor::from_vec(dx, &shape)), d_gamma, d_beta]
        })
    }
    // ANCHOR_END: eval
}
