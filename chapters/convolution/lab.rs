//! Lab "Convolution and pooling": im2col, which turns a convolution into one matrix product, and col2im, its adjoint, which gives the input gradient.
//!
//! Replace each `todo!` with your code, then run `cargo lab convolution`.
#![allow(unused_variables)]

use cnnlab::Conv2dConfig;

// ANCHOR: task
/// The output size along one axis of a convolution with this kernel size,
/// stride, padding and dilation — `None` when the (dilated) kernel does not
/// fit in the padded input.
pub fn output_size(input: usize, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Option<usize> {
    todo!("how many positions the dilated kernel takes in the padded input, at this stride")
}

/// Unfolds one `[c, h, w]` image (flattened, row-major) into the im2col
/// matrix of a convolution with a `kh`×`kw` kernel and the stride, padding
/// and dilation of `cfg` (`cfg.groups` is 1).
///
/// The matrix has `c·kh·kw` rows and `out_h·out_w` columns, row-major. Row
/// (ch, i, j) — that is, row ch·kh·kw + i·kw + j — holds, in column
/// (p, q), the input pixel that kernel tap (i, j) of channel ch sees when
/// the output pixel is (p, q); zero where that pixel lies in the padding.
/// Then the convolution of the image with weights W `[c_out, c, kh, kw]` is
/// the matrix product W·cols (W seen as `[c_out, c·kh·kw]`).
pub fn im2col(
    image: &[f32],
    (c, h, w): (usize, usize, usize),
    (kh, kw): (usize, usize),
    cfg: &Conv2dConfig,
) -> Vec<f32> {
    todo!("for every row (ch, i, j) and column (p, q): which input pixel, or 0")
}

/// The adjoint of [`im2col`]: adds every entry of `cols` back into the
/// input pixel it was read from (entries that came from the padding are
/// dropped), giving a `[c, h, w]` image.
///
/// Given ∂L/∂cols = Wᵀ·∂L/∂Y, col2im returns ∂L/∂x: a pixel read by several
/// kernel taps collects the gradient of each.
pub fn col2im(
    cols: &[f32],
    (c, h, w): (usize, usize, usize),
    (kh, kw): (usize, usize),
    cfg: &Conv2dConfig,
) -> Vec<f32> {
    todo!("the same loops as im2col, with the copy turned around into a sum")
}
// ANCHOR_END: task
