//! Convolution forward for f32 on AVX-512 CPUs: im2col unfolded straight into small cache-sized blocks, weights packed once, an 8×32 register-blocked micro-kernel.
//!
//! [`super::conv`] computes Y = W · cols with a general sgemm. A general
//! sgemm first copies ("packs") both operands into the order its inner
//! kernel reads them, so every image pays for im2col (a K × P matrix written
//! to memory), then for packing that matrix, then for packing the same
//! weights again. Here:
//!
//! * the weights are packed **once per call** in panels of [`MR`] output
//!   channels: panel i, tap k holds `w[i·MR + r, k]` for r = 0…MR−1;
//! * for each block of at most [`KC`] taps and each run of [`NR`] output
//!   pixels, the receptive fields are unfolded **straight from the image**
//!   into a 32 KiB block that stays in the L1 cache (the full im2col matrix
//!   is never written);
//! * the micro-kernel keeps an MR × NR block of Y in 16 vector registers
//!   (8 rows × two 16-float vectors) and, for every tap, adds the outer
//!   product of 8 weights and 32 pixels: 2 loads, 8 broadcasts, 16 FMAs.
//!
//! Every output is a sum over taps in one fixed order, so results do not
//! depend on the number of threads. Other CPUs, f64 and grouped
//! convolutions take the portable path.

use super::conv::Geometry;

/// Output channels per micro-tile (weights broadcast from the packed panel).
pub(crate) const MR: usize = 8;
/// Output pixels per micro-tile (two 16-float vectors).
pub(crate) const NR: usize = 32;
/// Taps per block of the sum over k: a pixel block (≤ 256 taps × 32 pixels
/// = 32 KiB) stays in the 48 KiB L1 cache while the weight panels stream past it.
const KC: usize = 256;

/// True when this CPU can run the packed kernel (x86-64 with AVX-512F) and
/// the environment variable `CNNLAB_NO_PACKED` is not set (set it to time
/// the portable path on the same machine). Checked once per process.
pub(crate) fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::env::var_os("CNNLAB_NO_PACKED").is_none() && std::arch::is_x86_feature_detected!("avx512f")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Floats of scratch space one image needs: one block of unfolded pixels.
pub(crate) const SCRATCH_LEN: usize = KC * NR;

/// Where one tap (c, ki, kj) reads: input pixel (y·s + dy, x·s + dx) of plane c.
#[derive(Clone, Copy, Debug)]
struct Tap {
    /// Offset of channel c's plane in the image: c·H·W.
    plane: usize,
    /// ki·dilation − padding (rows).
    dy: isize,
    /// kj·dilation − padding (columns).
    dx: isize,
}

/// A convolution's weights packed for the micro-kernel, and its tap table.
pub(crate) struct Packed {
    weights: Vec<f32>,
    taps: Vec<Tap>,
}

// ANCHOR: pack
/// Packs the weights `W` (O × K, row-major) in panels of [`MR`] rows, each
/// stored tap by tap (rows past the last output channel are zero), and
/// lists where each of the K taps reads.
pub(crate) fn pack(weight: &[f32], g: &Geometry) -> Packed {
    let (k, (sp, d)) = (g.col_rows(), (g.cfg.padding, g.cfg.dilation));
    let mut weights = vec![0.0; g.c_out.div_ceil(MR) * MR * k];
    for (i, panel) in weights.chunks_exact_mut(MR * k).enumerate() {
        for r in 0..MR.min(g.c_out - i * MR) {
            let w_row = &weight[(i * MR + r) * k..(i * MR + r + 1) * k];
            for (tap, &w) in w_row.iter().enumerate() {
                panel[tap * MR + r] = w;
            }
        }
    }
    let taps = (0..k)
        .map(|tap| {
            let (c, ki, kj) = (tap / (g.kh * g.kw), tap / g.kw % g.kh, tap % g.kw);
            let (dy, dx) = ((ki * d.0) as isize - sp.0 as isize, (kj * d.1) as isize - sp.1 as isize);
            Tap { plane: c * g.h * g.w, dy, dx }
        })
        .collect();
    Packed { weights, taps }
}
// ANCHOR_END: pack

/// A run of output pixels inside one output row: block lanes
/// `lane..lane + len` are pixels (oy, ox0…ox0 + len − 1).
#[derive(Clone, Copy, Debug, Default)]
struct Segment {
    lane: usize,
    oy: usize,
    ox0: usize,
    len: usize,
}

/// Splits the output pixels `p0..p0 + cols` at the ends of output rows.
fn segments(g: &Geometry, p0: usize, cols: usize) -> ([Segment; NR], usize) {
    let mut segments = [Segment::default(); NR];
    let (mut count, mut lane) = (0, 0);
    while lane < cols {
        let (oy, ox0) = ((p0 + lane) / g.ow, (p0 + lane) % g.ow);
        let len = (g.ow - ox0).min(cols - lane);
        segments[count] = Segment { lane, oy, ox0, len };
        (count, lane) = (count + 1, lane + len);
    }
    (segments, count)
}

// ANCHOR: unfold
/// Unfolds `taps` for the pixels of `segments` from the image into `block`
/// ([`NR`] floats per tap; lanes without a pixel or in the padding are 0):
/// block[t, lane] = x[plane_t, oy·s + dy_t, ox·s + dx_t]. The portable
/// version, used for horizontal strides > 1.
fn unfold_block(image: &[f32], g: &Geometry, taps: &[Tap], segments: &[Segment], block: &mut [f32]) {
    let (sy, sx) = g.cfg.stride;
    for (tap, dst) in taps.iter().zip(block.chunks_exact_mut(NR)) {
        dst.fill(0.0);
        for seg in segments {
            let iy = (seg.oy * sy) as isize + tap.dy;
            if iy < 0 || iy >= g.h as isize {
                continue;
            }
            let row = &image[tap.plane + iy as usize * g.w..tap.plane + (iy as usize + 1) * g.w];
            for (l, v) in dst[seg.lane..seg.lane + seg.len].iter_mut().enumerate() {
                let ix = ((seg.ox0 + l) * sx) as isize + tap.dx;
                if ix >= 0 && ix < g.w as isize {
                    *v = row[ix as usize];
                }
            }
        }
    }
}
// ANCHOR_END: unfold

/// [`unfold_block`] for horizontal stride 1, where a segment's pixels read
/// consecutive input columns: one masked vector load per 16 lanes, the mask
/// leaving out the columns that fall into the padding (they are never read).
///
/// # Safety
/// The CPU must support AVX-512F; the horizontal stride must be 1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn unfold_block_stride1(image: &[f32], g: &Geometry, taps: &[Tap], segments: &[Segment], block: &mut [f32]) {
    use std::arch::x86_64::*;
    debug_assert_eq!(g.cfg.stride.1, 1);
    let bits = |from: usize, to: usize| (((1u32 << to) - (1u32 << from)) & 0xffff) as u16;
    for (tap, dst) in taps.iter().zip(block.chunks_exact_mut(NR)) {
        let dst = dst.as_mut_ptr();
        // SAFETY: dst holds NR = 32 floats.
        unsafe {
            _mm512_storeu_ps(dst, _mm512_setzero_ps());
            _mm512_storeu_ps(dst.add(16), _mm512_setzero_ps());
        }
        for seg in segments {
            let iy = (seg.oy * g.cfg.stride.0) as isize + tap.dy;
            if iy < 0 || iy >= g.h as isize {
                continue;
            }
            // lane l of the segment reads input column ix0 + l; valid for lo ≤ l < hi
            let ix0 = seg.ox0 as isize + tap.dx;
            let (lo, hi) = ((-ix0).max(0) as usize, ((g.w as isize - ix0).max(0) as usize).min(seg.len));
            let src = image.as_ptr().wrapping_offset(tap.plane as isize + iy * g.w as isize + ix0);
            for start in (0..seg.len).step_by(16) {
                let (from, to) = (lo.clamp(start, start + 16) - start, hi.clamp(start, start + 16) - start);
                if from < to {
                    let mask = bits(from, to);
                    // SAFETY: only the lanes in `mask` are touched: input
                    // columns inside the row, block lanes inside the segment.
                    unsafe {
                        let v = _mm512_maskz_loadu_ps(mask, src.wrapping_add(start));
                        _mm512_mask_storeu_ps(dst.add(seg.lane + start), mask, v);
                    }
                }
            }
        }
    }
}

// ANCHOR: forward_image
/// Y = W · im2col(x) for one image (`groups` must be 1). For each block of
/// at most [`KC`] taps and each run of [`NR`] pixels, the block of columns
/// is unfolded into `scratch` and every weight panel's block streams past
/// it; the first tap block writes Y, the others add to it.
pub(crate) fn forward_image(x: &[f32], packed: &Packed, g: &Geometry, scratch: &mut [f32], y: &mut [f32]) {
    debug_assert_eq!(g.cfg.groups, 1);
    let (k, p) = (g.col_rows(), g.out_pixels());
    let kc = k.div_ceil(k.div_ceil(KC)); // equal blocks: 288 taps as 2 × 144, not 256 + 32
    for first_tap in (0..k).step_by(kc) {
        let taps = kc.min(k - first_tap);
        for p0 in (0..p).step_by(NR) {
            let cols = NR.min(p - p0);
            let (segments, count) = segments(g, p0, cols);
            let (tap_list, block) = (&packed.taps[first_tap..first_tap + taps], &mut scratch[..taps * NR]);
            #[cfg(target_arch = "x86_64")]
            if g.cfg.stride.1 == 1 {
                // SAFETY: `available()` was checked by the caller; stride is 1.
                unsafe { unfold_block_stride1(x, g, tap_list, &segments[..count], block) }
            } else {
                unfold_block(x, g, tap_list, &segments[..count], block)
            }
            for (i, weight_panel) in packed.weights.chunks_exact(k * MR).enumerate() {
                let rows = MR.min(g.c_out - i * MR);
                let weight_block = &weight_panel[first_tap * MR..(first_tap + taps) * MR];
                let out = &mut y[i * MR * p + p0..];
                // SAFETY: `available()` was checked by the caller; the blocks
                // hold taps·MR and taps·NR floats; `out` has `rows` rows of
                // stride p with at least `cols` floats each.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    kernel_8x32(taps, weight_block, block, out, p, rows, cols, first_tap > 0)
                };
            }
        }
    }
}
// ANCHOR_END: forward_image

// ANCHOR: kernel
/// C[r, q] (+)= Σ_t A[t, r] · B[t, q] for an MR × NR tile, of which the
/// first `rows` × `cols` are written to `c` (row stride `ldc`); with
/// `accumulate` the tile is added to what `c` holds.
///
/// # Safety
/// The CPU must support AVX-512F; `a` holds k·MR floats, `b` k·NR, and `c`
/// reaches `(rows − 1)·ldc + cols` floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn kernel_8x32(
    k: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    cols: usize,
    accumulate: bool,
) {
    use std::arch::x86_64::*;
    debug_assert!(a.len() >= k * MR && b.len() >= k * NR && c.len() >= (rows - 1) * ldc + cols);
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    let (a, b) = (a.as_ptr(), b.as_ptr());
    for t in 0..k {
        // SAFETY: t < k, so both loads and all broadcasts stay inside the panels.
        let (b_lo, b_hi) = unsafe { (_mm512_loadu_ps(b.add(t * NR)), _mm512_loadu_ps(b.add(t * NR + 16))) };
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let a_r = _mm512_set1_ps(unsafe { *a.add(t * MR + r) });
            acc_r[0] = _mm512_fmadd_ps(a_r, b_lo, acc_r[0]);
            acc_r[1] = _mm512_fmadd_ps(a_r, b_hi, acc_r[1]);
        }
    }
    // Masked stores write only the `cols` valid pixels of each valid row.
    let lanes = |n: usize| if n >= 16 { u16::MAX } else { (1u16 << n) - 1 };
    let (mask_lo, mask_hi) = (lanes(cols), lanes(cols.saturating_sub(16)));
    let c = c.as_mut_ptr();
    for (r, acc_r) in acc.iter().enumerate().take(rows) {
        let (lo, hi) = (c.wrapping_add(r * ldc), c.wrapping_add(r * ldc + 16));
        // SAFETY: masked-off lanes are not accessed; valid lanes are inside `c`.
        unsafe {
            let (mut sum_lo, mut sum_hi) = (acc_r[0], acc_r[1]);
            if accumulate {
                sum_lo = _mm512_add_ps(sum_lo, _mm512_maskz_loadu_ps(mask_lo, lo));
                sum_hi = _mm512_add_ps(sum_hi, _mm512_maskz_loadu_ps(mask_hi, hi));
            }
            _mm512_mask_storeu_ps(lo, mask_lo, sum_lo);
            _mm512_mask_storeu_ps(hi, mask_hi, sum_hi);
        }
    }
}
// ANCHOR_END: kernel

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::{im2col_row, Conv2dConfig};

    /// Both unfolding paths agree with im2col on every small geometry, lane for lane.
    #[test]
    fn unfolded_blocks_equal_im2col() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512F");
            return;
        }
        for (h, w, k, s, pad, d) in geometries(&[1, 3, 7, 9, 33], &[1, 2, 3], &[1, 2], &[0, 1, 2], &[1, 2]) {
            let cfg = Conv2dConfig::default().stride(s).padding(pad).dilation(d);
            let fits = |n| crate::ops::conv::conv_output_size(n, k, s, pad, d).is_some();
            if !(fits(h) && fits(w)) {
                continue;
            }
            let g = Geometry::new(&[1, 2, h, w], &[3, 2, k, k], cfg);
            let image: Vec<f32> = (0..2 * h * w).map(|i| i as f32 + 1.0).collect();
            let packed = pack(&[0.0; 3 * 2 * 9][..3 * 2 * k * k], &g);
            let (kk, p) = (g.col_rows(), g.out_pixels());
            let mut line = vec![0.0; p];
            for p0 in (0..p).step_by(NR) {
                let cols = NR.min(p - p0);
                let (segs, count) = segments(&g, p0, cols);
                let mut portable = vec![f32::NAN; kk * NR];
                unfold_block(&image, &g, &packed.taps, &segs[..count], &mut portable);
                for tap in 0..kk {
                    im2col_row(&image, &g, tap, &mut line);
                    let mut expected = line[p0..p0 + cols].to_vec();
                    expected.resize(NR, 0.0);
                    assert_eq!(portable[tap * NR..(tap + 1) * NR], expected[..], "{g:?} tap {tap} p0 {p0}");
                }
                if s == 1 {
                    let mut fast = vec![f32::NAN; kk * NR];
                    unsafe { unfold_block_stride1(&image, &g, &packed.taps, &segs[..count], &mut fast) };
                    assert_eq!(fast, portable, "{g:?} p0 {p0}");
                }
            }
        }
    }

    /// All combinations of the listed sizes, kernels, strides, paddings and dilations (square images and w + 2).
    fn geometries(
        sizes: &[usize],
        kernels: &[usize],
        strides: &[usize],
        pads: &[usize],
        dils: &[usize],
    ) -> Vec<(usize, usize, usize, usize, usize, usize)> {
        let mut all = vec![];
        for &h in sizes {
            for w in [h, h + 2] {
                for &k in kernels {
                    for &s in strides {
                        for &p in pads {
                            for &d in dils {
                                all.push((h, w, k, s, p, d));
                            }
                        }
                    }
                }
            }
        }
        all
    }
}
