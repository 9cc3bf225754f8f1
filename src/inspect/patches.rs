//! Maximally activating patches: for each channel of a layer, the images whose strongest unit responds most, cropped to that unit's receptive field.

use super::{feature_maps, receptive_field_of};
use crate::data::batches::make_batch;
use crate::data::preprocess::Preprocessing;
use crate::data::Dataset;
use crate::io::{Error, Result};
use crate::models::Model;
use crate::viz::{labelled_row, Canvas};
use image::{Rgb, RgbImage};
use rayon::prelude::*;

/// One unit's response to one image, and where in the image the unit looks.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Patch {
    /// The channel (feature map) of the layer.
    pub channel: usize,
    /// Index of the image in the split.
    pub image: usize,
    /// The unit's row and column in the feature map.
    pub y: usize,
    /// The unit's column.
    pub x: usize,
    /// Its activation.
    pub activation: f32,
    /// The receptive field in input pixels, `[y0, x0, y1, x1]` half-open and
    /// not clipped: negative or past-the-edge parts lie in the padding.
    pub input_box: [isize; 4],
}

// ANCHOR: top_patches
/// For each of `channels` of layer `layer`, the `top` images of `data`
/// whose strongest unit in that channel is strongest, best first — one
/// patch per image (its best position), as Zeiler & Fergus show them, so a
/// grid is not `top` crops of one image. Runs the whole split in batches,
/// without a graph; `progress` is told how many images are done.
///
/// # Errors
/// An unknown layer, one without feature maps, or a channel out of range.
pub fn top_patches(
    model: &mut Model,
    data: &Dataset,
    pre: &Preprocessing,
    layer: &str,
    channels: &[usize],
    top: usize,
    progress: &dyn Fn(usize),
) -> Result<Vec<Vec<Patch>>> {
    let field = receptive_field_of(model, layer)?;
    let mut best: Vec<Vec<Patch>> = vec![Vec::new(); channels.len()];
    let indices: Vec<usize> = (0..data.len()).collect();
    for chunk in indices.chunks(128) {
        let (x, _) = make_batch(data, chunk, pre, None);
        let (_, maps) = feature_maps(model, &x, &[layer.to_string()])?.remove(0);
        let (_, k, h, w) = maps.dims4("patches");
        if let Some(&c) = channels.iter().find(|&&c| c >= k) {
            return Err(Error::msg(format!("--channels: layer {layer} has channels 0..{}, not {c}", k - 1)));
        }
        let values = maps.data();
        best.par_iter_mut().zip(channels).for_each(|(kept, &c)| {
            for (n, &image) in chunk.iter().enumerate() {
                let plane = &values[(n * k + c) * h * w..(n * k + c + 1) * h * w];
                let at = (0..plane.len()).fold(0, |b, i| if plane[i] > plane[b] { i } else { b });
                let (y, x) = (at / w, at % w);
                let input_box = field.input_box((y, x), (data.shape[1], data.shape[2]));
                keep_top(kept, Patch { channel: c, image, y, x, activation: plane[at], input_box }, top);
            }
        });
        progress(chunk.len());
    }
    Ok(best)
}
// ANCHOR_END: top_patches

/// Inserts `patch` into `kept` (sorted by activation, highest first; ties
/// by image index) and keeps at most `top`.
fn keep_top(kept: &mut Vec<Patch>, patch: Patch, top: usize) {
    let pos = kept.partition_point(|p| {
        p.activation > patch.activation || (p.activation == patch.activation && p.image < patch.image)
    });
    if pos < top {
        kept.insert(pos, patch);
        kept.truncate(top);
    }
}

/// The input pixels of `patch`'s receptive field, `scale` times enlarged;
/// the part that falls outside the image (the padding the convolutions
/// saw as zeros) drawn as a grey checkerboard, so crops at the border are
/// not silently shifted.
pub fn patch_image(data: &Dataset, patch: &Patch, scale: u32) -> RgbImage {
    let [c, h, w] = data.shape;
    let [y0, x0, y1, x1] = patch.input_box;
    let pixels = data.image(patch.image);
    let (bw, bh) = ((x1 - x0) as u32, (y1 - y0) as u32);
    RgbImage::from_fn(bw * scale, bh * scale, |px, py| {
        let (y, x) = (y0 + (py / scale) as isize, x0 + (px / scale) as isize);
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            let light = ((px / scale.max(2)) + (py / scale.max(2))).is_multiple_of(2);
            return if light { Rgb([200, 200, 200]) } else { Rgb([150, 150, 150]) };
        }
        let at = y as usize * w + x as usize;
        let v = |ch: usize| pixels[ch.min(c - 1) * h * w + at];
        Rgb([v(0), v(1), v(2)])
    })
}

/// One row per channel: its patches side by side, each captioned with its
/// activation, under a title naming the layer and the receptive field.
pub fn patches_picture(data: &Dataset, layer: &str, field_size: (usize, usize), best: &[Vec<Patch>]) -> RgbImage {
    let scale = (64 / field_size.0.max(field_size.1)).max(2) as u32;
    let mut rows = Vec::new();
    for patches in best {
        let Some(first) = patches.first() else { continue };
        let label = Canvas::label(&format!("ch {}", first.channel), 48);
        let crops: Vec<RgbImage> = patches.iter().map(|p| patch_image(data, p, scale)).collect();
        let captions: Vec<String> = patches.iter().map(|p| format!("{:.2}", p.activation)).collect();
        let mut row: Vec<(&RgbImage, &str)> = vec![(&label, "")];
        row.extend(crops.iter().zip(&captions).map(|(i, c)| (i, c.as_str())));
        rows.push(labelled_row(&row, 4));
    }
    let title = format!(
        "layer {layer}: top {} patches per channel, receptive field {}x{} (checkerboard = padding)",
        best.first().map_or(0, Vec::len),
        field_size.0,
        field_size.1
    );
    let mut all = vec![Canvas::label(&title, Canvas::text_width(&title, 1) as u32 + 8)];
    all.extend(rows);
    crate::explain::grid::stack(&all)
}
