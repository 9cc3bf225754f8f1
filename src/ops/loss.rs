//! Loss functions: cross-entropy (with label smoothing), binary cross-entropy with logits, MSE, L1, smooth L1.
//!
//! All return the mean over the batch as a 0-dimensional tensor. Most are
//! composed from primitive ops, so their gradients come for free; binary
//! cross-entropy is fused for numerical stability.

use super::unary::sigmoid;
use crate::tensor::{Element, Tensor};

impl<E: Element> Tensor<E> {
    // ANCHOR: cross_entropy
    /// Cross-entropy of logits `[N, C]` against integer labels:
    /// L = −(1/N) Σₙ Σ_c q_{n,c} · log softmax(zₙ)_c, with target distribution
    /// q = (1 − ε)·onehot(label) + ε/C (ε = `label_smoothing`, 0 for plain CE).
    /// Stable for any logits: log-softmax never exponentiates a large number.
    ///
    /// # Panics
    /// When there is not one label per row, or a label is not below C.
    pub fn cross_entropy(&self, labels: &[usize], label_smoothing: f64) -> Tensor<E> {
        let (n, c) = self.dims2("cross_entropy");
        assert_eq!(labels.len(), n, "cross_entropy: {n} rows of logits but {} labels", labels.len());
        let mut target = vec![E::from_f64(label_smoothing / c as f64); n * c];
        for (row, &label) in labels.iter().enumerate() {
            assert!(label < c, "cross_entropy: label {label} is out of range for {c} classes");
            target[row * c + label] += E::from_f64(1.0 - label_smoothing);
        }
        let target = Tensor::from_vec(target, &[n, c]);
        self.log_softmax(1).mul(&target).sum().mul_scalar(-1.0 / n as f64)
    }
    // ANCHOR_END: cross_entropy

    // ANCHOR: bce
    /// Binary cross-entropy on logits x against targets t ∈ [0, 1], mean over
    /// elements: ℓ = max(x, 0) − x·t + ln(1 + e^{−|x|}) (= −t ln σ(x) − (1−t) ln(1−σ(x)),
    /// without overflow). ∂ℓ/∂x = σ(x) − t. The targets are constants.
    pub fn bce_with_logits(&self, targets: &Tensor<E>) -> Tensor<E> {
        assert_eq!(
            self.shape, targets.shape,
            "bce_with_logits: logits {:?} and targets {:?} differ",
            self.shape, targets.shape
        );
        let count = E::from_f64(self.numel().max(1) as f64);
        let loss: E = self
            .data
            .iter()
            .zip(targets.data.iter())
            .map(|(&x, &t)| x.max(E::ZERO) - x * t + (E::ONE + (-x.abs()).exp()).ln())
            .sum::<E>()
            / count;
        let (x, t) = (self.detach(), targets.detach());
        Tensor::from_op("bce_with_logits", vec![loss], &[], &[self, targets], move |g| {
            let scale = g.item() / count;
            let dx = super::zip_map(&x.data, &t.data, |x, t| (sigmoid(x) - t) * scale);
            vec![Some(Tensor::from_vec(dx, &x.shape)), None]
        })
    }
    // ANCHOR_END: bce

    /// Mean squared error: (1/n) Σ (xᵢ − tᵢ)².
    pub fn mse_loss(&self, target: &Tensor<E>) -> Tensor<E> {
        self.sub(target).pow(2.0).mean()
    }

    /// Mean absolute error: (1/n) Σ |xᵢ − tᵢ|.
    pub fn l1_loss(&self, target: &Tensor<E>) -> Tensor<E> {
        self.sub(target).abs().mean()
    }

    // ANCHOR: smooth_l1
    /// Smooth L1 (Huber-like, Fast R-CNN): with d = x − t,
    /// f(d) = ½d²/β for |d| < β, |d| − ½β otherwise; f'(d) = d/β or sign(d).
    pub fn smooth_l1_loss(&self, target: &Tensor<E>, beta: f64) -> Tensor<E> {
        assert!(beta > 0.0, "smooth_l1_loss: beta = {beta} must be positive");
        let b = E::from_f64(beta);
        let half = E::from_f64(0.5);
        let f = move |d: E| {
            if d.abs() < b {
                half * d * d / b
            } else {
                d.abs() - half * b
            }
        };
        let df = move |d: E, _y: E| {
            if d.abs() < b {
                d / b
            } else if d > E::ZERO {
                E::ONE
            } else {
                -E::ONE
            }
        };
        self.sub(target).unary("smooth_l1", f, df).mean()
    }
    // ANCHOR_END: smooth_l1
}
