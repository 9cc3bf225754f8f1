//! Convolution for f32 on AVX-512 CPUs, forward pass and weight gradient: each image copied once channels-last with its zero border, then 8 × 32 register-blocked micro-kernels read it directly (no im2col matrix).
//!
//! [`super::conv`] computes Y = W · cols with a general sgemm: every image
//! pays for im2col (a K × P matrix written to memory, K = C·kh·kw), then for
//! the sgemm packing that matrix again. Here each image is instead copied
//! once into [`ChannelsLast`] order, padded[r, q, c] = x[c, r − p, q − p]
//! (zero in the border). In that order the values one output pixel (y, x)
//! needs from kernel row i are consecutive: the (j, c) pairs of
//! padded[y·s + i·d, x·s + j·d, c] form one run of kw·C floats when the
//! dilation is 1 (kw runs of C otherwise). So:
//!
//! * **forward**, a tile of 8 output pixels × 32 output channels lives in 16
//!   vector registers; for every tap it loads 32 weights (packed once per
//!   call, tap by tap) and broadcasts the 8 pixels' input values: 2 loads,
//!   8 broadcasts, 16 FMAs;
//! * **weight gradient**, a tile of 8 output channels × 32 (j, c) pairs; for
//!   every output pixel it broadcasts 8 values of ∂L/∂Y and loads the pixel's
//!   32 input values.
//!
//! Every output is a sum in one fixed order, so results do not depend on the
//! number of threads. Other CPUs, f64 and grouped convolutions take the
//! portable path.

use super::conv::Geometry;

/// Rows of a micro-tile: output pixels (forward), output channels (weight gradient).
pub(crate) const MR: usize = 8;
/// Columns of a micro-tile, two 16-float vectors: output channels
/// (forward), (j, c) pairs of a kernel row (weight gradient).
pub(crate) const NR: usize = 32;

/// True when this CPU can run the packed kernels (x86-64 with AVX-512F) and
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

// ANCHOR: channels_last
/// One image with its zero border, channels last: (H + 2p) × (W + 2p) × C floats.
pub(crate) struct ChannelsLast {
    data: Vec<f32>,
    /// Floats per padded row: (W + 2p)·C.
    row: usize,
    /// Where pixel r·W + q of the image starts: ((r + p)·(W + 2p) + q + p)·C.
    pixel_offsets: Vec<usize>,
}

impl ChannelsLast {
    /// An all-zero image for geometry `g`; [`Self::fill`] only writes the inside.
    pub(crate) fn new(g: &Geometry) -> Self {
        let (ph, pw) = g.cfg.padding;
        let row = (g.w + 2 * pw) * g.c_in;
        let pixel_offsets = (0..g.h * g.w).map(|p| (p / g.w + ph) * row + (p % g.w + pw) * g.c_in).collect();
        ChannelsLast { data: vec![0.0; (g.h + 2 * ph) * row], row, pixel_offsets }
    }

    /// Copies image `x` (C × H × W) in: padded[r + p, q + p, c] = x[c, r, q]
    /// (only where [`available`] is true). A transpose of the C × HW matrix
    /// `x`, done in 16 × 16 blocks in vector registers (pixel i of a block
    /// goes to its own place in the padded image, so blocks may cross image
    /// rows); leftover channels and pixels one by one.
    pub(crate) fn fill(&mut self, x: &[f32], g: &Geometry) {
        let (c_in, plane) = (g.c_in, g.h * g.w);
        let (full_c, full_p) = (c_in / 16 * 16, plane / 16 * 16);
        let offsets = &self.pixel_offsets;
        for p0 in (0..full_p).step_by(16) {
            for c0 in (0..full_c).step_by(16) {
                let dst: [usize; 16] = std::array::from_fn(|i| offsets[p0 + i] + c0);
                // SAFETY: `available()` was checked by the caller; rows c0…c0+15
                // of x hold pixels p0…p0+15, and every destination holds 16 floats.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    transpose_16x16(&x[c0 * plane + p0..], plane, &mut self.data, &dst)
                };
            }
        }
        for (p, &offset) in offsets.iter().enumerate() {
            let channels = if p < full_p { full_c..c_in } else { 0..c_in };
            for c in channels {
                self.data[offset + c] = x[c * plane + p];
            }
        }
    }

    /// Where output pixel q's receptive field starts: padded[y·s, x·s, 0].
    fn corner(&self, q: usize, g: &Geometry) -> usize {
        let ((sy, sx), (y, x)) = (g.cfg.stride, (q / g.ow, q % g.ow));
        y * sy * self.row + x * sx * g.c_in
    }
}
// ANCHOR_END: channels_last

/// dst[offsets[i] + k] = src[k·stride + i] for i, k < 16: a 16 × 16 block of
/// a row-major matrix (rows `stride` apart) transposed, output row i written
/// at `offsets[i]`. Three rounds of shuffles: 32-bit and 64-bit interleaves
/// inside 128-bit lanes, then two rounds of 128-bit lane selection.
///
/// # Safety
/// The CPU must support AVX-512F; `src` reaches 15·stride + 16 floats and
/// `dst` reaches every offsets[i] + 16.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_16x16(src: &[f32], stride: usize, dst: &mut [f32], offsets: &[usize; 16]) {
    use std::arch::x86_64::*;
    debug_assert!(src.len() >= 15 * stride + 16 && offsets.iter().all(|&o| o + 16 <= dst.len()));
    // SAFETY: row k of the block is src[k·stride..k·stride + 16], in bounds.
    let r: [__m512; 16] = std::array::from_fn(|k| unsafe { _mm512_loadu_ps(src.as_ptr().add(k * stride)) });
    // t[2m], t[2m+1]: rows 2m and 2m+1 interleaved (elements 0,1 and 2,3 of each lane)
    let t: [__m512; 16] = std::array::from_fn(|i| match i % 2 {
        0 => _mm512_unpacklo_ps(r[i], r[i + 1]),
        _ => _mm512_unpackhi_ps(r[i - 1], r[i]),
    });
    // u[4m + n], lane j: rows 4m…4m+3 of column 4j + n
    let u: [__m512; 16] = std::array::from_fn(|i| {
        let (base, n) = (i / 4 * 4, i % 4);
        let (a, b) = (_mm512_castps_pd(t[base + n / 2]), _mm512_castps_pd(t[base + 2 + n / 2]));
        _mm512_castpd_ps(if n % 2 == 0 { _mm512_unpacklo_pd(a, b) } else { _mm512_unpackhi_pd(a, b) })
    });
    for n in 0..4 {
        let (v0, v1, v2, v3) = (u[n], u[4 + n], u[8 + n], u[12 + n]);
        let (w0, w1) = (_mm512_shuffle_f32x4::<0x88>(v0, v1), _mm512_shuffle_f32x4::<0xDD>(v0, v1));
        let (w2, w3) = (_mm512_shuffle_f32x4::<0x88>(v2, v3), _mm512_shuffle_f32x4::<0xDD>(v2, v3));
        // column 4j + n is lane j of v0, v1, v2, v3, one after the other
        let columns = [
            _mm512_shuffle_f32x4::<0x88>(w0, w2),
            _mm512_shuffle_f32x4::<0x88>(w1, w3),
            _mm512_shuffle_f32x4::<0xDD>(w0, w2),
            _mm512_shuffle_f32x4::<0xDD>(w1, w3),
        ];
        for (j, column) in columns.into_iter().enumerate() {
            // SAFETY: offsets[4j + n] + 16 ≤ dst.len() (checked above).
            unsafe { _mm512_storeu_ps(dst.as_mut_ptr().add(offsets[4 * j + n]), column) };
        }
    }
}

/// Consecutive (j, c) pairs of one kernel row: pairs `first..first + len`
/// (pair j·C + c) are the floats `offset..offset + len` after a receptive
/// field's corner in its padded row.
#[derive(Clone, Copy, Debug)]
struct Run {
    first: usize,
    len: usize,
    offset: usize,
}

/// One run of kw·C pairs when the horizontal dilation is 1, else one per j.
fn runs(g: &Geometry) -> Vec<Run> {
    match g.cfg.dilation.1 {
        1 => vec![Run { first: 0, len: g.kw * g.c_in, offset: 0 }],
        d => (0..g.kw).map(|j| Run { first: j * g.c_in, len: g.c_in, offset: j * d * g.c_in }).collect(),
    }
}

/// A convolution's weights packed for the forward micro-kernel.
pub(crate) struct Packed {
    /// Blocks of [`NR`] output channels; in each, tap by tap in (i, j, c)
    /// order, the block's NR weights (zero past the last channel).
    weights: Vec<f32>,
    runs: Vec<Run>,
}

// ANCHOR: pack
/// Packs W (O × C × kh × kw) for [`forward_image`]: block b, tap (i, j, c)
/// holds w[b·NR + lane, c, i, j] for lane = 0…NR−1.
pub(crate) fn pack(weight: &[f32], g: &Geometry) -> Packed {
    let (k, (kh, kw, c_in)) = (g.col_rows(), (g.kh, g.kw, g.c_in));
    let mut weights = vec![0.0; g.c_out.div_ceil(NR) * k * NR];
    // written in order (reading W with a stride keeps ~NR lines in cache;
    // writing with one would touch a new cache line for every weight)
    for (b, block) in weights.chunks_exact_mut(k * NR).enumerate() {
        let lanes = NR.min(g.c_out - b * NR);
        let mut taps = block.chunks_exact_mut(NR); // tap (i, j, c) = (i·kw + j)·C + c
        for ij in 0..kh * kw {
            for c in 0..c_in {
                let tap = taps.next().expect("k = kh·kw·C taps per block");
                for (lane, w) in tap[..lanes].iter_mut().enumerate() {
                    *w = weight[((b * NR + lane) * c_in + c) * kh * kw + ij];
                }
            }
        }
    }
    Packed { weights, runs: runs(g) }
}
// ANCHOR_END: pack

// ANCHOR: forward_image
/// Y = W ⊛ x for one image (`groups` must be 1), `image` being scratch
/// space from [`ChannelsLast::new`]: for each block of NR output channels
/// and each tile of MR output pixels, the micro-kernel sums over all taps
/// and the tile is written into Y's planes.
pub(crate) fn forward_image(x: &[f32], packed: &Packed, g: &Geometry, image: &mut ChannelsLast, y: &mut [f32]) {
    debug_assert_eq!(g.cfg.groups, 1);
    image.fill(x, g);
    let (k, p) = (g.col_rows(), g.out_pixels());
    let row_step = g.cfg.dilation.0 * image.row;
    for (block, weights) in packed.weights.chunks_exact(k * NR).enumerate() {
        let channels = NR.min(g.c_out - block * NR);
        let planes = &mut y[block * NR * p..];
        // a block of at most 16 channels (a 16-channel layer, or the last
        // block) would waste half of an 8 × 32 tile: use 16 pixels × 16
        if channels > 16 {
            forward_block::<8, 2>(weights, packed, g, image, row_step, channels, planes);
        } else {
            forward_block::<16, 1>(weights, packed, g, image, row_step, channels, planes);
        }
    }
}

/// The output planes of one block of `channels` ≤ 16·V output channels, in
/// tiles of P pixels × 16·V channels (P·V = 16 vector registers). Tiles are
/// computed 16 pixels at a time, so that each group of 16 pixels × 16
/// channels goes into the planes as one 16 × 16 transpose.
#[allow(clippy::too_many_arguments)]
fn forward_block<const P: usize, const V: usize>(
    weights: &[f32],
    packed: &Packed,
    g: &Geometry,
    image: &ChannelsLast,
    row_step: usize,
    channels: usize,
    planes: &mut [f32],
) {
    let p = g.out_pixels();
    // [pixel][channel / 16][channel % 16]; the kernel overwrites the rows of
    // each group's pixels, and only those are read
    let mut tiles = [[[0.0; 16]; V]; 16];
    for q0 in (0..p).step_by(16) {
        let group = 16.min(p - q0);
        for (t, tile) in tiles.chunks_exact_mut(P).enumerate().take(group.div_ceil(P)) {
            let (first, pixels) = (q0 + t * P, P.min(group - t * P));
            // a short last tile repeats its last pixel; only `pixels` are written
            let corners = std::array::from_fn(|r| image.corner(first + r.min(pixels - 1), g));
            // SAFETY: `available()` was checked by the caller; every receptive
            // field lies inside the padded image (the output size was computed
            // from it) and `weights` holds k·NR floats.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                let tile = tile.try_into().expect("P pixels");
                forward_kernel::<P, V>(weights, &image.data, &corners, &packed.runs, g.kh, row_step, tile)
            };
        }
        let flat = tiles.as_flattened().as_flattened();
        for v in 0..V {
            let in_block = channels.saturating_sub(16 * v).min(16);
            if group == 16 && in_block == 16 {
                let offsets = std::array::from_fn(|c| (16 * v + c) * p + q0);
                // SAFETY: as above; `flat` holds 16 pixels × 16·V channels.
                #[cfg(target_arch = "x86_64")]
                unsafe {
                    transpose_16x16(&flat[16 * v..], 16 * V, planes, &offsets)
                };
            } else {
                for c in 16 * v..16 * v + in_block {
                    let plane = &mut planes[c * p + q0..][..group];
                    plane.iter_mut().zip(&tiles).for_each(|(y, t)| *y = t[v][c % 16]);
                }
            }
        }
    }
}
// ANCHOR_END: forward_image

// ANCHOR: kernel
/// tile[r, o] = Σ over taps t of x_r[t] · w[t, o] for P pixels r (their
/// receptive fields start at `corners[r]` in `image`; kernel row i is
/// `i·row_step` further) and 16·V output channels o; taps are NR weights apart.
///
/// # Safety
/// The CPU must support AVX-512F; `w` holds (number of taps)·NR floats and
/// every pixel's receptive field lies inside `image`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forward_kernel<const P: usize, const V: usize>(
    w: &[f32],
    image: &[f32],
    corners: &[usize; P],
    runs: &[Run],
    kh: usize,
    row_step: usize,
    tile: &mut [[[f32; 16]; V]; P],
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); V]; P];
    let mut w = w.as_ptr();
    for i in 0..kh {
        for run in runs {
            let x: [*const f32; P] =
                std::array::from_fn(|r| image.as_ptr().wrapping_add(corners[r] + i * row_step + run.offset));
            for t in 0..run.len {
                // SAFETY: the caller guarantees the weights and receptive fields are in bounds.
                unsafe {
                    let w_t: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(w.add(16 * v)));
                    w = w.add(NR);
                    for (r, acc_r) in acc.iter_mut().enumerate() {
                        let x_r = _mm512_set1_ps(*x[r].add(t));
                        for (acc_rv, &w_v) in acc_r.iter_mut().zip(&w_t) {
                            *acc_rv = _mm512_fmadd_ps(x_r, w_v, *acc_rv);
                        }
                    }
                }
            }
        }
    }
    for (acc_r, tile_r) in acc.iter().zip(tile.iter_mut()) {
        for (&acc_rv, tile_rv) in acc_r.iter().zip(tile_r.iter_mut()) {
            // SAFETY: each tile entry holds 16 floats.
            unsafe { _mm512_storeu_ps(tile_rv.as_mut_ptr(), acc_rv) };
        }
    }
}
// ANCHOR_END: kernel

// ANCHOR: weight_grad
/// Buffers for the weight gradient ∂L/∂W of one chunk of images:
///
///   ∂L/∂W[o, c, i, j] = Σₙ Σ_{y,x} ∂L/∂Y[n, o, y, x] · x[n, c, y·s + i·d − p, x·s + j·d − p].
///
/// The forward micro-kernel's shape with the roles changed: the sum runs
/// over output pixels; for each, 8 output channels of ∂L/∂Y are broadcast
/// (packed pixel by pixel once per image) and the pixel's 32 consecutive
/// (j, c) pairs of kernel row i are loaded from the channels-last image.
pub(crate) struct WeightGrad {
    /// The image, channels last, with its zero border.
    image: ChannelsLast,
    /// ∂L/∂Y of the image in panels of [`MR`] channels, pixel by pixel.
    dy_panels: Vec<f32>,
    /// The gradient summed so far, in kernel-row order: [o][i][j·C + c].
    sum: Vec<f32>,
    runs: Vec<Run>,
}

/// `K` planes of `p` values each, interleaved pixel by pixel into `out`:
/// out[q·K + k] = planes[k·p + q]. Reading K planes side by side and
/// writing K contiguous values, instead of writing one plane at a time
/// with a stride of K, gives the compiler a loop it may vectorize.
#[inline(always)]
fn interleave<const K: usize>(planes: &[f32], out: &mut [f32], p: usize) {
    let planes: [&[f32]; K] = std::array::from_fn(|k| &planes[k * p..(k + 1) * p]);
    for (q, pixel) in out[..K * p].chunks_exact_mut(K).enumerate() {
        for k in 0..K {
            pixel[k] = planes[k][q];
        }
    }
}

impl WeightGrad {
    /// Zeroed buffers for convolutions of geometry `g` (`groups` must be 1).
    pub(crate) fn new(g: &Geometry) -> Self {
        debug_assert_eq!(g.cfg.groups, 1);
        WeightGrad {
            image: ChannelsLast::new(g),
            dy_panels: vec![0.0; g.c_out.div_ceil(MR) * MR * g.out_pixels()],
            sum: vec![0.0; g.c_out * g.kh * g.kw * g.c_in],
            runs: runs(g),
        }
    }

    /// Adds image `x`'s contribution, given its ∂L/∂Y `dy`.
    pub(crate) fn add_image(&mut self, x: &[f32], dy: &[f32], g: &Geometry) {
        self.image.fill(x, g);
        let (p, row) = (g.out_pixels(), self.image.row);
        // panel k holds channels k·MR … k·MR + MR − 1 interleaved: [pixel][channel]
        for (panel, planes) in self.dy_panels.chunks_exact_mut(MR * p).zip(dy.chunks(MR * p)) {
            if planes.len() == MR * p {
                crate::ops::vectorized(
                    #[inline(always)]
                    || interleave::<MR>(planes, panel, p),
                );
            } else {
                for (o, plane) in planes.chunks_exact(p).enumerate() {
                    panel.iter_mut().skip(o).step_by(MR).zip(plane).for_each(|(dst, &v)| *dst = v);
                }
            }
        }
        let ((sy, sx), (dh, _)) = (g.cfg.stride, g.cfg.dilation);
        let ldc = g.kh * g.kw * g.c_in;
        let pixels = PixelWalk { rows: g.oh, cols: g.ow, row_step: sy * row, col_step: sx * g.c_in };
        for (panel_index, panel) in self.dy_panels.chunks_exact(MR * p).enumerate() {
            let rows = MR.min(g.c_out - panel_index * MR);
            for i in 0..g.kh {
                let top = &self.image.data[i * dh * row..];
                for &Run { first, len, offset } in &self.runs {
                    for b0 in (0..len).step_by(NR) {
                        let out = &mut self.sum[panel_index * MR * ldc + i * g.kw * g.c_in + first + b0..];
                        // SAFETY: `available()` was checked by the caller; the
                        // walk stays inside the channels-last image (the output
                        // size was computed from the padded input), and `out`
                        // holds `rows` rows of stride ldc.
                        #[cfg(target_arch = "x86_64")]
                        unsafe {
                            weight_grad_kernel(panel, &top[offset + b0..], pixels, out, ldc, rows, NR.min(len - b0))
                        };
                    }
                }
            }
        }
    }

    /// Writes the summed gradient into `dw` in the weights' [o][c][i][j] order.
    pub(crate) fn write_to(&self, g: &Geometry, dw: &mut [f32]) {
        let (taps, c_in) = (g.kh * g.kw, g.c_in);
        for (o, sum_o) in self.sum.chunks_exact(taps * c_in).enumerate() {
            for (tap, run) in sum_o.chunks_exact(c_in).enumerate() {
                for (c, &v) in run.iter().enumerate() {
                    dw[(o * c_in + c) * taps + tap] = v;
                }
            }
        }
    }
}
// ANCHOR_END: weight_grad

/// The output pixels a weight-gradient tile sums over, as steps through the
/// padded image: `rows` × `cols` pixels, `row_step` floats from one output
/// row to the next and `col_step` from one pixel to the next.
#[derive(Clone, Copy, Debug)]
struct PixelWalk {
    rows: usize,
    cols: usize,
    row_step: usize,
    col_step: usize,
}

/// C[r, q] += Σ over pixels π of A[π, r] · B(π)[q] for an MR × NR tile:
/// A is a panel of ∂L/∂Y (MR floats per pixel), B(π) the 32 floats at
/// `b + row·row_step + col·col_step` of which the first `width` are read.
///
/// # Safety
/// The CPU must support AVX-512F; `a` holds MR floats per pixel of the
/// walk, `b` reaches every pixel's `width` floats, `c` reaches
/// `(rows − 1)·ldc + width` floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn weight_grad_kernel(
    a: &[f32],
    b: &[f32],
    walk: PixelWalk,
    c: &mut [f32],
    ldc: usize,
    rows: usize,
    width: usize,
) {
    use std::arch::x86_64::*;
    let last = (walk.rows - 1) * walk.row_step + (walk.cols - 1) * walk.col_step;
    debug_assert!(a.len() >= walk.rows * walk.cols * MR && b.len() >= last + width);
    debug_assert!(c.len() >= (rows - 1) * ldc + width);
    let lanes = |n: usize| if n >= 16 { u16::MAX } else { (1u16 << n) - 1 };
    let (mask_lo, mask_hi) = (lanes(width), lanes(width.saturating_sub(16)));
    let mut acc = [[_mm512_setzero_ps(); 2]; MR];
    let (mut a, b) = (a.as_ptr(), b.as_ptr());
    for y in 0..walk.rows {
        let b_row = b.wrapping_add(y * walk.row_step);
        for x in 0..walk.cols {
            let b_px = b_row.wrapping_add(x * walk.col_step);
            // SAFETY: masked-off lanes are not read; the pixel's valid floats
            // and its MR floats of A are inside the slices (checked above).
            unsafe {
                let b_lo = _mm512_maskz_loadu_ps(mask_lo, b_px);
                let b_hi = _mm512_maskz_loadu_ps(mask_hi, b_px.wrapping_add(16));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let a_r = _mm512_set1_ps(*a.add(r));
                    acc_r[0] = _mm512_fmadd_ps(a_r, b_lo, acc_r[0]);
                    acc_r[1] = _mm512_fmadd_ps(a_r, b_hi, acc_r[1]);
                }
                a = a.add(MR);
            }
        }
    }
    let c = c.as_mut_ptr();
    for (r, acc_r) in acc.iter().enumerate().take(rows) {
        let (lo, hi) = (c.wrapping_add(r * ldc), c.wrapping_add(r * ldc + 16));
        // SAFETY: masked-off lanes are not accessed; valid lanes are inside `c`.
        unsafe {
            _mm512_mask_storeu_ps(lo, mask_lo, _mm512_add_ps(acc_r[0], _mm512_maskz_loadu_ps(mask_lo, lo)));
            _mm512_mask_storeu_ps(hi, mask_hi, _mm512_add_ps(acc_r[1], _mm512_maskz_loadu_ps(mask_hi, hi)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::Conv2dConfig;

    /// The channels-last copy holds x[c, r − p, q − p] inside and zeros in the border.
    #[test]
    fn channels_last_copy_is_the_padded_image() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512F");
            return;
        }
        for (c_in, h, w, pad) in
            [(1, 1, 1, 0), (3, 4, 5, 1), (5, 3, 2, 3), (16, 8, 8, 2), (35, 5, 7, 1), (32, 32, 32, 0)]
        {
            let g = Geometry::new(&[1, c_in, h, w], &[1, c_in, 1, 1], Conv2dConfig::default().padding(pad));
            let x: Vec<f32> = (0..c_in * h * w).map(|i| i as f32 + 1.0).collect();
            let mut image = ChannelsLast::new(&g);
            image.fill(&x, &g);
            image.fill(&x, &g); // filling twice changes nothing
            let (hp, wp) = (h + 2 * pad, w + 2 * pad);
            assert_eq!(image.data.len(), hp * wp * c_in);
            for r in 0..hp {
                for q in 0..wp {
                    for c in 0..c_in {
                        let inside = (pad..pad + h).contains(&r) && (pad..pad + w).contains(&q);
                        let expected = if inside { x[(c * h + r - pad) * w + q - pad] } else { 0.0 };
                        assert_eq!(image.data[(r * wp + q) * c_in + c], expected, "{g:?} at {r},{q},{c}");
                    }
                }
            }
        }
    }
}
