//! Convolution for f32 on AVX-512 and AVX2 CPUs without an im2col matrix: each image copied once channels-last with its zero border, then register-blocked micro-kernels read it directly.
//!
//! The plain convolution (`src/ops/conv.rs`) computes Y = W · cols with a
//! general sgemm: every image pays for im2col (a K × P matrix written to
//! memory, K = C·kh·kw), then for the sgemm packing that matrix again. Here
//! each image is instead copied once into [`ChannelsLast`] order,
//! padded[r, q, c] = x[c, r − p, q − p] (zero in the border). In that order
//! the values one output pixel (y, x) needs from kernel row i are
//! consecutive: the (j, c) pairs of padded[y·s + i·d, x·s + j·d, c] form one
//! run of kw·C floats when the dilation is 1 (kw runs of C otherwise). So,
//! with L floats per vector register (16 for AVX-512, 8 for AVX2):
//!
//! * **forward**, a tile of P output pixels × 2L output channels lives in
//!   2P vector registers (8 × 32 on AVX-512, 6 × 16 on AVX2); for every tap
//!   it loads 2L weights (packed once per call, tap by tap) and broadcasts
//!   the P pixels' input values;
//! * **weight gradient**, a tile of MR output channels × up to 3L (j, c)
//!   pairs (8 × 48 on AVX-512, 6 or 4 × 16 on AVX2); for every output pixel it
//!   broadcasts MR values of ∂L/∂Y and loads the pixel's input values;
//! * **input gradient** at stride 1 is itself a convolution (of ∂L/∂Y with
//!   the kernels flipped and transposed), so the forward kernel does it.
//!
//! Every output is one chain of fused multiply-adds in a fixed order (taps
//! in (i, j, c) order; pixels in row order), whatever the tile or the
//! vector width: both kernel sets give the same bits, on any number of
//! threads. The tests check that against a scalar loop in that order.

// On other CPUs than x86-64 only the dispatch below is live: it answers
// `None` and the caller takes im2col + sgemm.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code, unused_imports))]

use super::simd::{Avx2, Avx512, Simd};
use super::KernelSet;
use crate::tensor::conv_shape::{Conv2dConfig, Geometry};
use crate::tensor::Element;
use std::any::TypeId;
use std::mem::MaybeUninit;
use tiles::Tiles;

/// Images per partial weight gradient; fixed so results do not depend on the thread count.
const WEIGHT_GRAD_CHUNK: usize = 8;

/// Output pixels computed before they are written into the planes: a
/// multiple of every tile height (6, 8, 12) and of both vector widths.
const GROUP: usize = 48;

// ANCHOR: dispatch
/// The convolution's output for the whole batch, without bias, when the
/// packed kernels take it (f32, groups 1, a kernel set with vectors);
/// `None` otherwise. Images run in parallel, each one with its own
/// channels-last copy, and is finished by `finish(n, y_n)` while in cache.
pub(crate) fn forward<E: Element>(
    x: &[E],
    weight: &[E],
    g: &Geometry,
    finish: &(impl Fn(usize, &mut [E]) + Sync),
) -> Option<Vec<E>> {
    let set = takes(g)?;
    let (x_f32, weight) = (as_f32(x)?, as_f32(weight)?);
    let packed = pack(weight, g, set);
    let (in_img, out_img) = (g.in_image(), g.out_image());
    let compute = |image: &mut ChannelsLast, n: usize, y_n: &mut [MaybeUninit<E>]| {
        let y_f32 = as_f32_uninit(y_n).expect("E is f32");
        forward_image(&x_f32[n * in_img..(n + 1) * in_img], &packed, g, image, y_f32);
        // SAFETY: `forward_image` wrote every value of the image's output.
        finish(n, unsafe { assume_init(y_n) })
    };
    // SAFETY: `compute` initialises every value (above).
    Some(unsafe { super::written_chunks(g.n * out_img, out_img, || ChannelsLast::new(g), compute) })
}

/// ∂L/∂W for the whole batch when the packed kernels take the convolution:
/// partial sums over chunks of [`WEIGHT_GRAD_CHUNK`] images in parallel,
/// added in chunk order, then put in the weights' order once.
pub(crate) fn weight_grad<E: Element>(x: &[E], dy: &[E], g: &Geometry) -> Option<Vec<E>> {
    let set = takes(g)?;
    let (x, dy) = (as_f32(x)?, as_f32(dy)?);
    let (in_img, out_img) = (g.in_image(), g.out_image());
    let chunk = |c: usize| {
        let mut sum = WeightGrad::new(g, set);
        for n in c * WEIGHT_GRAD_CHUNK..((c + 1) * WEIGHT_GRAD_CHUNK).min(g.n) {
            sum.add_image(&x[n * in_img..(n + 1) * in_img], &dy[n * out_img..(n + 1) * out_img], g);
        }
        sum.sum
    };
    let dw = super::sum_in_order(g.n.div_ceil(WEIGHT_GRAD_CHUNK), g.c_out * g.col_rows(), chunk);
    Some(from_f32(in_weight_order(&dw, g)))
}

/// ∂L/∂x when the packed kernels take the convolution and its stride is 1:
/// then ∂L/∂x is the convolution of ∂L/∂Y with the kernels flipped in space
/// and input and output channels swapped, w'[c, o, i, j] = w[o, c, kh−1−i, kw−1−j],
/// padding d·(k−1) − p:
///
///   ∂L/∂x[c, y, x] = Σ_{o,i,j} ∂L/∂Y[o, y − d·i + p, x − d·j + p] · w[o, c, i, j].
///
/// At a larger stride (dilation 1) it is s² such convolutions, one per phase
/// of the input ([`phases`]).
pub(crate) fn input_grad<E: Element>(dy: &[E], weight: &[E], g: &Geometry) -> Option<Vec<E>> {
    if g.cfg.stride != (1, 1) {
        let set = takes(g).filter(|_| g.cfg.dilation == (1, 1))?;
        let (dy, weight) = (as_f32(dy)?, as_f32(weight)?);
        return Some(from_f32(phases::input_grad(dy, weight, g, set)));
    }
    let (pad, dil) = (g.cfg.padding, g.cfg.dilation);
    let span = (dil.0 * (g.kh - 1), dil.1 * (g.kw - 1));
    if !(g.cfg.stride == (1, 1) && pad.0 <= span.0 && pad.1 <= span.1) {
        return None;
    }
    takes(g)?;
    let (kh, kw) = (g.kh, g.kw);
    let mut flipped = vec![E::ZERO; weight.len()];
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            let kernel = &weight[(o * g.c_in + c) * kh * kw..][..kh * kw];
            let target = &mut flipped[(c * g.c_out + o) * kh * kw..][..kh * kw];
            // flipping both axes of a row-major kh×kw kernel reverses it
            target.iter_mut().zip(kernel.iter().rev()).for_each(|(t, &w)| *t = w);
        }
    }
    let cfg = Conv2dConfig { stride: (1, 1), padding: (span.0 - pad.0, span.1 - pad.1), dilation: dil, groups: 1 };
    let transposed = Geometry::new(&[g.n, g.c_out, g.oh, g.ow], &[g.c_in, g.c_out, kh, kw], cfg);
    debug_assert_eq!((transposed.oh, transposed.ow), (g.h, g.w));
    forward(dy, &flipped, &transposed, &|_, _| {})
}

/// The kernel set that runs convolution `g` packed, if any: f32 only (the
/// caller checks the type), groups 1, and not the portable set.
fn takes(g: &Geometry) -> Option<KernelSet> {
    let set = super::kernel_set();
    (g.cfg.groups == 1 && set != KernelSet::Portable).then_some(set)
}
// ANCHOR_END: dispatch

/// The slice as `f32` when `E` is `f32` (the packed kernels' only type).
fn as_f32<E: Element>(s: &[E]) -> Option<&[f32]> {
    // SAFETY: E is f32 exactly when the type ids agree.
    (TypeId::of::<E>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast(), s.len()) })
}

/// The uninitialised slice as `f32` slots when `E` is `f32`.
fn as_f32_uninit<E: Element>(s: &mut [MaybeUninit<E>]) -> Option<&mut [MaybeUninit<f32>]> {
    // SAFETY: E is f32 exactly when the type ids agree.
    (TypeId::of::<E>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) })
}

/// Initialised values seen as slots, for [`forward_image`] to overwrite.
fn as_slots(s: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: same layout; the slots are only ever written with f32 values,
    // so the values stay initialised.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) }
}

/// The slots as values, once every one has been written.
///
/// # Safety
/// Every slot must be initialised.
unsafe fn assume_init<E>(s: &mut [MaybeUninit<E>]) -> &mut [E] {
    // SAFETY: MaybeUninit<E> has E's layout, and the caller says every slot holds a value.
    unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) }
}

/// A `Vec<f32>` as `Vec<E>`, called only when `E` is `f32`.
fn from_f32<E: Element>(v: Vec<f32>) -> Vec<E> {
    assert_eq!(TypeId::of::<E>(), TypeId::of::<f32>(), "conv_packed: f32 only");
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: E is f32 (checked above): same layout, size and alignment.
    unsafe { Vec::from_raw_parts(v.as_mut_ptr().cast(), v.len(), v.capacity()) }
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

    /// Copies image `x` (C × H × W) in: padded[r + p, q + p, c] = x[c, r, q].
    /// A transpose of the C × HW matrix `x`, done in L × L blocks in vector
    /// registers (pixel i of a block goes to its own place in the padded
    /// image, so blocks may cross image rows); leftover channels and pixels
    /// one by one.
    ///
    /// # Safety
    /// The CPU must have S's features.
    #[inline(always)]
    unsafe fn fill<S: Simd>(&mut self, x: &[f32], g: &Geometry) {
        let (c_in, plane, l) = (g.c_in, g.h * g.w, S::LANES);
        let (full_c, full_p) = (c_in / l * l, plane / l * l);
        let offsets = &self.pixel_offsets;
        for p0 in (0..full_p).step_by(l) {
            for c0 in (0..full_c).step_by(l) {
                let dst: [usize; 16] = std::array::from_fn(|i| offsets[p0 + i.min(l - 1)] + c0);
                // SAFETY: rows c0…c0+L−1 of x hold pixels p0…p0+L−1, and every
                // destination holds L floats.
                unsafe { S::transpose(x[c0 * plane + p0..].as_ptr(), plane, self.data.as_mut_ptr(), &dst[..l]) };
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

/// Floats per vector register of a kernel set with vectors: `Avx512::LANES`
/// and `Avx2::LANES`, written out because those exist on x86-64 only (the
/// tests check that they agree).
fn lanes(set: KernelSet) -> usize {
    match set {
        KernelSet::Avx512 => 16,
        _ => 8,
    }
}

/// A convolution's weights packed for the forward micro-kernel.
pub(crate) struct Packed {
    set: KernelSet,
    /// Output channels per block: two vectors.
    nr: usize,
    /// Blocks of `nr` output channels; in each, tap by tap in (i, j, c)
    /// order, the block's nr weights (zero past the last channel).
    weights: Vec<f32>,
    runs: Vec<Run>,
}

// ANCHOR: pack
/// Packs W (O × C × kh × kw) for [`forward_image`] with kernel set `set`:
/// block b, tap (i, j, c) holds w[b·nr + lane, c, i, j] for lane = 0…nr−1.
pub(crate) fn pack(weight: &[f32], g: &Geometry, set: KernelSet) -> Packed {
    let (k, (kh, kw, c_in), nr) = (g.col_rows(), (g.kh, g.kw, g.c_in), 2 * lanes(set));
    let mut weights = vec![0.0; g.c_out.div_ceil(nr) * k * nr];
    // written in order (reading W with a stride keeps ~nr lines in cache;
    // writing with one would touch a new cache line for every weight)
    for (b, block) in weights.chunks_exact_mut(k * nr).enumerate() {
        let lanes = nr.min(g.c_out - b * nr);
        let mut taps = block.chunks_exact_mut(nr); // tap (i, j, c) = (i·kw + j)·C + c
        for ij in 0..kh * kw {
            for c in 0..c_in {
                let tap = taps.next().expect("k = kh·kw·C taps per block");
                for (lane, w) in tap[..lanes].iter_mut().enumerate() {
                    *w = weight[((b * nr + lane) * c_in + c) * kh * kw + ij];
                }
            }
        }
    }
    Packed { set, nr, weights, runs: runs(g) }
}
// ANCHOR_END: pack

// ANCHOR: forward_image
/// Y = W ⊛ x for one image (`groups` must be 1), `image` being scratch
/// space from [`ChannelsLast::new`]: for each block of output channels and
/// each tile of output pixels, the micro-kernel sums over all taps and the
/// tile is written into Y's planes. Every value of `y` is written (it may
/// come in uninitialised; the tests fill it with NaN and compare every bit).
#[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
pub(crate) fn forward_image(
    x: &[f32],
    packed: &Packed,
    g: &Geometry,
    image: &mut ChannelsLast,
    y: &mut [MaybeUninit<f32>],
) {
    debug_assert_eq!(g.cfg.groups, 1);
    // SAFETY: `packed.set` came from `kernel_set()`, which checked the CPU.
    match packed.set {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx512 => unsafe { forward_image_avx512(x, packed, g, image, y) },
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2 => unsafe { forward_image_avx2(x, packed, g, image, y) },
        _ => unreachable!("conv_packed: no packed kernels for {:?}", packed.set),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forward_image_avx512(
    x: &[f32],
    packed: &Packed,
    g: &Geometry,
    image: &mut ChannelsLast,
    y: &mut [MaybeUninit<f32>],
) {
    unsafe { forward_image_with::<Avx512>(x, packed, g, image, y) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_image_avx2(
    x: &[f32],
    packed: &Packed,
    g: &Geometry,
    image: &mut ChannelsLast,
    y: &mut [MaybeUninit<f32>],
) {
    unsafe { forward_image_with::<Avx2>(x, packed, g, image, y) }
}

/// [`forward_image`] in kernel set S. Tiles use 12–16 accumulators: 8 × 2
/// vectors (AVX-512) or 6 × 2 (AVX2); a block of at most L channels (a
/// narrow layer, or the last block) would waste half of each, so it uses
/// 12 × 1 on both. Not 16 × 1 on AVX-512: the kernel keeps one pointer per
/// pixel, and 16 of them do not fit in x86-64's general registers (the
/// compiler reloaded four from the stack at every tap; 12 × 1 was 3–5%
/// faster on ResNet-20's 16 → 16 layers).
///
/// # Safety
/// The CPU must have S's features.
#[inline(always)]
unsafe fn forward_image_with<S: Tiles>(
    x: &[f32],
    packed: &Packed,
    g: &Geometry,
    image: &mut ChannelsLast,
    y: &mut [MaybeUninit<f32>],
) {
    unsafe { image.fill::<S>(x, g) };
    let (k, p, nr, wide) = (g.col_rows(), g.out_pixels(), packed.nr, S::LANES == 16);
    let row_step = g.cfg.dilation.0 * image.row;
    for (block, weights) in packed.weights.chunks_exact(k * nr).enumerate() {
        let channels = nr.min(g.c_out - block * nr);
        let planes = &mut y[block * nr * p..];
        let args = (weights, &packed.runs[..], g, &*image, row_step, channels, planes);
        // SAFETY: as this function's.
        unsafe {
            match (wide, channels > S::LANES) {
                (true, true) => forward_block::<S, 8, 2>(args),
                (true, false) => forward_block::<S, 12, 1>(args),
                (false, true) => forward_block::<S, 6, 2>(args),
                (false, false) => forward_block::<S, 12, 1>(args),
            }
        }
    }
}

/// What [`forward_block`] reads and writes: the block's packed weights, the
/// runs, the geometry, the image, its kernel-row step, the block's number
/// of channels and Y from the block's first plane on.
type BlockArgs<'a> = (&'a [f32], &'a [Run], &'a Geometry, &'a ChannelsLast, usize, usize, &'a mut [MaybeUninit<f32>]);

/// The output planes of one block of `channels` ≤ V·L output channels, in
/// tiles of P pixels × V vectors, [`GROUP`] pixels at a time; each full
/// L × L square of a group goes into the planes as one transpose.
///
/// # Safety
/// The CPU must have S's features.
#[inline(always)]
unsafe fn forward_block<S: Tiles, const P: usize, const V: usize>(args: BlockArgs) {
    let (weights, runs, g, image, row_step, channels, planes) = args;
    let (p, l) = (g.out_pixels(), S::LANES);
    // [pixel][vector][lane]; the kernel overwrites the rows of each group's
    // pixels, and only those are read
    let mut tiles = [[[0.0; 16]; V]; GROUP];
    for q0 in (0..p).step_by(GROUP) {
        let group = GROUP.min(p - q0);
        for (t, tile) in tiles.chunks_exact_mut(P).enumerate().take(group.div_ceil(P)) {
            let (first, pixels) = (q0 + t * P, P.min(group - t * P));
            // a short last tile repeats its last pixel; only `pixels` are written
            let corners = std::array::from_fn(|r| image.corner(first + r.min(pixels - 1), g));
            let tile = tile.try_into().expect("P pixels");
            // SAFETY: every receptive field lies inside the padded image (the
            // output size was computed from it) and `weights` holds k·2L floats.
            unsafe { S::forward_tile::<P, V>((weights, &image.data, &corners, runs, g.kh, row_step, tile)) };
        }
        let flat = tiles.as_flattened().as_flattened();
        for s0 in (0..group).step_by(l) {
            let pixels = l.min(group - s0);
            for v in 0..V {
                let in_block = channels.saturating_sub(l * v).min(l);
                if pixels == l && in_block == l {
                    let offsets: [usize; 16] = std::array::from_fn(|c| (l * v + c.min(l - 1)) * p + q0 + s0);
                    let src = flat[s0 * 16 * V + 16 * v..].as_ptr();
                    // SAFETY: L rows of L floats, 16·V apart, from `flat`; each
                    // destination row is L pixels of a plane of this block.
                    unsafe { S::transpose(src, 16 * V, planes.as_mut_ptr().cast(), &offsets[..l]) };
                } else {
                    for c in 0..in_block {
                        let plane = &mut planes[(l * v + c) * p + q0 + s0..][..pixels];
                        plane.iter_mut().zip(&tiles[s0..]).for_each(|(y, t)| {
                            y.write(t[v][c]);
                        });
                    }
                }
            }
        }
    }
}
// ANCHOR_END: forward_image

/// What [`forward_kernel`] reads and writes: the block's packed weights,
/// the image, the tile's P receptive-field corners, the runs, kh, the
/// kernel-row step and the tile.
type KernelArgs<'a, const P: usize, const V: usize> =
    (&'a [f32], &'a [f32], &'a [usize; P], &'a [Run], usize, usize, &'a mut [[[f32; 16]; V]; P]);

// ANCHOR: kernel
/// tile[r, o] = Σ over taps t of x_r[t] · w[t, o] for P pixels r (their
/// receptive fields start at `corners[r]` in `image`; kernel row i is
/// `i·row_step` further) and V·L output channels o; taps are 2L weights apart.
///
/// # Safety
/// The CPU must have S's features; `w` holds (number of taps)·2L floats and
/// every pixel's receptive field lies inside `image`.
#[inline(always)]
unsafe fn forward_kernel<S: Simd, const P: usize, const V: usize>(args: KernelArgs<P, V>) {
    let (w, image, corners, runs, kh, row_step, tile) = args;
    let nr = 2 * S::LANES;
    // SAFETY (whole body): the caller guarantees the weights and receptive fields are in bounds.
    unsafe {
        let mut acc = [[S::zero(); V]; P];
        let mut w = w.as_ptr();
        for i in 0..kh {
            for run in runs {
                let x: [*const f32; P] =
                    std::array::from_fn(|r| image.as_ptr().wrapping_add(corners[r] + i * row_step + run.offset));
                for t in 0..run.len {
                    let mut w_t = [S::zero(); V];
                    for (v, w_v) in w_t.iter_mut().enumerate() {
                        *w_v = S::load(w.add(S::LANES * v));
                    }
                    w = w.add(nr);
                    for (r, acc_r) in acc.iter_mut().enumerate() {
                        let x_r = S::splat(*x[r].add(t));
                        for (acc_rv, &w_v) in acc_r.iter_mut().zip(&w_t) {
                            *acc_rv = S::mul_add(x_r, w_v, *acc_rv);
                        }
                    }
                }
            }
        }
        for (acc_r, tile_r) in acc.iter().zip(tile.iter_mut()) {
            for (&acc_rv, tile_rv) in acc_r.iter().zip(tile_r.iter_mut()) {
                S::store(tile_rv.as_mut_ptr(), acc_rv);
            }
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
/// over output pixels; for each, MR output channels of ∂L/∂Y are broadcast
/// (packed pixel by pixel once per image) and the pixel's consecutive
/// (j, c) pairs of kernel row i, up to three vectors of them, are loaded
/// from the channels-last image.
pub(crate) struct WeightGrad {
    set: KernelSet,
    /// Output channels per tile and per panel of ∂L/∂Y: [`rows_per_tile`].
    rows: usize,
    /// The image, channels last, with its zero border.
    image: ChannelsLast,
    /// ∂L/∂Y of the image in panels of MR channels, pixel by pixel.
    dy_panels: Vec<f32>,
    /// The gradient summed so far, in kernel-row order: [o][i][j·C + c].
    sum: Vec<f32>,
    runs: Vec<Run>,
}

/// Output channels per weight-gradient tile for `c_out` output channels:
/// 8 (× 3 vectors) on AVX-512; on AVX2 6 (× 2), or 4 (× 2) where panels of
/// 6 would leave more rows empty than a 4-row tile loses in speed (about 4%,
/// measured: it loads 6 values per 8 fused multiply-adds instead of 8 per 12).
/// So 16 and 32 channels take 4 (panels of 6 would compute 18 and 36 rows),
/// 64 takes 6 (66 rows, 3% wasted).
fn rows_per_tile(set: KernelSet, c_out: usize) -> usize {
    if lanes(set) == 16 {
        8
    } else if c_out.div_ceil(6) * 6 * 25 > c_out.div_ceil(4) * 4 * 26 {
        4
    } else {
        6
    }
}

impl WeightGrad {
    /// Zeroed buffers for convolutions of geometry `g` (`groups` must be 1)
    /// in kernel set `set` (one with vectors).
    pub(crate) fn new(g: &Geometry, set: KernelSet) -> Self {
        debug_assert_eq!(g.cfg.groups, 1);
        let rows = rows_per_tile(set, g.c_out);
        WeightGrad {
            set,
            rows,
            image: ChannelsLast::new(g),
            dy_panels: vec![0.0; g.c_out.div_ceil(rows) * rows * g.out_pixels()],
            sum: vec![0.0; g.c_out * g.kh * g.kw * g.c_in],
            runs: runs(g),
        }
    }

    /// Adds image `x`'s contribution, given its ∂L/∂Y `dy`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    pub(crate) fn add_image(&mut self, x: &[f32], dy: &[f32], g: &Geometry) {
        // SAFETY: `self.set` came from `kernel_set()`, which checked the CPU.
        match self.set {
            #[cfg(target_arch = "x86_64")]
            KernelSet::Avx512 => unsafe { add_image_avx512(self, x, dy, g) },
            #[cfg(target_arch = "x86_64")]
            KernelSet::Avx2 if self.rows == 4 => unsafe { add_image_avx2::<4>(self, x, dy, g) },
            #[cfg(target_arch = "x86_64")]
            KernelSet::Avx2 => unsafe { add_image_avx2::<6>(self, x, dy, g) },
            _ => unreachable!("conv_packed: no packed kernels for {:?}", self.set),
        }
    }
}

/// A gradient in kernel-row order [o][i][j·C + c] put in the weights'
/// [o][c][i][j] order.
fn in_weight_order(sum: &[f32], g: &Geometry) -> Vec<f32> {
    let (taps, c_in) = (g.kh * g.kw, g.c_in);
    let mut dw = vec![0.0; sum.len()];
    for (o, sum_o) in sum.chunks_exact(taps * c_in).enumerate() {
        for (tap, run) in sum_o.chunks_exact(c_in).enumerate() {
            for (c, &v) in run.iter().enumerate() {
                dw[(o * c_in + c) * taps + tap] = v;
            }
        }
    }
    dw
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn add_image_avx512(sum: &mut WeightGrad, x: &[f32], dy: &[f32], g: &Geometry) {
    unsafe { add_image_with::<Avx512, 8, 3>(sum, x, dy, g) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn add_image_avx2<const MR: usize>(sum: &mut WeightGrad, x: &[f32], dy: &[f32], g: &Geometry) {
    unsafe { add_image_with::<Avx2, MR, 2>(sum, x, dy, g) }
}

/// [`WeightGrad::add_image`] in kernel set S with tiles of MR channels ×
/// up to VM vectors: MR·VM accumulators plus VM loaded vectors and one
/// broadcast must fit in the registers (8 × 3 of AVX-512's 32, 6 × 2 or
/// 4 × 2 of AVX2's 16; 4 × 3 would fit exactly, but the compiler then
/// spills accumulators and it runs at half speed, even as a function of its
/// own, [`tiles`]). A run of kw·C pairs is
/// cut into pieces of VM·L, the last one shorter: 16 channels at kw = 3
/// are 48 pairs, one piece of three AVX-512 vectors (in pieces of two it
/// would be 32 + 16, and the second piece would multiply zeros half the
/// time).
///
/// # Safety
/// The CPU must have S's features.
#[inline(always)]
unsafe fn add_image_with<S: Tiles, const MR: usize, const VM: usize>(
    sum: &mut WeightGrad,
    x: &[f32],
    dy: &[f32],
    g: &Geometry,
) {
    unsafe { sum.image.fill::<S>(x, g) };
    let (p, row, l) = (g.out_pixels(), sum.image.row, S::LANES);
    // panel k holds channels k·MR … k·MR + MR − 1 interleaved: [pixel][channel]
    for (panel, planes) in sum.dy_panels.chunks_exact_mut(MR * p).zip(dy.chunks(MR * p)) {
        if planes.len() == MR * p {
            interleave::<MR>(planes, panel, p);
        } else {
            for (o, plane) in planes.chunks_exact(p).enumerate() {
                panel.iter_mut().skip(o).step_by(MR).zip(plane).for_each(|(dst, &v)| *dst = v);
            }
        }
    }
    let ((sy, sx), (dh, _)) = (g.cfg.stride, g.cfg.dilation);
    let ldc = g.kh * g.kw * g.c_in;
    let pixels = PixelWalk { rows: g.oh, cols: g.ow, row_step: sy * row, col_step: sx * g.c_in };
    for (panel_index, panel) in sum.dy_panels.chunks_exact(MR * p).enumerate() {
        let rows = MR.min(g.c_out - panel_index * MR);
        for i in 0..g.kh {
            let top = &sum.image.data[i * dh * row..];
            for &Run { first, len, offset } in &sum.runs {
                for b0 in (0..len).step_by(VM * l) {
                    let out = &mut sum.sum[panel_index * MR * ldc + i * g.kw * g.c_in + first + b0..];
                    let (b, width) = (&top[offset + b0..], (VM * l).min(len - b0));
                    let args = (panel, b, pixels, out, ldc, rows, width);
                    // SAFETY: the walk stays inside the channels-last image (the
                    // output size was computed from the padded input), and
                    // `out` holds `rows` rows of stride ldc.
                    unsafe {
                        match (width.div_ceil(l), width % l == 0) {
                            (1, true) => S::weight_grad_tile::<MR, 1, true>(args),
                            (1, false) => S::weight_grad_tile::<MR, 1, false>(args),
                            (2, true) => S::weight_grad_tile::<MR, 2, true>(args),
                            (2, false) => S::weight_grad_tile::<MR, 2, false>(args),
                            (_, true) => S::weight_grad_tile::<MR, 3, true>(args),
                            (_, false) => S::weight_grad_tile::<MR, 3, false>(args),
                        }
                    }
                }
            }
        }
    }
}
// ANCHOR_END: weight_grad

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

/// What [`weight_grad_kernel`] reads and writes: the panel A, the image B
/// from the tile's first pair on, the walk, C, its row stride `ldc`, the
/// tile's rows and its width (pairs).
type TileArgs<'a> = (&'a [f32], &'a [f32], PixelWalk, &'a mut [f32], usize, usize, usize);

/// C[r, q] += Σ over pixels π of A[π, r] · B(π)[q] for an MR × V·L tile:
/// A is a panel of ∂L/∂Y (MR floats per pixel), B(π) the V·L floats at
/// `b + row·row_step + col·col_step` of which the first `width` are read
/// (all of them when FULL, which says width = V·L).
///
/// # Safety
/// The CPU must have S's features; `a` holds MR floats per pixel of the
/// walk, `b` reaches every pixel's `width` floats, `c` reaches
/// `(rows − 1)·ldc + width` floats.
#[inline(always)]
unsafe fn weight_grad_kernel<S: Simd, const MR: usize, const V: usize, const FULL: bool>(args: TileArgs) {
    let (a, b, walk, c, ldc, rows, width) = args;
    let l = S::LANES;
    let last = (walk.rows - 1) * walk.row_step + (walk.cols - 1) * walk.col_step;
    debug_assert!(a.len() >= walk.rows * walk.cols * MR && b.len() >= last + width);
    debug_assert!(c.len() >= (rows - 1) * ldc + width && width.div_ceil(l) == V);
    // floats of each vector that are read: all but the last one are full
    let widths: [usize; V] = std::array::from_fn(|v| width.saturating_sub(v * l).min(l));
    // SAFETY (whole body): lanes past `width` are neither read nor written;
    // every pixel's valid floats and its MR floats of A are inside the slices.
    unsafe {
        let mut acc = [[S::zero(); V]; MR];
        let (mut a, b) = (a.as_ptr(), b.as_ptr());
        for y in 0..walk.rows {
            let b_row = b.wrapping_add(y * walk.row_step);
            for x in 0..walk.cols {
                let b_px = b_row.wrapping_add(x * walk.col_step);
                let mut b_v = [S::zero(); V];
                for (v, b_v) in b_v.iter_mut().enumerate() {
                    *b_v = load::<S, FULL>(b_px.wrapping_add(v * l), widths[v]);
                }
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let a_r = S::splat(*a.add(r));
                    for (acc_rv, &b_v) in acc_r.iter_mut().zip(&b_v) {
                        *acc_rv = S::mul_add(a_r, b_v, *acc_rv);
                    }
                }
                a = a.add(MR);
            }
        }
        let c = c.as_mut_ptr();
        for (r, acc_r) in acc.iter().enumerate().take(rows) {
            for (v, &acc_rv) in acc_r.iter().enumerate() {
                S::add_to_first(c.wrapping_add(r * ldc + v * l), widths[v], acc_rv);
            }
        }
    }
}

/// All L floats at `p` when FULL, else the first `n`.
///
/// # Safety
/// As [`Simd::load`] and [`Simd::load_first`].
#[inline(always)]
unsafe fn load<S: Simd, const FULL: bool>(p: *const f32, n: usize) -> S::V {
    unsafe {
        if FULL {
            S::load(p)
        } else {
            S::load_first(p, n)
        }
    }
}

mod phases;
#[cfg(test)]
mod tests;
mod tiles;
