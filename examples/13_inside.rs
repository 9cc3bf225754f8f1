//! Chapters "Filters and activation maps" and "Maximally activating patches": what the demo's smallcnn has learned, layer by layer.
//!
//! Run: cargo run --release --example 13_inside [-- --book]
//! Uses the demo's smallcnn (trained once, kept in target/book-runs).
//! Writes filters_first.png, filters_deep.png, activations.png,
//! patches_early.png and patches_late.png to target/figures
//! (book/src/figures with --book), and prints every layer's receptive field.

use cnnlab::data::batches::make_batch;
use cnnlab::inspect::filters::{activation_picture, filter_picture, find_conv};
use cnnlab::inspect::patches::{patches_picture, top_patches};
use cnnlab::inspect::{feature_maps, receptive_field_of, receptive_fields};
use cnnlab::io::{figures_dir, save_png, Result};
use cnnlab::train::{self, TrainConfig};
use std::path::Path;

fn main() -> Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/book-runs/smallcnn");
    let (mut model, data) = train::trained(&TrainConfig { model: "smallcnn".into(), ..TrainConfig::demo() }, &dir)?;
    let figures = figures_dir();

    println!("| layer | field size | jump | start |");
    println!("|---|---|---|---|");
    for (name, f) in receptive_fields(&model).into_iter().filter(|(_, f)| !f.global) {
        println!("| {name} | {} | {} | {} |", f.rows.size, f.rows.jump, f.rows.start);
    }

    let (name, weight) = find_conv(&mut model, None)?;
    save_png(&figures.join("filters_first.png"), &filter_picture(&name, &weight, 32, 32, 12))?;
    let (name, weight) = find_conv(&mut model, Some("7"))?;
    save_png(&figures.join("filters_deep.png"), &filter_picture(&name, &weight, 12, 16, 6))?;

    // one test image (a star) through layers 2, 9 and 19
    let star = data.test.labels.iter().position(|&l| data.test.classes[l] == "star").unwrap_or(0);
    let (x, _) = make_batch(&data.test, &[star], &data.preprocessing, None);
    let layers = ["2".to_string(), "9".to_string(), "19".to_string()];
    let mut panels = Vec::new();
    for (name, maps) in feature_maps(&mut model, &x, &layers)? {
        let (_, k, h, w) = maps.dims4("activations");
        let shown = k.min(32);
        panels.push(activation_picture(&name, &maps.data()[..shown * h * w], [shown, h, w], (64 / h) as u32));
    }
    let picture = cnnlab::viz::heatmap::image_from_chw(data.test.image(star), data.test.shape);
    let big = image::imageops::resize(&picture, 128, 128, image::imageops::FilterType::Nearest);
    let mut all = vec![cnnlab::viz::labelled_row(&[(&big, "input (a star)")], 8)];
    all.extend(panels);
    save_png(&figures.join("activations.png"), &cnnlab::explain::grid::stack(&all))?;

    for (layer, file) in [("2", "patches_early.png"), ("16", "patches_late.png")] {
        let field = receptive_field_of(&model, layer)?;
        let channels: Vec<usize> = (0..6).collect();
        let best = top_patches(&mut model, &data.test, &data.preprocessing, layer, &channels, 8, &|_| {})?;
        let size = (field.rows.size, field.cols.size);
        save_png(&figures.join(file), &patches_picture(&data.test, layer, size, &best))?;
        let classes: Vec<Vec<&str>> = best
            .iter()
            .map(|b| b.iter().map(|p| data.test.classes[data.test.labels[p.image]].as_str()).collect())
            .collect();
        println!("layer {layer} (field {}x{}): classes of the top patches per channel: {classes:?}", size.0, size.1);
    }
    println!("wrote the filters, activations and patches figures in {}", figures.display());
    Ok(())
}
