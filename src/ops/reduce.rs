//! Reductions over axes: sum, mean and max, plus argmax.
//!
//! Reducing axes of x gives y with those axes of size 1. Each input element
//! contributes to exactly one output element, so the backward passes are:
//! sum — every contributor receives ∂L/∂y (broadcast back);
//! mean — the same divided by the count; max — only the winner receives it.

use crate::tensor::shape::{broadcast_strides, contiguous_strides, for_each_offset2, normalize_axis, numel};
use crate::tensor::{Element, Tensor};

/// The axes, normalised, sorted and without repeats.
fn normalize_axes(op: &str, axes: &[isize], rank: usize) -> Vec<usize> {
    let mut out: Vec<usize> = axes.iter().map(|&a| normalize_axis(op, a, rank)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The input shape with the reduced axes set to 1.
fn kept_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    let mut kept = shape.to_vec();
    for &a in axes {
        kept[a] = 1;
    }
    kept
}

/// The input shape with the reduced axes removed.
fn dropped_shape(shape: &[usize], axes: &[usize]) -> Vec<usize> {
    let kept = shape.iter().enumerate().filter(|(i, _)| !axes.contains(i));
    kept.map(|(_, &d)| d).collect()
}

impl<E: Element> Tensor<E> {
    // ANCHOR: sum_axes
    /// Σ over `axes` (negative axes count from the end).
    /// ∂L/∂x = ∂L/∂y broadcast back over the reduced axes.
    pub fn sum_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<E> {
        let axes = normalize_axes("sum", axes, self.rank());
        let kept = kept_shape(&self.shape, &axes);
        let mut out = vec![E::ZERO; numel(&kept)];
        if out.len() == 1 {
            // everything reduced: one sequential sum, accumulated in f64
            out[0] = E::from_f64(self.data.iter().map(|v| v.to_f64()).sum());
        } else if !self.data.is_empty() && axes.iter().enumerate().all(|(i, &a)| a == self.rank() - axes.len() + i) {
            // the trailing axes (global pooling): each output sums one contiguous run, in order
            let run = self.data.len() / out.len();
            for (o, chunk) in out.iter_mut().zip(self.data.chunks_exact(run)) {
                *o = chunk.iter().fold(E::ZERO, |acc, &v| acc + v);
            }
        } else {
            let out_strides = broadcast_strides(&kept, &self.shape);
            let in_strides = contiguous_strides(&self.shape);
            for_each_offset2(&self.shape, &in_strides, &out_strides, |i, o| out[o] += self.data[i]);
        }
        let shape = if keepdim { kept.clone() } else { dropped_shape(&self.shape, &axes) };
        let input_shape = self.shape.clone();
        Tensor::from_op("sum", out, &shape, &[self], move |g| vec![Some(g.reshape(&kept).broadcast_to(&input_shape))])
    }
    // ANCHOR_END: sum_axes

    /// Σ of all elements, as a 0-dimensional tensor.
    pub fn sum(&self) -> Tensor<E> {
        let all: Vec<isize> = (0..self.rank() as isize).collect();
        self.sum_axes(&all, false)
    }

    /// Mean over `axes`: the sum divided by the number of reduced elements.
    pub fn mean_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<E> {
        let norm = normalize_axes("mean", axes, self.rank());
        let count: usize = norm.iter().map(|&a| self.shape[a]).product();
        self.sum_axes(axes, keepdim).mul_scalar(1.0 / count as f64)
    }

    /// Mean of all elements.
    pub fn mean(&self) -> Tensor<E> {
        self.sum().mul_scalar(1.0 / self.numel().max(1) as f64)
    }

    // ANCHOR: max_axes
    /// Max over `axes`. ∂L/∂x is ∂L/∂y at the (first) maximal element of each
    /// group and 0 elsewhere.
    pub fn max_axes(&self, axes: &[isize], keepdim: bool) -> Tensor<E> {
        let axes = normalize_axes("max", axes, self.rank());
        let kept = kept_shape(&self.shape, &axes);
        let (values, winners) = self.max_with_winners(&kept);
        let shape = if keepdim { kept } else { dropped_shape(&self.shape, &axes) };
        let input_shape = self.shape.clone();
        Tensor::from_op("max", values, &shape, &[self], move |g| {
            let mut dx = super::zeros(numel(&input_shape));
            for (&winner, &gv) in winners.iter().zip(g.data.iter()) {
                dx[winner] += gv;
            }
            vec![Some(Tensor::from_vec(dx, &input_shape))]
        })
    }
    // ANCHOR_END: max_axes

    /// Maxima of the groups that reduce to `kept`, and the offset of each winner.
    fn max_with_winners(&self, kept: &[usize]) -> (Vec<E>, Vec<usize>) {
        let n_out = numel(kept);
        let mut values = vec![E::NEG_INFINITY; n_out];
        let mut winners = vec![usize::MAX; n_out];
        let out_strides = broadcast_strides(kept, &self.shape);
        let in_strides = contiguous_strides(&self.shape);
        for_each_offset2(&self.shape, &in_strides, &out_strides, |i, o| {
            if winners[o] == usize::MAX || self.data[i] > values[o] {
                values[o] = self.data[i];
                winners[o] = i;
            }
        });
        (values, winners)
    }

    /// Index of the maximum along `axis` for every position of the other axes
    /// (row-major order): for logits `[N, C]` and axis 1, the predicted classes.
    pub fn argmax(&self, axis: isize) -> Vec<usize> {
        let axis = normalize_axis("argmax", axis, self.rank());
        let kept = kept_shape(&self.shape, &[axis]);
        let stride = contiguous_strides(&self.shape)[axis];
        let (_, winners) = self.max_with_winners(&kept);
        winners.iter().map(|w| (w / stride) % self.shape[axis]).collect()
    }
}
