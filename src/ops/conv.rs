//! 2-D convolution (cross-correlation, as in every deep-learning library) by im2col + gemm.
//!
//! For one image, with `cols = im2col(x)` the matrix whose column p holds the
//! receptive field of output pixel p (C·kh·kw values):
//!
//! * forward:        Y = W · cols            (W is O × C·kh·kw)
//! * weight grad:    ∂L/∂W = Σₙ ∂L/∂Yₙ · colsₙᵀ
//! * input grad:     ∂L/∂x = col2im(Wᵀ · ∂L/∂Y)   (col2im is the adjoint of im2col)
//! * bias grad:      ∂L/∂b_o = Σ over n and pixels of ∂L/∂Y
//!
//! This is the portable path and the one the f64 gradient checks run; for
//! f32 on AVX-512 CPUs the forward pass and ∂L/∂W run in `conv_packed.rs`
//! without an im2col matrix, and ∂L/∂x at stride 1 as a convolution there.
//!
//! Images of the batch run in parallel (rayon). The weight gradient is summed
//! per fixed chunk of images and the chunks are added in order, so the result
//! is bit-for-bit the same on any number of threads.

pub(crate) use super::conv_geometry::Geometry;
pub use super::conv_geometry::{conv_output_size, Conv2dConfig};
use super::conv_packed;
use super::matmul::{gemm, MatRef};
use crate::tensor::{Element, Tensor};
use rayon::prelude::*;
use std::any::TypeId;

/// Images per partial weight gradient; fixed so results do not depend on the thread count.
const WEIGHT_GRAD_CHUNK: usize = 8;

// ANCHOR: im2col
/// The output columns `ox` whose input column `ox·stride + offset` lies
/// inside `0..width`: a contiguous range, so the padding needs no per-pixel test.
fn valid_columns(out_width: usize, width: usize, stride: usize, offset: isize) -> std::ops::Range<usize> {
    let first = if offset < 0 { (-offset as usize).div_ceil(stride) } else { 0 };
    let last = if (width as isize) > offset { ((width as isize - 1 - offset) as usize) / stride + 1 } else { 0 };
    first.min(out_width)..last.min(out_width).max(first.min(out_width))
}

/// Unfolds the receptive fields of one group of one image into `cols`
/// (rows: channel, kernel row, kernel column; columns: output pixels). The
/// rows of `cols` are `width` apart: several images' matrices can stand side
/// by side, this one starting at `cols[0]`.
fn im2col<E: Element>(image: &[E], g: &Geometry, cols: &mut [E], width: usize) {
    let p = g.out_pixels();
    for row in 0..g.col_rows() {
        im2col_row(image, g, row, &mut cols[row * width..row * width + p]);
    }
}

/// Row `row` = (channel c, kernel row ki, kernel column kj) of the im2col
/// matrix: the input pixel that tap meets under every output pixel.
/// Taps that fall into the padding read 0; with stride 1 each output row of
/// taps is one slice copy.
pub(crate) fn im2col_row<E: Element>(image: &[E], g: &Geometry, row: usize, col_row: &mut [E]) {
    let (s, p, d) = (g.cfg.stride, g.cfg.padding, g.cfg.dilation);
    let (c, ki, kj) = (row / (g.kh * g.kw), row / g.kw % g.kh, row % g.kw);
    let plane = &image[c * g.h * g.w..(c + 1) * g.h * g.w];
    let offset = (kj * d.1) as isize - p.1 as isize;
    let valid = valid_columns(g.ow, g.w, s.1, offset);
    for (oy, out_row) in col_row.chunks_exact_mut(g.ow).enumerate() {
        let iy = (oy * s.0 + ki * d.0) as isize - p.0 as isize;
        if iy < 0 || iy >= g.h as isize || valid.is_empty() {
            out_row.fill(E::ZERO);
            continue;
        }
        let line = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
        out_row[..valid.start].fill(E::ZERO);
        out_row[valid.end..].fill(E::ZERO);
        let first = (valid.start as isize * s.1 as isize + offset) as usize;
        if s.1 == 1 {
            out_row[valid.clone()].copy_from_slice(&line[first..first + valid.len()]);
        } else {
            for (v, &x) in out_row[valid.clone()].iter_mut().zip(line[first..].iter().step_by(s.1)) {
                *v = x;
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every column entry back to the pixel it
/// was read from (pixels under several receptive fields receive several).
/// Rows of `cols` are `width` apart, as in `im2col`.
fn col2im<E: Element>(cols: &[E], g: &Geometry, image: &mut [E], width: usize) {
    let (s, p, d) = (g.cfg.stride, g.cfg.padding, g.cfg.dilation);
    for row in 0..g.col_rows() {
        let col_row = &cols[row * width..row * width + g.out_pixels()];
        let (c, ki, kj) = (row / (g.kh * g.kw), row / g.kw % g.kh, row % g.kw);
        let plane = &mut image[c * g.h * g.w..(c + 1) * g.h * g.w];
        let offset = (kj * d.1) as isize - p.1 as isize;
        let valid = valid_columns(g.ow, g.w, s.1, offset);
        for (oy, out_row) in col_row.chunks_exact(g.ow).enumerate() {
            let iy = (oy * s.0 + ki * d.0) as isize - p.0 as isize;
            if iy < 0 || iy >= g.h as isize || valid.is_empty() {
                continue;
            }
            let line = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
            let first = (valid.start as isize * s.1 as isize + offset) as usize;
            for (x, &v) in line[first..].iter_mut().step_by(s.1).zip(&out_row[valid.clone()]) {
                *x += v;
            }
        }
    }
}
// ANCHOR_END: im2col

/// Output columns one gemm should see at least: a convolution whose maps are
/// small (3×3, 7×7) multiplies the weights with several images' `cols` side
/// by side, so that gemm works on wide matrices and reads W once for all.
const GEMM_COLUMNS: usize = 256;

/// Images whose `cols` stand side by side in one gemm: one when an image
/// alone has [`GEMM_COLUMNS`] output pixels, more when its maps are small.
fn images_per_gemm(g: &Geometry) -> usize {
    GEMM_COLUMNS.div_ceil(g.out_pixels().max(1))
}

/// Images per partial weight gradient: at least [`WEIGHT_GRAD_CHUNK`], a
/// whole number of gemms. Fixed by the geometry alone, so the sum of the
/// partials does not depend on the thread count.
fn images_per_chunk(g: &Geometry) -> usize {
    WEIGHT_GRAD_CHUNK.div_ceil(images_per_gemm(g)) * images_per_gemm(g)
}

// ANCHOR: forward
/// Forward pass for `count` images (`x` holds them one after another): for
/// each group, cols = [im2col(x₁) | … | im2col(x_count)] side by side and
/// Y = W_g · cols, whose columns i·P … (i+1)·P are image i's output.
/// `y_wide` is scratch for the side-by-side output (grown as needed, reused across calls).
#[allow(clippy::too_many_arguments)]
fn forward_images<E: Element>(
    x: &[E],
    count: usize,
    weight: &[E],
    g: &Geometry,
    cols: &mut [E],
    y_wide: &mut Vec<E>,
    y: &mut [E],
) {
    let groups = g.cfg.groups;
    let (c_in_g, c_out_g) = (g.c_in / groups, g.c_out / groups);
    let (k, p, width) = (g.col_rows(), g.out_pixels(), count * g.out_pixels());
    if count > 1 {
        y_wide.resize(c_out_g * width, E::ZERO);
    }
    for grp in 0..groups {
        for i in 0..count {
            let x_g = &x[i * g.in_image() + grp * c_in_g * g.h * g.w..][..c_in_g * g.h * g.w];
            im2col(x_g, g, &mut cols[i * p..], width);
        }
        let w_g = &weight[grp * c_out_g * k..(grp + 1) * c_out_g * k];
        if count == 1 {
            // one image: its output planes are the product's rows
            let y_g = &mut y[grp * c_out_g * p..(grp + 1) * c_out_g * p];
            gemm(E::ONE, MatRef::rows(w_g, k), MatRef::rows(cols, p), E::ZERO, y_g, (c_out_g, k, p));
            continue;
        }
        gemm(
            E::ONE,
            MatRef::rows(w_g, k),
            MatRef::rows(cols, width),
            E::ZERO,
            &mut y_wide[..c_out_g * width],
            (c_out_g, k, width),
        );
        for (o, row) in y_wide[..c_out_g * width].chunks_exact(width).enumerate() {
            for (i, image_row) in row.chunks_exact(p).enumerate() {
                y[i * g.out_image() + (grp * c_out_g + o) * p..][..p].copy_from_slice(image_row);
            }
        }
    }
}
// ANCHOR_END: forward

// ANCHOR: backward
/// Backward pass for `count` images: with cols and ∂L/∂Y of the images side
/// by side as in the forward pass, accumulates ∂L/∂W += ∂L/∂Y · colsᵀ into
/// `dweight` and, when asked, writes ∂L/∂x = col2im(Wᵀ · ∂L/∂Y) into `dx`.
#[allow(clippy::too_many_arguments)]
fn backward_images<E: Element>(
    x: &[E],
    count: usize,
    weight: &[E],
    dy: &[E],
    g: &Geometry,
    cols: &mut [E],
    dy_wide: &mut Vec<E>,
    dweight: Option<&mut [E]>,
    dx: Option<&mut [E]>,
) {
    let groups = g.cfg.groups;
    let (c_in_g, c_out_g) = (g.c_in / groups, g.c_out / groups);
    let (k, p, plane) = (g.col_rows(), g.out_pixels(), g.h * g.w);
    let width = count * p;
    let (mut dweight, mut dx) = (dweight, dx);
    dy_wide.resize(c_out_g * width, E::ZERO);
    let dy_wide = &mut dy_wide[..c_out_g * width];
    for grp in 0..groups {
        for (o, row) in dy_wide.chunks_exact_mut(width).enumerate() {
            for (i, image_row) in row.chunks_exact_mut(p).enumerate() {
                image_row.copy_from_slice(&dy[i * g.out_image() + (grp * c_out_g + o) * p..][..p]);
            }
        }
        let w_range = grp * c_out_g * k..(grp + 1) * c_out_g * k;
        if let Some(dw) = dweight.as_deref_mut() {
            // ∂L/∂W_g += ∂L/∂Y_g (c_out_g × width) · colsᵀ (width × k)
            for i in 0..count {
                im2col(&x[i * g.in_image() + grp * c_in_g * plane..][..c_in_g * plane], g, &mut cols[i * p..], width);
            }
            let dw_g = &mut dw[w_range.clone()];
            gemm(E::ONE, MatRef::rows(dy_wide, width), MatRef::rows_t(cols, width), E::ONE, dw_g, (c_out_g, width, k));
        }
        if let Some(dx) = dx.as_deref_mut() {
            // ∂cols = W_gᵀ (k × c_out_g) · ∂L/∂Y_g (c_out_g × width), then col2im image by image
            let w_g = MatRef::rows_t(&weight[w_range], k);
            gemm(E::ONE, w_g, MatRef::rows(dy_wide, width), E::ZERO, cols, (k, c_out_g, width));
            for i in 0..count {
                col2im(&cols[i * p..], g, &mut dx[i * g.in_image() + grp * c_in_g * plane..][..c_in_g * plane], width);
            }
        }
    }
}
// ANCHOR_END: backward

/// What inference does to each output channel o right after the
/// convolution computed it, while it is still in cache: evaluation-mode
/// batch norm y = (v − μ_o)·k_o + β_o, then (in a residual block) the
/// shortcut's value, then optionally ReLU.
pub struct ChannelEpilogue<E> {
    /// μ_o, the running means.
    pub mean: Vec<E>,
    /// k_o = γ_o/√(σ²_o + ε).
    pub scale: Vec<E>,
    /// β_o.
    pub shift: Vec<E>,
    /// Whether ReLU follows.
    pub relu: bool,
}

impl<E: Element> ChannelEpilogue<E> {
    /// Applies the epilogue to the plane of output channel `o` (adding the
    /// matching plane of the shortcut, if any), with the same arithmetic as
    /// `batch_norm_eval`, `add` and `relu`, so the bits agree.
    fn apply(&self, o: usize, plane: &mut [E], shortcut: Option<&[E]>) {
        let (mu, k, b) = (self.mean[o], self.scale[o], self.shift[o]);
        let normalized = |v: E| super::batchnorm::normalize(v, mu, k, b);
        let out = |y: E| if self.relu { super::unary::relu(y) } else { y };
        match shortcut {
            None => plane.iter_mut().for_each(|v| *v = out(normalized(*v))),
            Some(r) => plane.iter_mut().zip(r).for_each(|(v, &r)| *v = out(normalized(*v) + r)),
        }
    }
}

impl<E: Element> Tensor<E> {
    /// 2-D convolution of an NCHW input with an OIHW weight and an optional
    /// bias of shape `[O]`: `y[n,o] = b[o] + Σ_{c,i,j} w[o,c,i,j] · x[n, c, s·y+d·i−p, s·x+d·j−p]`.
    ///
    /// # Panics
    /// When the shapes do not fit together; the message names conv2d and the shapes.
    pub fn conv2d(&self, weight: &Tensor<E>, bias: Option<&Tensor<E>>, cfg: Conv2dConfig) -> Tensor<E> {
        let g = Geometry::new(&self.shape, &weight.shape, cfg);
        let y = conv2d_forward(&self.data, weight, bias, &g, None);
        let (x, w) = (self.detach(), weight.detach());
        let (need_dx, need_dw, has_bias) = (self.requires_grad(), weight.requires_grad(), bias.is_some());
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Tensor::from_op("conv2d", y, &[g.n, g.c_out, g.oh, g.ow], &inputs, move |dy| {
            let (dx, dw) = conv2d_backward(&x.data, &w.data, &dy.data, &g, need_dx, need_dw);
            let dw = dw.map(|dw| Tensor::from_vec(dw, &w.shape));
            let mut grads = vec![dx.map(|dx| Tensor::from_vec(dx, &x.shape)), dw];
            if has_bias {
                grads.push(Some(Tensor::from_vec(bias_grad(&dy.data, &g), &[g.c_out])));
            }
            grads
        })
    }

    /// Inference only: the convolution followed by `epilogue` (batch norm in
    /// evaluation mode, optionally ReLU) in one pass over the output — bit
    /// for bit `conv2d`, then `batch_norm_eval`, then `relu`. With a
    /// `shortcut` (a residual block's), it is added between batch norm and
    /// ReLU: ReLU(BN(conv(x)) + shortcut), bit for bit the four ops.
    ///
    /// # Panics
    /// When gradients are being recorded (this op has no backward pass), or
    /// when the shapes do not fit together.
    pub fn conv2d_fused_eval(
        &self,
        weight: &Tensor<E>,
        bias: Option<&Tensor<E>>,
        cfg: Conv2dConfig,
        epilogue: &ChannelEpilogue<E>,
        shortcut: Option<&Tensor<E>>,
    ) -> Tensor<E> {
        assert!(!crate::is_grad_enabled(), "conv2d_fused_eval: inference only; call it inside no_grad");
        let g = Geometry::new(&self.shape, &weight.shape, cfg);
        assert_eq!(epilogue.mean.len(), g.c_out, "conv2d_fused_eval: epilogue must have {} channels", g.c_out);
        let out_shape = [g.n, g.c_out, g.oh, g.ow];
        if let Some(r) = shortcut {
            assert_eq!(
                r.shape, out_shape,
                "conv2d_fused_eval: shortcut shape {:?}, output shape {out_shape:?}",
                r.shape
            );
        }
        let y = conv2d_forward(&self.data, weight, bias, &g, Some((epilogue, shortcut.map(|r| r.data.as_slice()))));
        let name = if shortcut.is_some() { "conv2d+bn+add+relu" } else { "conv2d+bn+relu" };
        Tensor::from_op(name, y, &out_shape, &[], |_| vec![])
    }
}

/// The convolution's output for the whole batch, images in parallel; each
/// image's planes get the bias and then `epilogue` (with the shortcut's
/// planes of the same image, if any) while they are in cache.
pub(super) fn conv2d_forward<E: Element>(
    x: &[E],
    weight: &Tensor<E>,
    bias: Option<&Tensor<E>>,
    g: &Geometry,
    epilogue: Option<(&ChannelEpilogue<E>, Option<&[E]>)>,
) -> Vec<E> {
    if let Some(b) = bias {
        assert_eq!(b.shape, [g.c_out], "conv2d: bias shape {:?} must be [{}]", b.shape, g.c_out);
    }
    // f32 on an AVX-512 CPU: weights packed once, each image copied channels-last
    let packed = packed_path::<E>(g).then(|| as_f32(&weight.data).map(|w| conv_packed::pack(w, g))).flatten();
    let per_task = if packed.is_some() { 1 } else { images_per_gemm(g) };
    let scratch = || match packed {
        Some(_) => (Some(conv_packed::ChannelsLast::new(g)), vec![], vec![]),
        None => (None, vec![E::ZERO; g.col_rows() * per_task * g.out_pixels()], vec![]),
    };
    let (in_img, out_img) = (g.in_image(), g.out_image());
    super::zeroed_chunks(g.n * out_img, per_task * out_img, scratch, |(image, cols, y_wide), task, y_t| {
        let (first, count) = (task * per_task, y_t.len() / out_img);
        let x_t = &x[first * in_img..(first + count) * in_img];
        match (&packed, image, as_f32(x_t), as_f32_mut(y_t)) {
            (Some(w), Some(image), Some(x_n), Some(y_n)) => conv_packed::forward_image(x_n, w, g, image, y_n),
            _ => forward_images(x_t, count, &weight.data, g, cols, y_wide, y_t),
        }
        for (i, y_n) in y_t.chunks_exact_mut(out_img).enumerate() {
            let n = first + i;
            for (o, plane) in y_n.chunks_exact_mut(g.out_pixels()).enumerate() {
                if let Some(b) = bias {
                    plane.iter_mut().for_each(|v| *v += b.data[o]);
                }
                if let Some((e, shortcut)) = epilogue {
                    let plane_range = (n * g.c_out + o) * g.out_pixels()..(n * g.c_out + o + 1) * g.out_pixels();
                    e.apply(o, plane, shortcut.map(|r| &r[plane_range]));
                }
            }
        }
    })
}

/// Whether `conv_packed` takes this convolution: f32 (its only type), no
/// groups, a CPU with AVX-512 (and `CNNLAB_NO_PACKED` unset).
fn packed_path<E: Element>(g: &Geometry) -> bool {
    TypeId::of::<E>() == TypeId::of::<f32>() && g.cfg.groups == 1 && conv_packed::available()
}

/// The slice as `f32` when `E` is `f32` (the packed kernels' only type).
fn as_f32<E: Element>(s: &[E]) -> Option<&[f32]> {
    // SAFETY: E is f32 exactly when the type ids agree.
    (TypeId::of::<E>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast(), s.len()) })
}

/// The mutable slice as `f32` when `E` is `f32`.
fn as_f32_mut<E: Element>(s: &mut [E]) -> Option<&mut [f32]> {
    // SAFETY: E is f32 exactly when the type ids agree.
    (TypeId::of::<E>() == TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len()) })
}

/// ∂L/∂x (when `need_dx`) and ∂L/∂W (when `need_dw`; a frozen network
/// being explained skips it) for the whole batch. Chunks of
/// [`images_per_chunk`] images run in parallel; their partial weight
/// gradients are added in chunk order.
pub(super) fn conv2d_backward<E: Element>(
    x: &[E],
    weight: &[E],
    dy: &[E],
    g: &Geometry,
    need_dx: bool,
    need_dw: bool,
) -> (Option<Vec<E>>, Option<Vec<E>>) {
    let fast_dx = if need_dx { input_grad_as_convolution(dy, weight, g) } else { None };
    let need_dx = need_dx && fast_dx.is_none();
    if !need_dx && !need_dw {
        return (fast_dx, None);
    }
    let (in_img, out_img) = (g.in_image(), g.out_image());
    // f32 on an AVX-512 CPU: ∂L/∂W by the packed kernel, no im2col, image by image
    let packed_dw = need_dw && packed_path::<E>(g);
    let (per_gemm, per_chunk) =
        if packed_dw { (1, WEIGHT_GRAD_CHUNK) } else { (images_per_gemm(g), images_per_chunk(g)) };
    let cols_len = if need_dx || !packed_dw { g.col_rows() * per_gemm * g.out_pixels() } else { 0 };
    let chunk_work = |chunk: usize, mut dx_chunk: Option<&mut [E]>| {
        let mut dweight = vec![E::ZERO; if need_dw { weight.len() } else { 0 }];
        let (mut cols, mut dy_wide) = (vec![E::ZERO; cols_len], Vec::new());
        let mut packed = packed_dw.then(|| conv_packed::WeightGrad::new(g));
        let (first, last) = (chunk * per_chunk, ((chunk + 1) * per_chunk).min(g.n));
        for start in (first..last).step_by(per_gemm) {
            let count = per_gemm.min(last - start);
            let images = |len: usize| (start - first) * len..(start - first + count) * len;
            let dx_s = dx_chunk.as_deref_mut().map(|d| &mut d[images(in_img)]);
            // x is read only for ∂L/∂W (conv_transpose2d passes none when it needs only ∂L/∂x)
            let x_s = x.get(start * in_img..(start + count) * in_img).unwrap_or(&[]);
            let dy_s = &dy[start * out_img..(start + count) * out_img];
            if let (Some(packed), Some(x_n), Some(dy_n)) = (packed.as_mut(), as_f32(x_s), as_f32(dy_s)) {
                packed.add_image(x_n, dy_n, g);
            }
            let dw = (need_dw && !packed_dw).then_some(&mut dweight[..]);
            if dw.is_some() || dx_s.is_some() {
                backward_images(x_s, count, weight, dy_s, g, &mut cols, &mut dy_wide, dw, dx_s);
            }
        }
        if let (Some(packed), Some(dw)) = (packed, as_f32_mut(&mut dweight)) {
            packed.write_to(g, dw);
        }
        dweight
    };
    let mut dx = need_dx.then(|| super::zeros(g.n * in_img));
    let partials: Vec<Vec<E>> = match dx.as_mut() {
        Some(dx) => dx
            .par_chunks_mut(per_chunk * in_img)
            .enumerate()
            .map(|(chunk, dx_chunk)| chunk_work(chunk, Some(dx_chunk)))
            .collect(),
        None => (0..g.n.div_ceil(per_chunk)).into_par_iter().map(|c| chunk_work(c, None)).collect(),
    };
    let dx = dx.or(fast_dx);
    if !need_dw {
        return (dx, None);
    }
    let mut partials = partials.into_iter();
    let mut dweight = partials.next().unwrap_or_else(|| vec![E::ZERO; weight.len()]);
    for partial in partials {
        dweight.iter_mut().zip(&partial).for_each(|(a, &b)| *a += b);
    }
    (dx, Some(dweight))
}

// ANCHOR: input_grad_as_convolution
/// ∂L/∂x of a stride-1 convolution is itself a convolution: of ∂L/∂Y with
/// the kernels flipped in space and with input and output channels swapped,
/// w'[c, o, i, j] = w[o, c, kh−1−i, kw−1−j], padding d·(k−1) − p:
///
///   ∂L/∂x[c, y, x] = Σ_{o,i,j} ∂L/∂Y[o, y − d·i + p, x − d·j + p] · w[o, c, i, j].
///
/// Used where the packed forward kernel runs (f32, AVX-512, groups 1,
/// padding at most d·(k−1)); `None` elsewhere, and im2col's adjoint does it.
fn input_grad_as_convolution<E: Element>(dy: &[E], weight: &[E], g: &Geometry) -> Option<Vec<E>> {
    let (p, d) = (g.cfg.padding, g.cfg.dilation);
    let span = (d.0 * (g.kh - 1), d.1 * (g.kw - 1));
    if !(packed_path::<E>(g) && g.cfg.stride == (1, 1) && p.0 <= span.0 && p.1 <= span.1) {
        return None;
    }
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
    let cfg = Conv2dConfig { stride: (1, 1), padding: (span.0 - p.0, span.1 - p.1), dilation: d, groups: 1 };
    let transposed = Geometry::new(&[g.n, g.c_out, g.oh, g.ow], &[g.c_in, g.c_out, kh, kw], cfg);
    debug_assert_eq!((transposed.oh, transposed.ow), (g.h, g.w));
    Some(conv2d_forward(dy, &Tensor::from_vec(flipped, &[g.c_in, g.c_out, kh, kw]), None, &transposed, None))
}
// ANCHOR_END: input_grad_as_convolution

/// ∂L/∂b_o = Σ over images and output pixels of ∂L/∂y[n, o].
fn bias_grad<E: Element>(dy: &[E], g: &Geometry) -> Vec<E> {
    let mut db = vec![E::ZERO; g.c_out];
    for image in dy.chunks_exact(g.out_image()) {
        for (o, plane) in image.chunks_exact(g.out_pixels()).enumerate() {
            db[o] += plane.iter().copied().sum::<E>();
        }
    }
    db
}
