//! A white RGB canvas with lines, rectangles and 8×8 bitmap text.

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};

/// An RGB image to draw on.
pub struct Canvas {
    /// The pixels.
    pub image: RgbImage,
}

impl Canvas {
    /// A white canvas.
    pub fn new(width: u32, height: u32) -> Self {
        Canvas { image: RgbImage::from_pixel(width, height, Rgb([255, 255, 255])) }
    }

    /// A white strip `width` pixels wide holding one line of black text.
    pub fn label(text: &str, width: u32) -> RgbImage {
        let mut canvas = Canvas::new(width, 14);
        canvas.text(4, 3, text, 1, Rgb([0, 0, 0]));
        canvas.image
    }

    /// Sets one pixel, ignoring coordinates outside the canvas.
    pub fn put(&mut self, x: i32, y: i32, color: Rgb<u8>) {
        if x >= 0 && y >= 0 && (x as u32) < self.image.width() && (y as u32) < self.image.height() {
            self.image.put_pixel(x as u32, y as u32, color);
        }
    }

    /// A filled axis-aligned rectangle.
    pub fn fill_rect(&mut self, x: i32, y: i32, w: i32, h: i32, color: Rgb<u8>) {
        for yy in y..y + h {
            for xx in x..x + w {
                self.put(xx, yy, color);
            }
        }
    }

    /// A straight line `thickness` pixels wide (Bresenham's algorithm, stamped with a square).
    pub fn line(&mut self, (x0, y0): (i32, i32), (x1, y1): (i32, i32), thickness: i32, color: Rgb<u8>) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        let half = thickness / 2;
        loop {
            self.fill_rect(x - half, y - half, thickness, thickness, color);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// The outline of a rectangle.
    pub fn rect(&mut self, x: i32, y: i32, w: i32, h: i32, thickness: i32, color: Rgb<u8>) {
        self.line((x, y), (x + w, y), thickness, color);
        self.line((x + w, y), (x + w, y + h), thickness, color);
        self.line((x + w, y + h), (x, y + h), thickness, color);
        self.line((x, y + h), (x, y), thickness, color);
    }

    /// Text with its top-left corner at (x, y); each glyph is 8·scale pixels square.
    pub fn text(&mut self, x: i32, y: i32, text: &str, scale: i32, color: Rgb<u8>) {
        for (i, ch) in text.chars().enumerate() {
            let glyph = font8x8::BASIC_FONTS.get(ch).or_else(|| font8x8::LATIN_FONTS.get(ch)).unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits >> col & 1 == 1 {
                        let (px, py) = (x + (i as i32 * 8 + col) * scale, y + row as i32 * scale);
                        self.fill_rect(px, py, scale, scale, color);
                    }
                }
            }
        }
    }

    /// Width in pixels of `text` at `scale`.
    pub fn text_width(text: &str, scale: i32) -> i32 {
        text.chars().count() as i32 * 8 * scale
    }
}
