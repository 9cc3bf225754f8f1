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
//! Images of the batch run in parallel (rayon). The weight gradient is summed
//! per fixed chunk of images and the chunks are added in order, so the result
//! is bit-for-bit the same on any number of threads.
//!
//! For f32 on CPUs with AVX2 or AVX-512 the packed kernel
//! (`kernels::conv_packed`) takes the forward pass, ∂L/∂W and (at stride 1)
//! ∂L/∂x: the same sums without the im2col matrix, in another order, so
//! equal to these up to rounding (its tests check both).

use crate::kernels::{conv_packed, sum_in_order, zeroed_chunks, zeros};
use crate::ops::matmul::{gemm, MatRef};
pub(crate) use crate::tensor::conv_shape::Geometry;
pub use crate::tensor::conv_shape::{conv_output_size, Conv2dConfig};
use crate::tensor::{Element, Tensor};
use rayon::prelude::*;

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
    let (stride, pad, dil) = (g.cfg.stride, g.cfg.padding, g.cfg.dilation);
    let (c, ki, kj) = (row / (g.kh * g.kw), row / g.kw % g.kh, row % g.kw);
    let plane = &image[c * g.h * g.w..(c + 1) * g.h * g.w];
    let offset = (kj * dil.1) as isize - pad.1 as isize;
    let valid = valid_columns(g.ow, g.w, stride.1, offset);
    for (oy, out_row) in col_row.chunks_exact_mut(g.ow).enumerate() {
        let iy = (oy * stride.0 + ki * dil.0) as isize - pad.0 as isize;
        if iy < 0 || iy >= g.h as isize || valid.is_empty() {
            out_row.fill(E::ZERO);
            continue;
        }
        let line = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
        out_row[..valid.start].fill(E::ZERO);
        out_row[valid.end..].fill(E::ZERO);
        let first = (valid.start as isize * stride.1 as isize + offset) as usize;
        if stride.1 == 1 {
            out_row[valid.clone()].copy_from_slice(&line[first..first + valid.len()]);
        } else {
            for (v, &x) in out_row[valid.clone()].iter_mut().zip(line[first..].iter().step_by(stride.1)) {
                *v = x;
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every column entry back to the pixel it
/// was read from (pixels under several receptive fields receive several).
/// Rows of `cols` are `width` apart, as in `im2col`.
fn col2im<E: Element>(cols: &[E], g: &Geometry, image: &mut [E], width: usize) {
    let (stride, pad, dil) = (g.cfg.stride, g.cfg.padding, g.cfg.dilation);
    for row in 0..g.col_rows() {
        let col_row = &cols[row * width..row * width + g.out_pixels()];
        let (c, ki, kj) = (row / (g.kh * g.kw), row / g.kw % g.kh, row % g.kw);
        let plane = &mut image[c * g.h * g.w..(c + 1) * g.h * g.w];
        let offset = (kj * dil.1) as isize - pad.1 as isize;
        let valid = valid_columns(g.ow, g.w, stride.1, offset);
        for (oy, out_row) in col_row.chunks_exact(g.ow).enumerate() {
            let iy = (oy * stride.0 + ki * dil.0) as isize - pad.0 as isize;
            if iy < 0 || iy >= g.h as isize || valid.is_empty() {
                continue;
            }
            let line = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
            let first = (valid.start as isize * stride.1 as isize + offset) as usize;
            for (x, &v) in line[first..].iter_mut().step_by(stride.1).zip(&out_row[valid.clone()]) {
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

impl<E: Element> Tensor<E> {
    /// 2-D convolution of an NCHW input with an OIHW weight and an optional
    /// bias of shape `[O]`: `y[n,o] = b[o] + Σ_{c,i,j} w[o,c,i,j] · x[n, c, s·y+d·i−p, s·x+d·j−p]`.
    ///
    /// # Panics
    /// When the shapes do not fit together; the message names conv2d and the shapes.
    pub fn conv2d(&self, weight: &Tensor<E>, bias: Option<&Tensor<E>>, cfg: Conv2dConfig) -> Tensor<E> {
        let g = Geometry::new(&self.shape, &weight.shape, cfg);
        let y = conv2d_forward(&self.data, weight, bias, &g, |_, _| {});
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
}

// ANCHOR: batch
/// The convolution's output for the whole batch (bias added), with
/// `finish(n, y_n)` applied to each image's output while it is in cache.
pub(crate) fn conv2d_forward<E: Element>(
    x: &[E],
    weight: &Tensor<E>,
    bias: Option<&Tensor<E>>,
    g: &Geometry,
    finish: impl Fn(usize, &mut [E]) + Sync,
) -> Vec<E> {
    if let Some(b) = bias {
        assert_eq!(b.shape, [g.c_out], "conv2d: bias shape {:?} must be [{}]", b.shape, g.c_out);
    }
    let finish = |n: usize, y_n: &mut [E]| {
        if let Some(b) = bias {
            for (plane, &b_o) in y_n.chunks_exact_mut(g.out_pixels()).zip(b.data.iter()) {
                plane.iter_mut().for_each(|v| *v += b_o);
            }
        }
        finish(n, y_n)
    };
    conv_packed::forward(x, &weight.data, g, &finish).unwrap_or_else(|| forward(x, &weight.data, g, &finish))
}

/// ∂L/∂x (when `need_dx`) and ∂L/∂W (when `need_dw`; a frozen network
/// being explained skips it) for the whole batch.
pub(super) fn conv2d_backward<E: Element>(
    x: &[E],
    weight: &[E],
    dy: &[E],
    g: &Geometry,
    need_dx: bool,
    need_dw: bool,
) -> (Option<Vec<E>>, Option<Vec<E>>) {
    let dx = need_dx.then(|| conv_packed::input_grad(dy, weight, g).unwrap_or_else(|| input_grad(dy, weight, g)));
    let dw = need_dw.then(|| conv_packed::weight_grad(x, dy, g).unwrap_or_else(|| weight_grad(x, weight, dy, g)));
    (dx, dw)
}

/// Y for the whole batch by im2col + gemm: tasks of [`images_per_gemm`]
/// images in parallel, each image finished by `finish(n, y_n)`.
fn forward<E: Element>(x: &[E], weight: &[E], g: &Geometry, finish: &(impl Fn(usize, &mut [E]) + Sync)) -> Vec<E> {
    let per_task = images_per_gemm(g);
    let (in_img, out_img) = (g.in_image(), g.out_image());
    let scratch = || (vec![E::ZERO; g.col_rows() * per_task * g.out_pixels()], vec![]);
    zeroed_chunks(g.n * out_img, per_task * out_img, scratch, |(cols, y_wide), task, y_t| {
        let (first, count) = (task * per_task, y_t.len() / out_img);
        forward_images(&x[first * in_img..(first + count) * in_img], count, weight, g, cols, y_wide, y_t);
        for (i, y_n) in y_t.chunks_exact_mut(out_img).enumerate() {
            finish(first + i, y_n);
        }
    })
}

/// ∂L/∂x = col2im(Wᵀ · ∂L/∂Y) for the whole batch, [`images_per_gemm`]
/// images per task, in parallel.
fn input_grad<E: Element>(dy: &[E], weight: &[E], g: &Geometry) -> Vec<E> {
    let (in_img, out_img, per_gemm) = (g.in_image(), g.out_image(), images_per_gemm(g));
    let mut dx = zeros(g.n * in_img);
    // scratch per worker thread, not per task: cols for per_gemm images, and ∂L/∂Y side by side
    let scratch = || (vec![E::ZERO; g.col_rows() * per_gemm * g.out_pixels()], Vec::new());
    dx.par_chunks_mut(per_gemm * in_img).enumerate().for_each_init(scratch, |(cols, dy_wide), (task, dx_t)| {
        let (first, count) = (task * per_gemm, dx_t.len() / in_img);
        let dy_t = &dy[first * out_img..(first + count) * out_img];
        backward_images(&[], count, weight, dy_t, g, cols, dy_wide, None, Some(dx_t));
    });
    dx
}

/// ∂L/∂W = Σₙ ∂L/∂Yₙ · colsₙᵀ: partial sums over chunks of
/// [`images_per_chunk`] images in parallel, added in chunk order.
fn weight_grad<E: Element>(x: &[E], weight: &[E], dy: &[E], g: &Geometry) -> Vec<E> {
    let (in_img, out_img) = (g.in_image(), g.out_image());
    let (per_gemm, per_chunk) = (images_per_gemm(g), images_per_chunk(g));
    let chunk = |c: usize| {
        let mut dweight = vec![E::ZERO; weight.len()];
        let (mut cols, mut dy_wide) = (vec![E::ZERO; g.col_rows() * per_gemm * g.out_pixels()], Vec::new());
        let (first, last) = (c * per_chunk, ((c + 1) * per_chunk).min(g.n));
        for start in (first..last).step_by(per_gemm) {
            let count = per_gemm.min(last - start);
            let x_s = &x[start * in_img..(start + count) * in_img];
            let dy_s = &dy[start * out_img..(start + count) * out_img];
            backward_images(x_s, count, weight, dy_s, g, &mut cols, &mut dy_wide, Some(&mut dweight), None);
        }
        dweight
    };
    sum_in_order(g.n.div_ceil(per_chunk), weight.len(), chunk)
}
// ANCHOR_END: batch

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
