//! Pictures: a small drawing canvas with text, line plots, heat-map overlays, and tensors shown as images.

mod canvas;
pub mod heatmap;
mod map;
pub mod plot;

pub use canvas::Canvas;
pub use map::Map;

use image::{Rgb, RgbImage};

/// A 2-D map (row-major, `h×w`) as a grey image, min → black, max → white
/// (a constant map is mid-grey). Each value becomes a `scale×scale` block.
pub fn gray_image(map: &[f32], h: usize, w: usize, scale: u32) -> RgbImage {
    assert_eq!(map.len(), h * w, "gray_image: {} values for a {h}x{w} map", map.len());
    let (lo, hi) = map.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &v| (l.min(v), u.max(v)));
    let range = hi - lo;
    RgbImage::from_fn(w as u32 * scale, h as u32 * scale, |x, y| {
        let v = map[(y / scale) as usize * w + (x / scale) as usize];
        let g = if range > 0.0 { (v - lo) / range } else { 0.5 };
        let g = (g * 255.0).round() as u8;
        Rgb([g, g, g])
    })
}

/// Images laid out left to right with `gap` pixels of white between them,
/// each with a caption underneath; a caption wider than its image widens
/// the image's slot, so that captions never run into each other.
pub fn labelled_row(images: &[(&RgbImage, &str)], gap: u32) -> RgbImage {
    let slot = |(img, caption): &(&RgbImage, &str)| img.width().max(Canvas::text_width(caption, 1) as u32);
    let height = images.iter().map(|(i, _)| i.height()).max().unwrap_or(0) + 14;
    let width = images.iter().map(|p| slot(p) + gap).sum::<u32>() + gap;
    let mut canvas = Canvas::new(width, height + gap);
    let mut x = gap;
    for panel @ (img, caption) in images {
        image::imageops::replace(&mut canvas.image, *img, x as i64, gap as i64 / 2);
        canvas.text(x as i32, (gap / 2 + img.height() + 3) as i32, caption, 1, Rgb([0, 0, 0]));
        x += slot(panel) + gap;
    }
    canvas.image
}

/// Draws the outline of `bbox` (in image pixels, multiplied by `scale`) onto `image`.
pub fn draw_box(image: &mut RgbImage, bbox: &crate::data::BBox, scale: f32, color: Rgb<u8>) {
    let mut canvas = Canvas { image: std::mem::take(image) };
    let (x0, y0) = ((bbox.x0 * scale) as i32, (bbox.y0 * scale) as i32);
    let (x1, y1) = ((bbox.x1 * scale) as i32 - 1, (bbox.y1 * scale) as i32 - 1);
    canvas.rect(x0, y0, x1 - x0, y1 - y0, 1, color);
    *image = canvas.image;
}
