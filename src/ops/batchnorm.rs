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

use crate::kernels::lane_sums::{channel_sums, fill_planes, lane_sums};
use crate::tensor::{Element, Tensor};

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

/// One normalised value, y = (x − μ)·k + β with k = γ/√(σ² + ε): the
/// expression every batch-norm path (training, evaluation, the fused
/// convolution epilogue, the ReLU mask) evaluates, written once so that they
/// all round the same way.
#[inline]
pub(crate) fn normalize<E: Element>(x: E, mu: E, k: E, b: E) -> E {
    (x - mu) * k + b
}

/// Evaluation-mode batch norm as μ and k = γ/√(σ² + ε) per channel, so
/// that y = (x − μ)·k + β. One helper for the op and for the fused
/// inference pass of a convolution, so the two give the same bits.
pub(crate) fn eval_affine<E: Element>(
    gamma: &[E],
    running_mean: &[f64],
    running_var: &[f64],
    eps: f64,
) -> (Vec<E>, Vec<E>) {
    let affine = gamma.iter().zip(running_mean.iter().zip(running_var));
    affine.map(|(&g, (&m, &v))| (E::from_f64(m), E::from_f64(g.to_f64() * (1.0 / (v + eps).sqrt())))).unzip()
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

// ANCHOR: moments
/// μ and σ² (biased) of every channel in one pass over the batch. Summing
/// x and x² and using σ² = E[x²] − μ² would lose every digit of σ² when
/// |μ| ≫ σ; summing the shifted values dᵢ = xᵢ − K with K one of the
/// channel's own values (so K is within a few σ of μ) keeps them:
/// μ = K + Σd/m,  σ² = Σd²/m − (Σd/m)², in f64.
fn mean_and_variance<E: Element>(x: &[E], dims: (usize, usize, usize)) -> (Vec<f64>, Vec<f64>) {
    let (n, _, l) = dims;
    let m = (n * l) as f64;
    let shift = |ch: usize| x.get(ch * l).map_or(0.0, |v| v.to_f64()); // image 0's first value of channel ch
    let sums = channel_sums(dims, |ch, plane| {
        let k = shift(ch);
        lane_sums(&x[plane.clone()], &x[plane], |v, _| {
            let d = v.to_f64() - k;
            (d, d * d)
        })
    });
    let moments =
        sums.iter().enumerate().map(|(ch, &(s1, s2))| (shift(ch) + s1 / m, (s2 / m - (s1 / m).powi(2)).max(0.0)));
    moments.unzip()
}
// ANCHOR_END: moments

// ANCHOR: normalization
/// What training-mode batch norm computes from a batch before it writes y,
/// and keeps for the backward pass: the statistics and, per channel in the
/// element type, [μ, k, β] with k = γ/√(σ² + ε), so that y = (x − μ)·k + β.
pub(crate) struct Normalization<E> {
    shape: Vec<usize>,
    dims: (usize, usize, usize),
    mean: Vec<f64>,
    var: Vec<f64>,
    inv_std: Vec<f64>,
    gamma: Vec<f64>,
    affine: Vec<[E; 3]>,
}

impl<E: Element> Normalization<E> {
    /// μ, σ² and the per-channel coefficients of the batch `x`.
    pub(crate) fn of_batch(op: &str, x: &Tensor<E>, gamma: &Tensor<E>, beta: &Tensor<E>, eps: f64) -> Self {
        let dims @ (_, c, _) = channel_layout(op, &x.shape);
        check_params(op, c, gamma, beta);
        let (mean, var) = mean_and_variance(&x.data, dims);
        let inv_std: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        let gamma: Vec<f64> = gamma.data.iter().map(|g| g.to_f64()).collect();
        let affine = (0..c).map(|ch| [E::from_f64(mean[ch]), E::from_f64(gamma[ch] * inv_std[ch]), beta.data[ch]]);
        let affine = affine.collect();
        Normalization { shape: x.shape.clone(), dims, mean, var, inv_std, gamma, affine }
    }

    /// The batch statistics, for the running averages.
    pub(crate) fn stats(&self) -> BatchStats {
        BatchStats { mean: self.mean.clone(), var: self.var.clone(), count: self.dims.0 * self.dims.2 }
    }

    /// y = post(normalize(x), i) for every value (i its index in x), plane by plane.
    pub(crate) fn apply(&self, x: &[E], post: impl Fn(E, usize) -> E + Sync) -> Vec<E> {
        fill_planes(self.dims, |ch, plane| {
            let [mu, k, b] = self.affine[ch];
            let post = &post;
            x[plane.clone()].iter().zip(plane).map(move |(&x, i)| post(normalize(x, mu, k, b), i))
        })
    }

    /// [∂L/∂x, ∂L/∂γ, ∂L/∂β] from ∂L/∂y, where batch norm's own output gets
    /// the gradient `grad([μ, k, β], x, ∂L/∂y)` (∂L/∂y itself, or masked by a ReLU after it).
    pub(crate) fn backward(
        &self,
        x: &[E],
        dy: &[E],
        grad: impl Fn([E; 3], E, E) -> E + Sync,
    ) -> Vec<Option<Tensor<E>>> {
        let (n, c, l) = self.dims;
        let m = (n * l) as f64;
        // ∂L/∂β = Σ ∂L/∂y,  ∂L/∂γ = Σ ∂L/∂y · x̂ = (1/√(σ²+ε)) · Σ ∂L/∂y · (x − μ)
        let sums = channel_sums(self.dims, |ch, plane| {
            let (affine, mean) = (self.affine[ch], self.mean[ch]);
            lane_sums(&x[plane.clone()], &dy[plane], |v, d| {
                let d = grad(affine, v, d).to_f64();
                (d, (v.to_f64() - mean) * d)
            })
        });
        let sums: Vec<(f64, f64)> = sums.iter().zip(&self.inv_std).map(|(s, is)| (s.0, s.1 * is)).collect();
        // ∂L/∂x = k·∂L/∂y − k·(∂L/∂β)/m − k·(∂L/∂γ)/(m·√(σ²+ε)) · (x − μ), k = γ/√(σ²+ε)
        let coefficients: Vec<[E; 3]> = (0..c)
            .map(|ch| {
                let ((d_beta, d_gamma), inv_std) = (sums[ch], self.inv_std[ch]);
                let k = self.gamma[ch] * inv_std;
                [k, k * d_beta / m, k * d_gamma * inv_std / m].map(E::from_f64)
            })
            .collect();
        let dx = fill_planes(self.dims, |ch, plane| {
            let ([k, shift, slope], affine) = (coefficients[ch], self.affine[ch]);
            let pairs = dy[plane.clone()].iter().zip(&x[plane]);
            let grad = &grad;
            pairs.map(move |(&d, &x)| k * grad(affine, x, d) - shift - slope * (x - affine[0]))
        });
        let [d_gamma, d_beta] = gamma_beta_grads(&sums);
        vec![Some(Tensor::from_vec(dx, &self.shape)), d_gamma, d_beta]
    }
}
// ANCHOR_END: normalization

impl<E: Element> Tensor<E> {
    // ANCHOR: train
    /// Training-mode batch norm over axis 1 of `[N, C, …]`, with batch
    /// statistics; returns them too, for the running averages.
    pub fn batch_norm_train(&self, gamma: &Tensor<E>, beta: &Tensor<E>, eps: f64) -> (Tensor<E>, BatchStats) {
        let norm = Normalization::of_batch("batch_norm", self, gamma, beta, eps);
        let x = self.data.clone();
        let y = norm.apply(&x, |y, _| y);
        let stats = norm.stats();
        let out = Tensor::from_op("batch_norm", y, &self.shape, &[self, gamma, beta], move |dy| {
            norm.backward(&x, &dy.data, |_, _, d| d)
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
        let (x, b) = (self.data.clone(), beta.data.clone());
        let (mu, k) = eval_affine(&gamma.data, running_mean, running_var, eps);
        let y = fill_planes(dims, |ch, plane| {
            let (mu, k, b) = (mu[ch], k[ch], b[ch]);
            x[plane].iter().map(move |&x| normalize(x, mu, k, b))
        });
        let shape = self.shape.clone();
        Tensor::from_op("batch_norm_eval", y, &self.shape, &[self, gamma, beta], move |dy| {
            let dy = dy.data.clone();
            let sums = channel_sums(dims, |ch, plane| {
                lane_sums(&x[plane.clone()], &dy[plane], |v, d| {
                    (d.to_f64(), (v.to_f64() - mean[ch]) * inv_std[ch] * d.to_f64())
                })
            });
            // ∂L/∂x = ∂L/∂y · γ/√(σ²+ε): the statistics are constants here
            let dx = fill_planes(dims, |ch, plane| {
                let k = k[ch];
                dy[plane].iter().map(move |&d| d * k)
            });
            let [d_gamma, d_beta] = gamma_beta_grads(&sums);
            vec![Some(Tensor::from_vec(dx, &shape)), d_gamma, d_beta]
        })
    }
    // ANCHOR_END: eval
}
