//! Softmax and log-softmax along one axis, computed stably by subtracting the maximum.
//!
//! softmax(z)ᵢ = e^{zᵢ − max z} / Σⱼ e^{zⱼ − max z}   (the shift cancels, and no exponent overflows)
//! log_softmax(z)ᵢ = zᵢ − max z − ln Σⱼ e^{zⱼ − max z}
//!
//! Backward, with y the output and g = ∂L/∂y, summing over the axis:
//! softmax:     ∂L/∂z = y ⊙ (g − Σⱼ gⱼyⱼ)
//! log_softmax: ∂L/∂z = g − softmax(z) · Σⱼ gⱼ
//!
//! These are fused ops (one pass, stable); the tests compare them with the
//! same functions composed from exp, sum and div.

use crate::tensor::shape::normalize_axis;
use crate::tensor::{Element, Tensor};
use rayon::prelude::*;

/// `[outer, len, inner]` around `axis`.
fn lanes(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (shape[..axis].iter().product(), shape[axis], shape[axis + 1..].iter().product())
}

/// Calls `f(values, out)` for every lane along the axis, with the lane gathered
/// into contiguous buffers (lanes of different outer blocks run in parallel).
fn per_lane<E: Element>(
    x: &[E],
    (outer, len, inner): (usize, usize, usize),
    f: impl Fn(&[E], &mut [E]) + Sync,
) -> Vec<E> {
    let mut out = vec![E::ZERO; x.len()];
    out.par_chunks_mut((len * inner).max(1)).enumerate().take(outer).for_each(|(o, block)| {
        let (mut lane, mut res) = (vec![E::ZERO; len], vec![E::ZERO; len]);
        for i in 0..inner {
            (0..len).for_each(|k| lane[k] = x[(o * len + k) * inner + i]);
            f(&lane, &mut res);
            (0..len).for_each(|k| block[k * inner + i] = res[k]);
        }
    });
    out
}

/// max z and ln Σ e^{z − max z} of one lane.
fn shift_and_log_sum<E: Element>(z: &[E]) -> (E, E) {
    let max = z.iter().fold(E::NEG_INFINITY, |m, &v| m.max(v));
    let sum: E = z.iter().map(|&v| (v - max).exp()).sum();
    (max, sum.ln())
}

impl<E: Element> Tensor<E> {
    // ANCHOR: softmax
    /// softmax along `axis`; ∂L/∂z = y ⊙ (g − Σ g·y).
    pub fn softmax(&self, axis: isize) -> Tensor<E> {
        let dims = lanes(&self.shape, normalize_axis("softmax", axis, self.rank()));
        let y = per_lane(&self.data, dims, |z, out| {
            let (max, log_sum) = shift_and_log_sum(z);
            z.iter().zip(out.iter_mut()).for_each(|(&v, o)| *o = (v - max - log_sum).exp());
        });
        let y = Tensor::from_vec(y, &self.shape);
        let saved = y.detach();
        y.recorded("softmax", &[self], move |g| {
            let gy = g.mul(&saved);
            let dot = per_lane(&gy.data, dims, |v, out| out.fill(v.iter().copied().sum()));
            let dz = super::zip3_map(&saved.data, &g.data, &dot, |y, g, d| y * (g - d));
            vec![Some(Tensor::from_vec(dz, &g.shape))]
        })
    }
    // ANCHOR_END: softmax

    // ANCHOR: log_softmax
    /// log softmax along `axis`; ∂L/∂z = g − softmax(z) · Σ g.
    pub fn log_softmax(&self, axis: isize) -> Tensor<E> {
        let dims = lanes(&self.shape, normalize_axis("log_softmax", axis, self.rank()));
        let y = per_lane(&self.data, dims, |z, out| {
            let (max, log_sum) = shift_and_log_sum(z);
            z.iter().zip(out.iter_mut()).for_each(|(&v, o)| *o = v - max - log_sum);
        });
        let y = Tensor::from_vec(y, &self.shape);
        let saved = y.detach();
        y.recorded("log_softmax", &[self], move |g| {
            let sum = per_lane(&g.data, dims, |v, out| out.fill(v.iter().copied().sum()));
            let dz = super::zip3_map(&saved.data, &g.data, &sum, |log_p, g, s| g - log_p.exp() * s);
            vec![Some(Tensor::from_vec(dz, &g.shape))]
        })
    }
    // ANCHOR_END: log_softmax
}
