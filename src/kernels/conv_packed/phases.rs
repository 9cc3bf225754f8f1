//! ∂L/∂x of a strided convolution as s² stride-1 convolutions of ∂L/∂Y, one per phase of the input, each run by the packed forward kernel.
//!
//! At stride s an input pixel y is read by kernel row i only when
//! y + p − i is a multiple of s, so the rows y ≡ r (mod s) — one *phase* —
//! receive their gradient from the taps i ≡ r + p (mod s) alone:
//!
//!   ∂L/∂x[c, r + s·y′] = Σ_{o, t} ∂L/∂Y[o, y′ + ⌊(r + p)/s⌋ − t] · w[o, c, i₀ + s·t],  i₀ = (r + p) mod s,
//!
//! the same in x. Read with the taps reversed, that is a stride-1
//! correlation of ∂L/∂Y with a (kh/s) × (kw/s) slice of the flipped,
//! transposed kernel: at stride 2 and 3 × 3, slices of 1 × 1, 1 × 2, 2 × 1
//! and 2 × 2 taps, which together do the multiply–adds of one forward
//! convolution and nothing more. The im2col path instead multiplies
//! Wᵀ · ∂L/∂Y into a column matrix and adds it back with col2im.

use super::{as_slots, forward_image, pack, ChannelsLast, Packed};
use crate::kernels::{zeroed_chunks, KernelSet};
use crate::tensor::conv_shape::{Conv2dConfig, Geometry};

/// One axis of one phase: the input positions `r`, `r + s`, … (`count` of
/// them) and the taps `first_tap`, `first_tap + s`, … (`taps` of them) that
/// reach them, summed as a stride-1 correlation over ∂L/∂Y padded by `pad`
/// on both sides, whose output `offset + k` is the phase's position k.
#[derive(Clone, Copy, Debug, PartialEq)]
struct AxisPhase {
    count: usize,
    first_tap: usize,
    taps: usize,
    pad: usize,
    offset: usize,
}

/// The phase `r` of an axis of `size` inputs, `out` outputs, kernel `k`,
/// stride `s` and padding `p` (dilation 1); `None` when no input or no tap
/// falls in it (its gradient is zero).
fn axis_phase(r: usize, size: usize, out: usize, k: usize, s: usize, p: usize) -> Option<AxisPhase> {
    let count = size.checked_sub(r).filter(|&n| n > 0)?.div_ceil(s);
    let first_tap = (r + p) % s;
    let taps = k.checked_sub(first_tap).filter(|&n| n > 0)?.div_ceil(s);
    // tap t (from first_tap) of position y′ reads ∂L/∂Y row y′ + (r + p)/s − t;
    // reversed (t′ = taps − 1 − t), row y′ − lead + t′
    let lead = (taps - 1) as isize - ((r + p) / s) as isize;
    let tail = count as isize + taps as isize - 1 - lead - out as isize;
    let pad = lead.max(tail).max(0);
    Some(AxisPhase { count, first_tap, taps, pad: pad as usize, offset: (pad - lead) as usize })
}

/// One phase (r_y, r_x): its two axes, the stride-1 convolution of ∂L/∂Y
/// that computes it and that convolution's packed weights.
struct Phase {
    origin: (usize, usize),
    rows: AxisPhase,
    cols: AxisPhase,
    geometry: Geometry,
    packed: Packed,
}

impl Phase {
    /// Phase `origin` of convolution `g`'s input gradient, `None` if it is zero.
    fn new(origin: (usize, usize), weight: &[f32], g: &Geometry, set: KernelSet) -> Option<Phase> {
        let ((sy, sx), (py, px)) = (g.cfg.stride, g.cfg.padding);
        let rows = axis_phase(origin.0, g.h, g.oh, g.kh, sy, py)?;
        let cols = axis_phase(origin.1, g.w, g.ow, g.kw, sx, px)?;
        // w′[c, o, t′, u′] = w[o, c, first + s·(taps − 1 − t′)] in both axes
        let (th, tw) = (rows.taps, cols.taps);
        let mut slice = Vec::with_capacity(g.c_in * g.c_out * th * tw);
        for c in 0..g.c_in {
            for o in 0..g.c_out {
                for t in (0..th).rev().map(|t| rows.first_tap + sy * t) {
                    for u in (0..tw).rev().map(|u| cols.first_tap + sx * u) {
                        slice.push(weight[((o * g.c_in + c) * g.kh + t) * g.kw + u]);
                    }
                }
            }
        }
        let cfg = Conv2dConfig { stride: (1, 1), padding: (rows.pad, cols.pad), dilation: (1, 1), groups: 1 };
        let geometry = Geometry::new(&[g.n, g.c_out, g.oh, g.ow], &[g.c_in, g.c_out, th, tw], cfg);
        debug_assert!(rows.offset + rows.count <= geometry.oh && cols.offset + cols.count <= geometry.ow);
        let packed = pack(&slice, &geometry, set);
        Some(Phase { origin, rows, cols, geometry, packed })
    }

    /// Writes the phase's values of one image's ∂L/∂x, `out` holding that
    /// phase's convolution output: dx[c, r_y + s·y′, r_x + s·x′] = out[c, y′ + offset, x′ + offset].
    fn scatter(&self, out: &[f32], g: &Geometry, dx: &mut [f32]) {
        let ((sy, sx), (oh, ow)) = (g.cfg.stride, (self.geometry.oh, self.geometry.ow));
        for (plane, dx_c) in out.chunks_exact(oh * ow).zip(dx.chunks_exact_mut(g.h * g.w)) {
            for y in 0..self.rows.count {
                let from = &plane[(y + self.rows.offset) * ow + self.cols.offset..][..self.cols.count];
                let to = &mut dx_c[(self.origin.0 + sy * y) * g.w + self.origin.1..];
                to.iter_mut().step_by(sx).zip(from).for_each(|(d, &v)| *d = v);
            }
        }
    }
}

// ANCHOR: input_grad_strided
/// ∂L/∂x of convolution `g` (stride > 1, dilation 1, groups 1) with kernel
/// set `set`: image by image in parallel, each phase's convolution of the
/// image's ∂L/∂Y, scattered into its rows and columns of ∂L/∂x (zero where
/// no tap reaches).
pub(super) fn input_grad(dy: &[f32], weight: &[f32], g: &Geometry, set: KernelSet) -> Vec<f32> {
    let (sy, sx) = g.cfg.stride;
    let origins = (0..sy).flat_map(|ry| (0..sx).map(move |rx| (ry, rx)));
    let phases: Vec<Phase> = origins.filter_map(|origin| Phase::new(origin, weight, g, set)).collect();
    let scratch = || {
        let buffers = |phase: &Phase| (ChannelsLast::new(&phase.geometry), vec![0.0; phase.geometry.out_image()]);
        phases.iter().map(buffers).collect::<Vec<_>>()
    };
    let (in_img, out_img) = (g.in_image(), g.out_image());
    zeroed_chunks(g.n * in_img, in_img, scratch, |buffers, n, dx_n| {
        let dy_n = &dy[n * out_img..(n + 1) * out_img];
        for (phase, (image, out)) in phases.iter().zip(buffers.iter_mut()) {
            forward_image(dy_n, &phase.packed, &phase.geometry, image, as_slots(out));
            phase.scatter(out, g, dx_n);
        }
    })
}
// ANCHOR_END: input_grad_strided

#[cfg(test)]
mod tests {
    use super::*;

    /// At stride 2 with a 3 × 3 kernel and padding 1, the even rows take the
    /// middle tap alone and the odd ones the outer two; the odd phase needs
    /// one row of zeros below ∂L/∂Y (its last row reads past it).
    #[test]
    fn phases_of_a_3x3_stride_2_axis() {
        let even = axis_phase(0, 32, 16, 3, 2, 1).unwrap();
        assert_eq!(even, AxisPhase { count: 16, first_tap: 1, taps: 1, pad: 0, offset: 0 });
        let odd = axis_phase(1, 32, 16, 3, 2, 1).unwrap();
        assert_eq!(odd, AxisPhase { count: 16, first_tap: 0, taps: 2, pad: 1, offset: 1 });
        // a 1 × 1 kernel at stride 2 reaches only the even positions
        assert_eq!(axis_phase(1, 32, 16, 1, 2, 0), None);
        // an input too small to have a position in the phase
        assert_eq!(axis_phase(2, 2, 1, 3, 3, 0), None);
    }
}
