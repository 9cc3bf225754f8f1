//! Pooling: max and average over sliding windows, and their global versions (GAP, GMP).
//!
//! Max pooling passes the gradient to the one input that won each window;
//! average pooling spreads it evenly over the window (1/(kh·kw) each);
//! global pooling is the same with one window covering the whole map.

use crate::kernels::zeroed_chunks;
use crate::tensor::{Element, Tensor};
use rayon::prelude::*;
use std::hint::select_unpredictable;
use std::ops::Range;

/// Window size, stride and zero padding of a pooling layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dConfig {
    /// Window (height, width).
    pub kernel: (usize, usize),
    /// Step between windows (height, width).
    pub stride: (usize, usize),
    /// Padding on each side (height, width); at most half the window.
    pub padding: (usize, usize),
}

impl Pool2dConfig {
    /// A k×k window with stride k (non-overlapping) and no padding.
    pub fn new(k: usize) -> Self {
        Pool2dConfig { kernel: (k, k), stride: (k, k), padding: (0, 0) }
    }
    /// Same stride in both directions.
    pub fn stride(self, s: usize) -> Self {
        Pool2dConfig { stride: (s, s), ..self }
    }
    /// Same padding on all sides.
    pub fn padding(self, p: usize) -> Self {
        Pool2dConfig { padding: (p, p), ..self }
    }
}

/// Checked sizes of one pooling op over planes of h×w.
#[derive(Clone, Copy)]
struct Windows {
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    cfg: Pool2dConfig,
}

impl Windows {
    fn new(op: &str, shape: &[usize], cfg: Pool2dConfig) -> Self {
        let [_, _, h, w] = shape[..] else {
            panic!("{op}: expected a 4-D NCHW tensor, got shape {shape:?}");
        };
        let (k, s, p) = (cfg.kernel, cfg.stride, cfg.padding);
        assert!(
            k.0 > 0 && k.1 > 0 && s.0 > 0 && s.1 > 0 && 2 * p.0 <= k.0 && 2 * p.1 <= k.1,
            "{op}: invalid window {cfg:?} (padding may be at most half the window)"
        );
        assert!(h + 2 * p.0 >= k.0 && w + 2 * p.1 >= k.1, "{op}: window {cfg:?} does not fit input {shape:?}");
        let (oh, ow) = ((h + 2 * p.0 - k.0) / s.0 + 1, (w + 2 * p.1 - k.1) / s.1 + 1);
        Windows { h, w, oh, ow, cfg }
    }

    /// Input rows and columns under window (oy, ox): [o·s − p, o·s − p + k)
    /// clipped to the map (padding ≤ k/2 leaves at least one of each).
    fn span(&self, oy: usize, ox: usize) -> (Range<usize>, Range<usize>) {
        let (k, s, p) = (self.cfg.kernel, self.cfg.stride, self.cfg.padding);
        let rows = (oy * s.0).saturating_sub(p.0)..(oy * s.0 + k.0 - p.0).min(self.h);
        let cols = (ox * s.1).saturating_sub(p.1)..(ox * s.1 + k.1 - p.1).min(self.w);
        (rows, cols)
    }

    /// Calls `f(input_index)` for every in-bounds input pixel of window (oy, ox).
    fn visit(&self, oy: usize, ox: usize, mut f: impl FnMut(usize)) {
        let (rows, cols) = self.span(oy, ox);
        for iy in rows {
            cols.clone().for_each(|ix| f(iy * self.w + ix));
        }
    }

    // ANCHOR: max_plane
    /// Max of every window of one plane, and the index of its first winner
    /// (row-major order inside the window; a strict `>` keeps the first).
    /// The running maximum lives in registers: one load per tap, one store
    /// per output.
    fn max_plane<E: Element>(&self, x: &[E], y: &mut [E], winners: &mut [u32]) {
        for (oy, (y_row, w_row)) in y.chunks_exact_mut(self.ow).zip(winners.chunks_exact_mut(self.ow)).enumerate() {
            for (ox, (yv, wv)) in y_row.iter_mut().zip(w_row.iter_mut()).enumerate() {
                let (rows, cols) = self.span(oy, ox);
                let first = rows.start * self.w + cols.start;
                let (mut best, mut arg) = (x[first], first);
                for iy in rows.clone() {
                    let start = iy * self.w + cols.start;
                    for (i, &v) in (start..).zip(&x[start..iy * self.w + cols.end]) {
                        // Which tap wins is a coin toss on real data: a branch would be
                        // mispredicted half the time, so ask for conditional moves.
                        let wins = v > best;
                        best = select_unpredictable(wins, v, best);
                        arg = select_unpredictable(wins, i, arg);
                    }
                }
                (*yv, *wv) = (best, arg as u32);
            }
        }
    }
    // ANCHOR_END: max_plane

    // ANCHOR: max_plane_2x2
    /// [`Windows::max_plane`] for the common 2×2 window with stride 2 and no
    /// padding: every window is the pixels 2·ox, 2·ox+1 of input rows 2·oy and
    /// 2·oy+1, so a row of outputs is the same four comparisons repeated, with
    /// no window bounds to compute (same winners: taps in row-major order,
    /// strict `>`). Inside `vectorized`, though rows of 8 or 16 outputs are
    /// too short for the compiler to fill wide registers every time.
    fn max_plane_2x2<E: Element>(&self, x: &[E], y: &mut [E], winners: &mut [u32]) {
        let (w, ow) = (self.w, self.ow);
        let offsets = [0, 1, w as u32, w as u32 + 1];
        let rows = y.chunks_exact_mut(ow).zip(winners.chunks_exact_mut(ow)).enumerate();
        crate::kernels::vectorized(
            #[inline(always)]
            || {
                for (oy, (y_row, w_row)) in rows {
                    let (top, bottom) = (&x[2 * oy * w..][..2 * ow], &x[(2 * oy + 1) * w..][..2 * ow]);
                    let corner = (2 * oy * w) as u32;
                    for (ox, (yv, wv)) in y_row.iter_mut().zip(w_row.iter_mut()).enumerate() {
                        let taps = [top[2 * ox], top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1]];
                        let (mut best, mut arg) = (taps[0], offsets[0]);
                        for t in 1..4 {
                            let wins = taps[t] > best;
                            best = select_unpredictable(wins, taps[t], best);
                            arg = select_unpredictable(wins, offsets[t], arg);
                        }
                        (*yv, *wv) = (best, corner + 2 * ox as u32 + arg);
                    }
                }
            },
        );
    }
    // ANCHOR_END: max_plane_2x2

    /// [`Windows::max_plane`] for a 1×1 window without padding, ResNet's
    /// subsampling shortcut: each window is one pixel, which wins.
    fn max_plane_1x1<E: Element>(&self, x: &[E], y: &mut [E], winners: &mut [u32]) {
        let (sy, sx) = self.cfg.stride;
        for (oy, (y_row, w_row)) in y.chunks_exact_mut(self.ow).zip(winners.chunks_exact_mut(self.ow)).enumerate() {
            let row = oy * sy * self.w;
            for (ox, (yv, wv)) in y_row.iter_mut().zip(w_row.iter_mut()).enumerate() {
                (*yv, *wv) = (x[row + ox * sx], (row + ox * sx) as u32);
            }
        }
    }
}

// ANCHOR: gradient_by_plane
/// ∂L/∂x of a pooling op over an NCHW input of `input_shape`, whose planes
/// hold `plane_in` values: `scatter(dx_plane, p)` adds plane p's gradients
/// (p counting planes across the batch) into its zeroed plane. Image by
/// image, each image's ∂L/∂x is zeroed just before its gradients land on
/// it, while it is in the core's cache, not in a pass of its own.
fn gradient_by_plane<E: Element>(
    input_shape: &[usize],
    plane_in: usize,
    scatter: impl Fn(&mut [E], usize) + Sync + Send,
) -> Vec<E> {
    let channels = input_shape[1];
    zeroed_chunks(
        input_shape.iter().product(),
        channels * plane_in,
        || (),
        |_, n, dx_image| {
            for (c, dx_plane) in dx_image.chunks_exact_mut(plane_in).enumerate() {
                scatter(dx_plane, n * channels + c);
            }
        },
    )
}
// ANCHOR_END: gradient_by_plane

impl<E: Element> Tensor<E> {
    // ANCHOR: max_pool
    /// Max pooling: y = max of each window. ∂L/∂x receives ∂L/∂y at the
    /// window's (first) maximum; padding never wins.
    pub fn max_pool2d(&self, cfg: Pool2dConfig) -> Tensor<E> {
        let win = Windows::new("max_pool2d", &self.shape, cfg);
        let (plane_in, plane_out) = (win.h * win.w, win.oh * win.ow);
        let mut y = super::zeros(self.numel() / plane_in * plane_out);
        let mut winners = vec![0u32; y.len()];
        let plane_max = match (cfg.kernel, cfg.stride, cfg.padding) {
            ((2, 2), (2, 2), (0, 0)) => Windows::max_plane_2x2,
            ((1, 1), _, (0, 0)) => Windows::max_plane_1x1,
            _ => Windows::max_plane,
        };
        y.par_chunks_mut(plane_out)
            .zip(winners.par_chunks_mut(plane_out))
            .zip(self.data.par_chunks(plane_in))
            .for_each(|((y_plane, win_plane), x_plane)| plane_max(&win, x_plane, y_plane, win_plane));
        let shape = [self.shape[0], self.shape[1], win.oh, win.ow];
        let input_shape = self.shape.clone();
        Tensor::from_op("max_pool2d", y, &shape, &[self], move |g| {
            let dx = gradient_by_plane(&input_shape, plane_in, |dx_plane, p| {
                let (g_plane, win_plane) =
                    (&g.data[p * plane_out..][..plane_out], &winners[p * plane_out..][..plane_out]);
                for (&gv, &w) in g_plane.iter().zip(win_plane) {
                    dx_plane[w as usize] += gv;
                }
            });
            vec![Some(Tensor::from_vec(dx, &input_shape))]
        })
    }
    // ANCHOR_END: max_pool

    /// Average pooling: y = (1/(kh·kw)) Σ window (padding counts as zeros, as
    /// PyTorch's default). ∂L/∂x: every pixel of a window receives ∂L/∂y/(kh·kw).
    pub fn avg_pool2d(&self, cfg: Pool2dConfig) -> Tensor<E> {
        let win = Windows::new("avg_pool2d", &self.shape, cfg);
        let (plane_in, plane_out) = (win.h * win.w, win.oh * win.ow);
        let scale = E::ONE / E::from_f64((cfg.kernel.0 * cfg.kernel.1) as f64);
        let mut y = super::zeros(self.numel() / plane_in * plane_out);
        y.par_chunks_mut(plane_out).zip(self.data.par_chunks(plane_in)).for_each(|(y_plane, x_plane)| {
            for (o, yv) in y_plane.iter_mut().enumerate() {
                let mut sum = E::ZERO;
                win.visit(o / win.ow, o % win.ow, |i| sum += x_plane[i]);
                *yv = sum * scale;
            }
        });
        let shape = [self.shape[0], self.shape[1], win.oh, win.ow];
        let input_shape = self.shape.clone();
        Tensor::from_op("avg_pool2d", y, &shape, &[self], move |g| {
            let dx = gradient_by_plane(&input_shape, plane_in, |dx_plane, p| {
                for (o, &gv) in g.data[p * plane_out..][..plane_out].iter().enumerate() {
                    win.visit(o / win.ow, o % win.ow, |i| dx_plane[i] += gv * scale);
                }
            });
            vec![Some(Tensor::from_vec(dx, &input_shape))]
        })
    }

    // ANCHOR: global_pool
    /// Global average pooling (GAP): F_k = (1/(H·W)) Σ_{x,y} f_k(x, y), giving
    /// `[N, C, 1, 1]`. The layer CAM needs: its output is linear in the maps.
    pub fn global_avg_pool2d(&self) -> Tensor<E> {
        let (n, c, _, _) = self.dims4("global_avg_pool2d");
        self.mean_axes(&[2, 3], true).reshape(&[n, c, 1, 1])
    }

    /// Global max pooling (GMP): F_k = max_{x,y} f_k(x, y), giving `[N, C, 1, 1]`.
    pub fn global_max_pool2d(&self) -> Tensor<E> {
        let (n, c, _, _) = self.dims4("global_max_pool2d");
        self.max_axes(&[2, 3], true).reshape(&[n, c, 1, 1])
    }
    // ANCHOR_END: global_pool
}
