//! Reference solution of the lab "Convolution and pooling": im2col and its adjoint col2im.

use cnnlab::Conv2dConfig;

/// ⌊(input + 2·padding − dilation·(kernel − 1) − 1)/stride⌋ + 1, or `None`
/// when the dilated kernel is wider than the padded input.
pub fn output_size(input: usize, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Option<usize> {
    let span = dilation * (kernel - 1) + 1;
    (input + 2 * padding >= span).then(|| (input + 2 * padding - span) / stride + 1)
}

/// The input pixel `(y, x)` that kernel tap (i, j) sees at output (p, q), if
/// it is not in the padding.
fn source(
    (p, q): (usize, usize),
    (i, j): (usize, usize),
    (h, w): (usize, usize),
    cfg: &Conv2dConfig,
) -> Option<(usize, usize)> {
    let y = (p * cfg.stride.0 + i * cfg.dilation.0).checked_sub(cfg.padding.0)?;
    let x = (q * cfg.stride.1 + j * cfg.dilation.1).checked_sub(cfg.padding.1)?;
    (y < h && x < w).then_some((y, x))
}

/// Visits every (row of the column matrix, column, input index or None).
fn for_each_entry(
    (c, h, w): (usize, usize, usize),
    (kh, kw): (usize, usize),
    cfg: &Conv2dConfig,
    mut f: impl FnMut(usize, Option<usize>),
) {
    let out_h = output_size(h, kh, cfg.stride.0, cfg.padding.0, cfg.dilation.0).expect("kernel fits vertically");
    let out_w = output_size(w, kw, cfg.stride.1, cfg.padding.1, cfg.dilation.1).expect("kernel fits horizontally");
    for ch in 0..c {
        for (i, j) in (0..kh).flat_map(|i| (0..kw).map(move |j| (i, j))) {
            let row = (ch * kh + i) * kw + j;
            for (p, q) in (0..out_h).flat_map(|p| (0..out_w).map(move |q| (p, q))) {
                let pixel = source((p, q), (i, j), (h, w), cfg).map(|(y, x)| (ch * h + y) * w + x);
                f(row * out_h * out_w + p * out_w + q, pixel);
            }
        }
    }
}

/// cols[(ch, i, j), (p, q)] = x[ch, p·s − pad + i·d, q·s − pad + j·d], 0 in the padding.
pub fn im2col(
    image: &[f32],
    (c, h, w): (usize, usize, usize),
    (kh, kw): (usize, usize),
    cfg: &Conv2dConfig,
) -> Vec<f32> {
    let mut cols = Vec::new();
    for_each_entry((c, h, w), (kh, kw), cfg, |entry, pixel| {
        debug_assert_eq!(entry, cols.len());
        cols.push(pixel.map_or(0.0, |k| image[k]));
    });
    cols
}

/// x̄[pixel] = Σ of the column entries read from that pixel.
pub fn col2im(
    cols: &[f32],
    (c, h, w): (usize, usize, usize),
    (kh, kw): (usize, usize),
    cfg: &Conv2dConfig,
) -> Vec<f32> {
    let mut image = vec![0.0; c * h * w];
    for_each_entry((c, h, w), (kh, kw), cfg, |entry, pixel| {
        if let Some(k) = pixel {
            image[k] += cols[entry];
        }
    });
    image
}
