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
use std::ops::Range;

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

/// For every channel, the two sums of `f(channel, plane)` over its N planes
/// (`plane` is the index range of one image's map of that channel), in f64,
/// added in batch order so the result does not depend on the thread count.
fn channel_sums(dims: (usize, usize, usize), f: impl Fn(usize, Range<usize>) -> (f64, f64) + Sync) -> Vec<(f64, f64)> {
    let (n, c, l) = dims;
    let per_channel = |ch: usize| {
        let planes = (0..n).map(|b| f(ch, (b * c + ch) * l..(b * c + ch + 1) * l));
        planes.fold((0.0, 0.0), |acc, s| (acc.0 + s.0, acc.1 + s.1))
    };
    (0..c).into_par_iter().map(per_channel).collect()
}

/// A new `(N, C, L)` buffer, plane by plane in parallel: the plane of
/// channel `ch` at index range `plane` takes the values `f(ch, plane)`.
fn fill_planes<E: Element, I: IntoIterator<Item = E>>(
    dims: (usize, usize, usize),
    f: impl Fn(usize, Range<usize>) -> I + Sync,
) -> Vec<E> {
    let (n, c, l) = dims;
    super::fill_chunks(n * c * l, l, |plane| f(plane % c, plane * l..(plane + 1) * l))
}

/// One normalised value, y = (x − μ)·k + β with k = γ/√(σ² + ε): the
/// expression every batch-norm path (training, evaluation, the fused
/// convolution epilogue, the ReLU mask) evaluates, written once so that they
/// all round the same way.
#[inline]
pub(crate) fn normalize<E: Element>(x: E, mu: E, k: E, b: E) -> E {
    (x - mu) * k + b
}

/// max(0, v), as every fused path writes it (the same test as the `relu` op).
#[inline]
pub(crate) fn relu<E: Element>(v: E) -> E {
    if v > E::ZERO {
        v
    } else {
        E::ZERO
    }
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

// ANCHOR: lane_sums
/// The two sums Σ term(a[i], b[i]) over a plane, in f64, with eight running
/// partial sums each (lane j adds the terms i ≡ j mod 8, then the lanes are
/// added in order). One running sum would make every addition wait for the
/// previous one; eight independent ones let the compiler use vector
/// registers, and because the order is fixed the result is the same on every
/// run and thread count.
fn lane_sums<E: Element>(a: &[E], b: &[E], term: impl Fn(E, E) -> (f64, f64)) -> (f64, f64) {
    super::vectorized(
        #[inline(always)]
        || lane_sums_inline(a, b, term),
    )
}

/// The loops of [`lane_sums`], always inlined so that `vectorized` compiles
/// them for wide vectors: per block of 64 values, first every term (one
/// loop, no dependence between values), then the lane sums, eight terms at
/// a time added to the eight lanes as one array (value i goes to lane
/// i mod 8, in order) — written this way, both become vector instructions.
#[inline(always)]
fn lane_sums_inline<E: Element>(a: &[E], b: &[E], term: impl Fn(E, E) -> (f64, f64)) -> (f64, f64) {
    const LANES: usize = 8;
    const BLOCK: usize = 8 * LANES;
    let (mut first, mut second) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (a_blocks, b_blocks) = (a.chunks_exact(BLOCK), b.chunks_exact(BLOCK));
    let (a_rest, b_rest) = (a_blocks.remainder(), b_blocks.remainder());
    for (block_a, block_b) in a_blocks.zip(b_blocks) {
        let (mut terms1, mut terms2) = ([0.0f64; BLOCK], [0.0f64; BLOCK]);
        for j in 0..BLOCK {
            (terms1[j], terms2[j]) = term(block_a[j], block_b[j]);
        }
        for (row1, row2) in terms1.chunks_exact(LANES).zip(terms2.chunks_exact(LANES)) {
            first = std::array::from_fn(|lane| first[lane] + row1[lane]);
            second = std::array::from_fn(|lane| second[lane] + row2[lane]);
        }
    }
    // the rest starts at a multiple of 8, so value j of it belongs to lane j mod 8
    for (j, (&va, &vb)) in a_rest.iter().zip(b_rest).enumerate() {
        let (t1, t2) = term(va, vb);
        (first[j % LANES], second[j % LANES]) = (first[j % LANES] + t1, second[j % LANES] + t2);
    }
    (first.iter().sum(), second.iter().sum())
}
// ANCHOR_END: lane_sums

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

// ANCHOR: normalization
/// What training-mode batch norm computes from a batch before it writes y,
/// and keeps for the backward pass: the statistics and, per channel in the
/// element type, [μ, k, β] with k = γ/√(σ² + ε), so that y = (x − μ)·k + β.
struct Normalization<E> {
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
    fn of_batch(op: &str, x: &Tensor<E>, gamma: &Tensor<E>, beta: &Tensor<E>, eps: f64) -> Self {
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
    fn stats(&self) -> BatchStats {
        BatchStats { mean: self.mean.clone(), var: self.var.clone(), count: self.dims.0 * self.dims.2 }
    }

    /// y = post(normalize(x), i) for every value (i its index in x), plane by plane.
    fn apply(&self, x: &[E], post: impl Fn(E, usize) -> E + Sync) -> Vec<E> {
        fill_planes(self.dims, |ch, plane| {
            let [mu, k, b] = self.affine[ch];
            let post = &post;
            x[plane.clone()].iter().zip(plane).map(move |(&x, i)| post(normalize(x, mu, k, b), i))
        })
    }

    /// [∂L/∂x, ∂L/∂γ, ∂L/∂β] from ∂L/∂y, where batch norm's own output gets
    /// the gradient `grad([μ, k, β], x, ∂L/∂y)` (∂L/∂y itself, or masked by a ReLU after it).
    fn backward(&self, x: &[E], dy: &[E], grad: impl Fn([E; 3], E, E) -> E + Sync) -> Vec<Option<Tensor<E>>> {
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
        self.batch_norm_train_then::<false>(gamma, beta, eps)
    }
    // ANCHOR_END: train

    // ANCHOR: train_relu
    /// Training-mode batch norm followed by ReLU, in the passes of batch norm
    /// alone: the forward pass clamps as it writes y, the backward pass reads
    /// ∂L/∂y only where y > 0 (recomputing y's sign from x). The same values
    /// as `batch_norm_train` then `relu`, one pass over the batch fewer each way.
    pub fn batch_norm_relu_train(&self, gamma: &Tensor<E>, beta: &Tensor<E>, eps: f64) -> (Tensor<E>, BatchStats) {
        self.batch_norm_train_then::<true>(gamma, beta, eps)
    }
    // ANCHOR_END: train_relu

    // ANCHOR: train_impl
    /// Batch norm in training mode, followed by ReLU when `RELU` (a constant,
    /// so each version is compiled without the other's test).
    fn batch_norm_train_then<const RELU: bool>(
        &self,
        gamma: &Tensor<E>,
        beta: &Tensor<E>,
        eps: f64,
    ) -> (Tensor<E>, BatchStats) {
        let name = if RELU { "batch_norm+relu" } else { "batch_norm" };
        let norm = Normalization::of_batch(name, self, gamma, beta, eps);
        let x = self.data.clone();
        let y = norm.apply(&x, |v, _| if RELU { relu(v) } else { v });
        let stats = norm.stats();
        let out = Tensor::from_op(name, y, &self.shape, &[self, gamma, beta], move |dy| {
            // with ReLU after it, batch norm sees ∂L/∂y only where y > 0
            // (y's sign recomputed from x exactly as the forward pass computed y)
            norm.backward(&x, &dy.data, |[mu, k, b], x, d| {
                if RELU {
                    std::hint::select_unpredictable(normalize(x, mu, k, b) > E::ZERO, d, E::ZERO)
                } else {
                    d
                }
            })
        });
        (out, stats)
    }
    // ANCHOR_END: train_impl

    // ANCHOR: train_add_relu
    /// The tail of a residual block, y = ReLU(BN(x) + r), as one op:
    /// training-mode batch norm of x, plus the shortcut r, clamped as it is
    /// written. Going back, ∂L/∂r = ∂L/∂y · [y > 0], and batch norm's output
    /// gets that same gradient. The same values as `batch_norm_train`, `add`
    /// and `relu` one after the other, without the two middle tensors.
    pub fn batch_norm_add_relu_train(
        &self,
        gamma: &Tensor<E>,
        beta: &Tensor<E>,
        residual: &Tensor<E>,
        eps: f64,
    ) -> (Tensor<E>, BatchStats) {
        let name = "batch_norm+add+relu";
        assert!(
            residual.shape == self.shape,
            "{name}: the residual {:?} must have the shape of the input {:?}",
            residual.shape,
            self.shape
        );
        let norm = Normalization::of_batch(name, self, gamma, beta, eps);
        let (x, r) = (self.data.clone(), residual.data.clone());
        let y = Tensor::from_vec(norm.apply(&x, |v, i| relu(v + r[i])), &self.shape);
        let (stats, y_saved, shape) = (norm.stats(), y.data.clone(), self.shape.clone());
        let out = y.recorded(name, &[self, gamma, beta, residual], move |dy| {
            // y is the next layer's input, kept alive anyway: its sign is the mask
            let d_sum =
                super::zip_map(&dy.data, &y_saved, |d, y| std::hint::select_unpredictable(y > E::ZERO, d, E::ZERO));
            let mut grads = norm.backward(&x, &d_sum, |_, _, d| d);
            grads.push(Some(Tensor::from_vec(d_sum, &shape)));
            grads
        });
        (out, stats)
    }
    // ANCHOR_END: train_add_relu

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

#[cfg(test)]
mod tests {
    use super::*;

    /// `vectorized` may only change how many values an instruction handles,
    /// never the result: the sums with and without it are the same bits, and
    /// the same as adding value i into lane i mod 8 one value at a time.
    #[test]
    fn lane_sums_are_the_same_bits_with_and_without_wide_vectors() {
        // f64 values with full mantissas, so that a different order of additions rounds differently
        let values = |seed: f64, len: usize| -> Vec<f64> { (0..len).map(|i| (i as f64 * seed).sin() - 0.3).collect() };
        for len in [0, 5, 8, 63, 64, 65, 1000, 1024] {
            let (x, dy) = (values(1.1, len), values(7.3, len));
            let term = |v: f64, d: f64| {
                let masked = std::hint::select_unpredictable(normalize(v, 0.1, 1.7, -0.05) > 0.0, d, 0.0);
                (masked, (v - 0.2) * masked)
            };
            // the order the doc comment promises: value i into lane i mod 8, then the lanes in order
            let mut lanes = [[0.0f64; 8]; 2];
            for (i, (&v, &d)) in x.iter().zip(&dy).enumerate() {
                let (t1, t2) = term(v, d);
                (lanes[0][i % 8], lanes[1][i % 8]) = (lanes[0][i % 8] + t1, lanes[1][i % 8] + t2);
            }
            let bits = |(a, b): (f64, f64)| (a.to_bits(), b.to_bits());
            let reference = bits((lanes[0].iter().sum(), lanes[1].iter().sum()));
            assert_eq!(bits(lane_sums(&x, &dy, term)), reference, "vectorized, len {len}");
            assert_eq!(bits(lane_sums_inline(&x, &dy, term)), reference, "plain, len {len}");
        }
    }
}
