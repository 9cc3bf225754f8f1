//! Pictures of explanations: one row per image, one column per method, boxes drawn in.

use super::{explain, Method, Options, Target};
use crate::data::batches::make_batch;
use crate::data::preprocess::Preprocessing;
use crate::data::Dataset;
use crate::io::Result;
use crate::localize::box_from_map;
use crate::models::Model;
use crate::viz::heatmap::{image_from_chw, overlay_with_boxes, with_colour_bar, Colormap};
use crate::viz::labelled_row;
use image::RgbImage;

/// Grids for the images `indices` of `data`, one per colormap: the image,
/// then each method's normalised map for the true class as an overlay,
/// enlarged `scale` times, with the box found at `threshold` (or the method's
/// default; magenta) and the ground truth (white). Methods that cannot
/// explain the model (CAM on vgg-fc) are skipped. A colour bar at the right
/// reads the normalised maps (0 = a map's minimum, 1 = its maximum).
pub fn explanation_grids(
    model: &mut Model,
    data: &Dataset,
    pre: &Preprocessing,
    indices: &[usize],
    methods: &[(Method, Option<f32>)],
    opts: &Options,
    (colormaps, scale): (&[Colormap], u32),
) -> Result<Vec<RgbImage>> {
    let (x, labels) = make_batch(data, indices, pre, None);
    let mut columns = Vec::new();
    for &(method, threshold) in methods {
        match explain(model, &x, method, &Target::PerImage(labels.clone()), opts) {
            Ok((maps, _, _)) => columns.push((method, threshold.unwrap_or(method.default_threshold()), maps)),
            Err(_) if method == Method::Cam => continue, // e.g. vgg-fc: no CAM
            Err(e) => return Err(e),
        }
    }
    let grids = colormaps.iter().map(|&colormap| grid(data, indices, &labels, &columns, colormap, scale));
    Ok(grids.collect())
}

type Column = (Method, f32, Vec<crate::explain::Map>);

fn grid(
    data: &Dataset,
    indices: &[usize],
    labels: &[usize],
    columns: &[Column],
    colormap: Colormap,
    scale: u32,
) -> RgbImage {
    let [_, h, w] = data.shape;
    let mut rows = Vec::new();
    for (k, &i) in indices.iter().enumerate() {
        let picture = image_from_chw(data.image(i), data.shape);
        let truth = data.boxes.get(i);
        let big =
            image::imageops::resize(&picture, w as u32 * scale, h as u32 * scale, image::imageops::FilterType::Nearest);
        let mut panels = vec![(big, data.classes[labels[k]].clone())];
        for (method, threshold, maps) in columns {
            let map = maps[k].upsample(h, w).normalized();
            let found = box_from_map(&map, *threshold);
            let overlay = overlay_with_boxes(&picture, &map, colormap, scale, found.as_ref(), truth);
            panels.push((overlay, method.name().to_string()));
        }
        let row: Vec<_> = panels.iter().map(|(img, label)| (img, label.as_str())).collect();
        rows.push(labelled_row(&row, 6));
    }
    with_colour_bar(&stack(&rows), colormap, "0", "1")
}

/// Pictures stacked top to bottom on white.
pub fn stack(rows: &[RgbImage]) -> RgbImage {
    let width = rows.iter().map(RgbImage::width).max().unwrap_or(0);
    let height = rows.iter().map(RgbImage::height).sum();
    let mut out = RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let mut y = 0;
    for row in rows {
        image::imageops::replace(&mut out, row, 0, y as i64);
        y += row.height();
    }
    out
}
