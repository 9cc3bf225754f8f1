//! Chapter "Grad-CAM and its descendants", section "Sharpen focus": smallcnn trained on shapes with and without the attention-separability term.
//!
//! Run: cargo run --release --example 17_sharpen_focus [-- --book]
//! Trains the demo's smallcnn with λ = 0 and λ = 1 (about 2 minutes each,
//! once; kept in target/book-runs), prints the test accuracy, the mean L_AS
//! and the mean correlation of the maps of the true and the most confusing
//! class, and writes sharpen_focus.png to target/figures (book/src/figures
//! with --book).

use cnnlab::data::batches::make_batch;
use cnnlab::eval::argmax;
use cnnlab::explain::cam::{cam_head, class_activation_map};
use cnnlab::explain::capture::capture;
use cnnlab::explain::separability::{attention_separability, most_confusing};
use cnnlab::io::{figures_dir, save_png, Result};
use cnnlab::models::Model;
use cnnlab::no_grad;
use cnnlab::train::{self, Prepared, TrainConfig};
use cnnlab::viz::heatmap::{image_from_chw, overlay_with_boxes, with_colour_bar, Colormap};
use cnnlab::viz::labelled_row;
use image::RgbImage;
use std::path::Path;

/// The demo's recipe with the attention-separability weight `lambda`, trained once into target/book-runs.
fn trained(lambda: f64) -> Result<(Model, Prepared)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/book-runs/sharpen-{lambda}"));
    train::trained(&TrainConfig { attention_separability: lambda, ..TrainConfig::demo() }, &dir)
}

/// One test image's maps A^T and A^C (ReLU of the two classes' CAMs), upsampled and normalised together.
struct Pair {
    image: usize,
    truth: usize,
    confusing: usize,
    maps: [cnnlab::explain::Map; 2],
}

// ANCHOR: measure
/// Test accuracy, mean L_AS and mean correlation of A^T and A^C over the test split,
/// and every image's pair of maps.
fn measure(model: &mut Model, data: &Prepared) -> Result<(f64, f64, f64, Vec<Pair>)> {
    let (test, head) = (&data.test, cam_head(model)?);
    let (mut hits, mut separability, mut correlation, mut pairs) = (0, 0.0, 0.0, Vec::new());
    for start in (0..test.labels.len()).step_by(100) {
        let idx: Vec<usize> = (start..(start + 100).min(test.labels.len())).collect();
        let (x, labels) = make_batch(test, &idx, &data.preprocessing, None);
        let captured = no_grad(|| capture(model.net.as_mut(), &x, "19"))?;
        let classes = head.bias.shape()[0];
        let confusing = most_confusing(captured.logits.data(), classes, &labels);
        let l_as = no_grad(|| attention_separability(&captured.feature_maps, &head.class_weights, &labels, &confusing));
        separability += f64::from(l_as.item()) * idx.len() as f64;
        let (_, k, h, w) = captured.feature_maps.dims4("measure");
        for (n, &i) in idx.iter().enumerate() {
            hits += usize::from(argmax(&captured.logits.data()[n * classes..(n + 1) * classes]) == labels[n]);
            let f = &captured.feature_maps.data()[n * k * h * w..(n + 1) * k * h * w];
            let map = |c: usize| class_activation_map(f, &head.class_weights.data()[c * k..(c + 1) * k], (h, w)).relu();
            let (a_t, a_c) = (map(labels[n]), map(confusing[n]));
            correlation += f64::from(a_t.correlation(&a_c));
            pairs.push(Pair { image: i, truth: labels[n], confusing: confusing[n], maps: [a_t, a_c] });
        }
    }
    let count = test.labels.len() as f64;
    Ok((hits as f64 / count, separability / count, correlation / count, pairs))
}
// ANCHOR_END: measure

/// The pair's two maps over the image, on one scale (the larger map's maximum).
fn panels(data: &Prepared, pair: &Pair) -> [RgbImage; 2] {
    let picture = image_from_chw(data.test.image(pair.image), data.test.shape);
    let top = pair.maps[0].max().max(pair.maps[1].max()).max(f32::MIN_POSITIVE);
    let scaled = |m: &cnnlab::explain::Map| {
        let up = m.upsample(32, 32);
        cnnlab::explain::Map::new(32, 32, up.values.iter().map(|v| (v / top).clamp(0.0, 1.0)).collect())
    };
    pair.maps.each_ref().map(|m| overlay_with_boxes(&picture, &scaled(m), Colormap::Viridis, 4, None, None))
}

fn main() -> Result<()> {
    let figures = figures_dir();
    let mut results = Vec::new();
    for lambda in [0.0, 1.0] {
        let (mut model, data) = trained(lambda)?;
        let (accuracy, separability, correlation, pairs) = measure(&mut model, &data)?;
        println!(
            "λ = {lambda}: test accuracy {:.2}%, mean L_AS {separability:.3}, mean correlation of A^T and A^C {correlation:.3}",
            100.0 * accuracy
        );
        results.push((data, pairs));
    }
    // the four test images whose two maps overlap most without the term
    let overlap = |p: &Pair| p.maps[0].correlation(&p.maps[1]);
    let mut order: Vec<usize> = (0..results[0].1.len()).collect();
    order.sort_by(|&a, &b| overlap(&results[0].1[b]).total_cmp(&overlap(&results[0].1[a])));
    let mut rows = Vec::new();
    for &i in &order[..4] {
        let data = &results[0].0;
        let (before, after) = (&results[0].1[i], &results[1].1[i]);
        let [t0, c0] = panels(data, before);
        let [t1, c1] = panels(data, after);
        let name = |c: usize| data.test.classes[c].clone();
        let captions = [
            format!("plain: {}", name(before.truth)),
            format!("plain: {}", name(before.confusing)),
            format!("sharp: {}", name(after.truth)),
            format!("sharp: {}", name(after.confusing)),
        ];
        let row = [
            (&t0, captions[0].as_str()),
            (&c0, captions[1].as_str()),
            (&t1, captions[2].as_str()),
            (&c1, captions[3].as_str()),
        ];
        rows.push(labelled_row(&row, 8));
    }
    let figure = with_colour_bar(&cnnlab::explain::grid::stack(&rows), Colormap::Viridis, "0", "max");
    save_png(&figures.join("sharpen_focus.png"), &figure)?;
    println!("wrote sharpen_focus.png in {}", figures.display());
    Ok(())
}
