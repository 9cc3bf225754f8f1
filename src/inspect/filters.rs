//! Filters as pictures: the first layer's as RGB patches, deeper ones as grey slices, signs visible (grey = 0).

use crate::io::{Error, Result};
use crate::nn::{Module, StateKind};
use crate::viz::heatmap::Colormap;
use crate::viz::Canvas;
use crate::Tensor;
use image::{Rgb, RgbImage};

/// Every convolution weight of a model (rank 4, OIHW), named by its layer
/// as in the checkpoint (`0`, `layer1.0.conv1`, `features.3`), in order.
pub fn conv_weights(model: &mut dyn Module) -> Vec<(String, Tensor)> {
    let mut out = Vec::new();
    model.visit_state("", &mut |name, t, kind| {
        if kind == StateKind::Parameter && t.rank() == 4 {
            out.push((name.trim_end_matches(".weight").to_string(), t.clone()));
        }
    });
    out
}

/// The convolution called `layer`, or the first one.
///
/// # Errors
/// When no convolution has that name (the message lists them).
pub fn find_conv(model: &mut dyn Module, layer: Option<&str>) -> Result<(String, Tensor)> {
    let all = conv_weights(model);
    match layer {
        None => all.into_iter().next().ok_or_else(|| Error::msg("the model has no convolution")),
        Some(l) => all.iter().find(|(n, _)| n == l).cloned().ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
            Error::msg(format!("--layer: no convolution is called '{l}'; the convolutions are: {}", names.join(", ")))
        }),
    }
}

// ANCHOR: signed
/// w ↦ ½ + ½·w/s: grey is zero, white the largest positive weight, black
/// the most negative, with s = max |w| over the filter (one scale per filter,
/// symmetric around zero, so that the sign of every weight can be read).
fn signed_byte(w: f32, s: f32) -> u8 {
    let t = if s > 0.0 { 0.5 + 0.5 * w / s } else { 0.5 };
    (t * 255.0).round().clamp(0.0, 255.0) as u8
}

/// A whole filter (any shape, flattened) as bytes on its own symmetric
/// scale s = max |w|: [`signed_byte`] of every weight.
pub fn signed_bytes(filter: &[f32]) -> Vec<u8> {
    let s = filter.iter().fold(0f32, |m, v| m.max(v.abs()));
    filter.iter().map(|&w| signed_byte(w, s)).collect()
}
// ANCHOR_END: signed

/// A picture of a convolution's filters (weight `[O, I, kh, kw]`), titled
/// with `name` and the shape. With three input channels each filter is one
/// RGB tile, eight to a row; otherwise each row is one filter and each
/// column one input channel, in grey (the first `max_filters` filters and
/// `max_inputs` input channels). Each weight is a `scale`×`scale` block.
pub fn filter_picture(name: &str, weight: &Tensor, max_filters: usize, max_inputs: usize, scale: u32) -> RgbImage {
    let s = weight.shape();
    let (o, i, kh, kw) = (s[0].min(max_filters), s[1], s[2], s[3]);
    let w = weight.data();
    let per_filter = i * kh * kw;
    let (tile_w, tile_h) = (kw as u32 * scale, kh as u32 * scale);
    let gap = scale.max(2);
    let (cols, rows, shown_inputs) =
        if i == 3 { (8.min(o), o.div_ceil(8), 3) } else { (i.min(max_inputs), o, i.min(max_inputs)) };
    let title = format!("{name}: {:?}{}", s, if o < s[0] || shown_inputs < i && i != 3 { " (part)" } else { "" });
    let width = (cols as u32 * (tile_w + gap) + gap).max(Canvas::text_width(&title, 1) as u32 + 2 * gap);
    let mut canvas = Canvas::new(width, 14 + rows as u32 * (tile_h + gap) + gap);
    canvas.text(gap as i32, 3, &title, 1, Rgb([0, 0, 0]));
    for f in 0..o {
        let bytes = signed_bytes(&w[f * per_filter..(f + 1) * per_filter]);
        let tiles = if i == 3 { 1 } else { shown_inputs };
        for c in 0..tiles {
            let (col, row) = if i == 3 { (f % 8, f / 8) } else { (c, f) };
            let (x0, y0) = (gap + col as u32 * (tile_w + gap), 14 + gap + row as u32 * (tile_h + gap));
            for (ky, kx) in (0..kh).flat_map(|y| (0..kw).map(move |x| (y, x))) {
                let at = |ch: usize| bytes[ch * kh * kw + ky * kw + kx];
                let color = if i == 3 { Rgb([at(0), at(1), at(2)]) } else { Rgb([at(c); 3]) };
                canvas.fill_rect(
                    (x0 + kx as u32 * scale) as i32,
                    (y0 + ky as u32 * scale) as i32,
                    scale as i32,
                    scale as i32,
                    color,
                );
            }
        }
    }
    canvas.image
}

/// Every feature map of one layer for one image (`maps` is `[K, h, w]`
/// values) as a grid, with one colour scale for the whole layer and a
/// colour bar that gives its range: maps are comparable within a layer.
pub fn activation_picture(name: &str, maps: &[f32], [k, h, w]: [usize; 3], scale: u32) -> RgbImage {
    let (lo, hi) = maps.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &v| (l.min(v), u.max(v)));
    let range = if hi > lo { hi - lo } else { 1.0 };
    let cols = (k as f64).sqrt().ceil() as usize;
    let rows = k.div_ceil(cols);
    let (tile_w, tile_h, gap) = (w as u32 * scale, h as u32 * scale, 2u32);
    let title = format!("{name}: {k} maps of {h}x{w}");
    let grid_w = cols as u32 * (tile_w + gap) + gap;
    let width = (grid_w + 70).max(Canvas::text_width(&title, 1) as u32 + 8);
    let height = (14 + rows as u32 * (tile_h + gap) + gap).max(14 + 120);
    let mut canvas = Canvas::new(width, height);
    canvas.text(4, 3, &title, 1, Rgb([0, 0, 0]));
    for (m, plane) in maps.chunks_exact(h * w).enumerate() {
        let (x0, y0) = (gap + (m % cols) as u32 * (tile_w + gap), 14 + gap + (m / cols) as u32 * (tile_h + gap));
        for (p, &v) in plane.iter().enumerate() {
            let color = Colormap::Viridis.color((v - lo) / range);
            let (x, y) = (x0 + (p % w) as u32 * scale, y0 + (p / w) as u32 * scale);
            canvas.fill_rect(x as i32, y as i32, scale as i32, scale as i32, color);
        }
    }
    // the colour bar: top = the layer's maximum, bottom = its minimum
    let (bar_x, bar_y, bar_h) = (grid_w as i32 + 6, 26, 100);
    for t in 0..bar_h {
        let color = Colormap::Viridis.color(1.0 - t as f32 / (bar_h - 1) as f32);
        canvas.fill_rect(bar_x, bar_y + t, 10, 1, color);
    }
    canvas.text(bar_x, bar_y - 10, &format!("{hi:.2}"), 1, Rgb([0, 0, 0]));
    canvas.text(bar_x, bar_y + bar_h + 2, &format!("{lo:.2}"), 1, Rgb([0, 0, 0]));
    canvas.image
}
