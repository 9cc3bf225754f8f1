//! Chapter "GAP and CAM", section "Any image size": a network that ends in global pooling explains a larger canvas with a finer map.
//!
//! Run: cargo run --release --example 11_native_size [-- --book]
//! Uses the demo's smallcnn (trained once, about 1.5 minutes, kept in
//! target/book-runs), pastes four test images of different classes into a
//! 64×64 canvas, and compares CAM at the model's 32×32 (the canvas shrunk,
//! an 8×8 map) with CAM at the canvas's own size (a 16×16 map). Writes
//! native_size.png to target/figures (book/src/figures with --book).

use cnnlab::explain::cam::cam;
use cnnlab::explain::Target;
use cnnlab::io::{figures_dir, save_png, Result};
use cnnlab::train::{self, TrainConfig};
use cnnlab::viz::heatmap::{image_from_chw, overlay_with_boxes, with_colour_bar, Colormap};
use cnnlab::viz::labelled_row;
use cnnlab::Tensor;
use std::path::Path;

fn main() -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/book-runs/smallcnn");
    let (mut model, data) = train::trained(&TrainConfig { model: "smallcnn".into(), ..TrainConfig::demo() }, &dir)?;
    let (test, pre) = (&data.test, &data.preprocessing);
    // the first test image of classes 0, 2, 4 and 6, one in each quadrant of a 64×64 canvas
    let classes = [0, 2, 4, 6];
    let picks: Vec<usize> = classes.iter().map(|&c| test.labels.iter().position(|&l| l == c).unwrap()).collect();
    let mut canvas = vec![0u8; 3 * 64 * 64];
    for (q, &i) in picks.iter().enumerate() {
        let (oy, ox) = (32 * (q / 2), 32 * (q % 2));
        for c in 0..3 {
            for y in 0..32 {
                let row = &test.image(i)[c * 1024 + y * 32..c * 1024 + y * 32 + 32];
                let at = c * 4096 + (oy + y) * 64 + ox;
                canvas[at..at + 32].copy_from_slice(row);
            }
        }
    }
    let picture = image_from_chw(&canvas, [3, 64, 64]);
    let small = image::imageops::resize(&picture, 32, 32, image::imageops::FilterType::Triangle);
    let small_bytes: Vec<u8> = (0..3).flat_map(|c| small.pixels().map(move |p| p.0[c])).collect();
    let normalized = |bytes: &[u8], side: usize| -> Result<Tensor> {
        let mut values = vec![0f32; 3 * side * side];
        pre.apply_at_size(bytes, [3, side, side], &mut values)?;
        Ok(Tensor::from_vec(values, &[1, 3, side, side]))
    };
    let (native_x, model_x) = (normalized(&canvas, 64)?, normalized(&small_bytes, 32)?);
    let show = |m: &cnnlab::explain::Map| {
        overlay_with_boxes(&picture, &m.upsample(64, 64).normalized(), Colormap::Viridis, 4, None, None)
    };
    let mut rows = Vec::new();
    for &class in &classes {
        let (at_model, _, _) = cam(&mut model, &model_x, &Target::Class(class))?;
        let (at_native, logits, _) = cam(&mut model, &native_x, &Target::Class(class))?;
        let name = &test.classes[class];
        println!(
            "{name}: model size {}x{} map, native {}x{} map; score at native size {:.2}",
            at_model[0].height,
            at_model[0].width,
            at_native[0].height,
            at_native[0].width,
            logits.data()[class]
        );
        let panels = [
            (show(&at_model[0]), format!("{name}, 32x32 in (8x8 map)")),
            (show(&at_native[0]), format!("{name}, 64x64 in (16x16 map)")),
        ];
        rows.push(labelled_row(&panels.iter().map(|(i, c)| (i, c.as_str())).collect::<Vec<_>>(), 8));
    }
    let big = image::imageops::resize(&picture, 256, 256, image::imageops::FilterType::Nearest);
    let mut lines = vec![labelled_row(&[(&big, "the 64x64 canvas")], 8)];
    lines.extend(rows);
    let out = figures_dir().join("native_size.png");
    save_png(&out, &with_colour_bar(&cnnlab::explain::grid::stack(&lines), Colormap::Viridis, "0", "1"))?;
    println!("wrote {}", out.display());
    Ok(())
}
