//! Resizing feature maps: nearest-neighbour and bilinear (PyTorch's `align_corners=False`).
//!
//! Both are linear maps y = U·x whose weights depend only on the sizes, so
//! the backward pass is Uᵀ: every output pixel sends its gradient back to the
//! input pixels it was interpolated from, with the same weights.

use crate::tensor::{Element, Tensor};
use rayon::prelude::*;

/// How one output coordinate reads the input axis: two taps and their weights.
#[derive(Clone, Copy, Debug)]
struct Taps {
    lo: usize,
    hi: usize,
    w_lo: f64,
    w_hi: f64,
}

// ANCHOR: bilinear_taps
/// Bilinear taps for resizing an axis from `input` to `output` samples with
/// pixel centres aligned: src = (dst + ½)·(in/out) − ½, clamped at 0.
fn bilinear_taps(input: usize, output: usize) -> Vec<Taps> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|dst| {
            let src = ((dst as f64 + 0.5) * scale - 0.5).max(0.0);
            let lo = (src.floor() as usize).min(input - 1);
            let hi = (lo + 1).min(input - 1);
            let frac = src - lo as f64;
            Taps { lo, hi, w_lo: 1.0 - frac, w_hi: frac }
        })
        .collect()
}
// ANCHOR_END: bilinear_taps

/// Nearest taps: src = ⌊dst · in/out⌋ (PyTorch's `mode="nearest"`).
fn nearest_taps(input: usize, output: usize) -> Vec<Taps> {
    let scale = input as f64 / output as f64;
    (0..output)
        .map(|dst| {
            let src = ((dst as f64 * scale).floor() as usize).min(input - 1);
            Taps { lo: src, hi: src, w_lo: 1.0, w_hi: 0.0 }
        })
        .collect()
}

impl<E: Element> Tensor<E> {
    /// Bilinear resize of an NCHW tensor to `(height, width)`.
    pub fn upsample_bilinear(&self, size: (usize, usize)) -> Tensor<E> {
        self.resize("upsample_bilinear", size, bilinear_taps)
    }

    /// Nearest-neighbour resize of an NCHW tensor to `(height, width)`.
    pub fn upsample_nearest(&self, size: (usize, usize)) -> Tensor<E> {
        self.resize("upsample_nearest", size, nearest_taps)
    }

    // ANCHOR: resize
    /// y[oy, ox] = Σ over the 2×2 taps of wy·wx·x[iy, ix]; backward is the transpose.
    fn resize(&self, op: &'static str, (oh, ow): (usize, usize), taps: fn(usize, usize) -> Vec<Taps>) -> Tensor<E> {
        let (n, c, h, w) = self.dims4(op);
        assert!(oh > 0 && ow > 0 && h > 0 && w > 0, "{op}: cannot resize {:?} to {oh}x{ow}", self.shape);
        let (ty, tx) = (taps(h, oh), taps(w, ow));
        // the four (input index, weight) pairs that output pixel (oy, ox) reads
        let corners = move |oy: usize, ox: usize| {
            let (a, b) = (ty[oy], tx[ox]);
            [
                (a.lo, b.lo, a.w_lo * b.w_lo),
                (a.lo, b.hi, a.w_lo * b.w_hi),
                (a.hi, b.lo, a.w_hi * b.w_lo),
                (a.hi, b.hi, a.w_hi * b.w_hi),
            ]
            .map(|(iy, ix, wt)| (iy * w + ix, E::from_f64(wt)))
        };
        let mut y = super::zeros(n * c * oh * ow);
        y.par_chunks_mut(oh * ow).zip(self.data.par_chunks(h * w)).for_each(|(y_plane, x_plane)| {
            for (o, yv) in y_plane.iter_mut().enumerate() {
                *yv = corners(o / ow, o % ow).iter().map(|&(i, wt)| wt * x_plane[i]).sum();
            }
        });
        let input_shape = self.shape.clone();
        Tensor::from_op(op, y, &[n, c, oh, ow], &[self], move |g| {
            let mut dx = super::zeros(n * c * h * w);
            dx.par_chunks_mut(h * w).zip(g.data.par_chunks(oh * ow)).for_each(|(dx_plane, g_plane)| {
                for (o, &gv) in g_plane.iter().enumerate() {
                    for (i, wt) in corners(o / ow, o % ow) {
                        dx_plane[i] += wt * gv;
                    }
                }
            });
            vec![Some(Tensor::from_vec(dx, &input_shape))]
        })
    }
    // ANCHOR_END: resize
}
