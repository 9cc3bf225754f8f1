//! Heat maps: colormaps (perceptual viridis and the classic jet) and saliency overlays on the image.

use super::Map;
use crate::data::BBox;
use image::{Rgb, RgbImage};

/// A colormap from [0, 1] to colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colormap {
    /// Perceptually uniform and readable in grey and by colour-blind readers
    /// (matplotlib's default): equal steps in value look like equal steps.
    Viridis,
    /// Blue–cyan–yellow–red, common in papers; its bright cyan and yellow
    /// bands invent edges the map does not have.
    Jet,
}

/// Viridis at 0, ⅛, …, 1; colours in between are interpolated linearly.
const VIRIDIS: [[f32; 3]; 9] = [
    [68.0, 1.0, 84.0],
    [71.0, 44.0, 122.0],
    [59.0, 82.0, 139.0],
    [44.0, 113.0, 142.0],
    [33.0, 145.0, 140.0],
    [39.0, 173.0, 129.0],
    [92.0, 200.0, 99.0],
    [170.0, 220.0, 50.0],
    [253.0, 231.0, 37.0],
];

impl Colormap {
    /// The colour of `t` (clamped to [0, 1]; NaN counts as 0).
    pub fn color(self, t: f32) -> Rgb<u8> {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        let rgb = match self {
            Colormap::Viridis => {
                let pos = t * (VIRIDIS.len() - 1) as f32;
                let i = (pos.floor() as usize).min(VIRIDIS.len() - 2);
                let f = pos - i as f32;
                std::array::from_fn(|c| VIRIDIS[i][c] * (1.0 - f) + VIRIDIS[i + 1][c] * f)
            }
            Colormap::Jet => {
                let ramp = |centre: f32| 255.0 * (1.5 - (4.0 * t - centre).abs()).clamp(0.0, 1.0);
                [ramp(3.0), ramp(2.0), ramp(1.0)]
            }
        };
        Rgb(rgb.map(|v| v.round() as u8))
    }
}

impl std::str::FromStr for Colormap {
    type Err = crate::io::Error;
    fn from_str(s: &str) -> crate::io::Result<Self> {
        match s {
            "viridis" => Ok(Colormap::Viridis),
            "jet" => Ok(Colormap::Jet),
            _ => Err(crate::io::Error::msg(format!("--colormap: unknown '{s}'; choose viridis or jet"))),
        }
    }
}

/// A dataset image (bytes, CHW; 1 or 3 channels) as an RGB picture.
pub fn image_from_chw(bytes: &[u8], [c, h, w]: [usize; 3]) -> RgbImage {
    RgbImage::from_fn(w as u32, h as u32, |x, y| {
        let at = |ch: usize| bytes[ch.min(c - 1) * h * w + y as usize * w + x as usize];
        Rgb([at(0), at(1), at(2)])
    })
}

// ANCHOR: overlay
/// `image` enlarged `scale` times with the normalised `map` (same size as the
/// image) blended on top: (1 − α)·pixel + α·colormap(m).
pub fn overlay(image: &RgbImage, map: &Map, colormap: Colormap, alpha: f32, scale: u32) -> RgbImage {
    assert_eq!((map.height, map.width), (image.height() as usize, image.width() as usize), "overlay: map size");
    RgbImage::from_fn(image.width() * scale, image.height() * scale, |x, y| {
        let (ix, iy) = (x / scale, y / scale);
        let pixel = image.get_pixel(ix, iy).0;
        let heat = colormap.color(map.at(iy as usize, ix as usize)).0;
        Rgb(std::array::from_fn(|c| ((1.0 - alpha) * pixel[c] as f32 + alpha * heat[c] as f32).round() as u8))
    })
}
// ANCHOR_END: overlay

/// A vertical colour bar `height` pixels tall, `top` at the top (colour 1)
/// and `bottom` at the bottom (colour 0), its labels written beside it.
pub fn colour_bar(colormap: Colormap, height: u32, bottom: &str, top: &str) -> RgbImage {
    let label_w = super::Canvas::text_width(bottom, 1).max(super::Canvas::text_width(top, 1)) as u32;
    let mut canvas = super::Canvas::new(14 + label_w + 2, height.max(2) + 8);
    let h = height.max(2) as i32;
    for t in 0..h {
        canvas.fill_rect(0, 4 + t, 10, 1, colormap.color(1.0 - t as f32 / (h - 1) as f32));
    }
    canvas.text(14, 2, top, 1, Rgb([0, 0, 0]));
    canvas.text(14, h - 4, bottom, 1, Rgb([0, 0, 0]));
    canvas.image
}

/// `figure` with a colour bar at its right: how to read the colours of its
/// heat maps (`bottom` = colour 0, `top` = colour 1).
pub fn with_colour_bar(figure: &RgbImage, colormap: Colormap, bottom: &str, top: &str) -> RgbImage {
    let bar = colour_bar(colormap, 120.min(figure.height().saturating_sub(30)).max(40), bottom, top);
    let height = figure.height().max(bar.height() + 10);
    let mut out = RgbImage::from_pixel(figure.width() + bar.width() + 8, height, Rgb([255; 3]));
    image::imageops::replace(&mut out, figure, 0, 0);
    image::imageops::replace(&mut out, &bar, figure.width() as i64 + 4, 10);
    out
}

/// Colour of the box found from a map.
pub const FOUND_BOX: Rgb<u8> = Rgb([255, 0, 255]);
/// Colour of the ground-truth box.
pub const TRUE_BOX: Rgb<u8> = Rgb([255, 255, 255]);

/// An overlay with the found box (magenta) and the ground truth (white) drawn in.
pub fn overlay_with_boxes(
    image: &RgbImage,
    map: &Map,
    colormap: Colormap,
    scale: u32,
    found: Option<&BBox>,
    truth: Option<&BBox>,
) -> RgbImage {
    let mut out = overlay(image, map, colormap, 0.5, scale);
    if let Some(b) = truth {
        super::draw_box(&mut out, b, scale as f32, TRUE_BOX);
    }
    if let Some(b) = found {
        super::draw_box(&mut out, b, scale as f32, FOUND_BOX);
    }
    out
}
