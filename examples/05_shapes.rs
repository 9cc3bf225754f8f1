//! Chapter "The shapes dataset": generates images and draws a grid with their boxes and keypoints.
//!
//! Run: cargo run --release --example 05_shapes [-- --book]
//! Writes shapes_grid.png to target/figures (book/src/figures with --book).

use cnnlab::data::shapes::{generate, ShapesConfig};
use cnnlab::io::figures_dir;
use cnnlab::viz::{draw_box, Canvas};
use image::{Rgb, RgbImage};
use std::time::Instant;

fn main() {
    let cfg = ShapesConfig::default();
    let start = Instant::now();
    let data = generate(&cfg, 10_000, 0);
    println!("generated {} images of {:?} in {:.2} s", data.len(), data.shape, start.elapsed().as_secs_f64());
    println!("images per class: {:?}", data.class_counts());

    // one example of each class, enlarged 4x, box in green, keypoints in red
    let (scale, s) = (4u32, cfg.size as u32);
    let mut canvas = Canvas::new(10 * (s * scale + 8) + 8, s * scale + 28);
    for (class, name) in data.classes.iter().enumerate() {
        let i = data.labels.iter().position(|&l| l == class).expect("every class appears");
        let bytes = data.image(i);
        let plane = (s * s) as usize;
        let mut img = RgbImage::from_fn(s * scale, s * scale, |x, y| {
            let at = (y / scale * s + x / scale) as usize;
            Rgb([bytes[at], bytes[plane + at], bytes[2 * plane + at]])
        });
        draw_box(&mut img, &data.boxes[i], scale as f32, Rgb([0, 230, 0]));
        for &[x, y] in &data.keypoints[i] {
            let (px, py) = ((x * scale as f32) as i64, (y * scale as f32) as i64);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (-1, 0), (0, -1)] {
                if let Some(p) = img.get_pixel_mut_checked((px + dx) as u32, (py + dy) as u32) {
                    *p = Rgb([255, 0, 0]);
                }
            }
        }
        let x = 8 + class as u32 * (s * scale + 8);
        image::imageops::replace(&mut canvas.image, &img, x as i64, 4);
        canvas.text(x as i32, (s * scale + 10) as i32, name, 1, Rgb([0, 0, 0]));
    }
    let out = figures_dir().join("shapes_grid.png");
    cnnlab::io::save_png(&out, &canvas.image).expect("write figure");
    println!("wrote {}", out.display());
}
