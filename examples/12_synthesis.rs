//! Chapter "Input synthesis by gradient ascent": each regulariser's picture, and the transfer rate that compares presets by numbers.
//!
//! Run: cargo run --release --example 12_synthesis [-- --book]
//! Uses the demo's smallcnn (seed 0) to synthesise and two independently
//! trained judges (resnet20 and smallcnn, seed 1, the demo's recipe
//! otherwise) to classify the results; all are trained once (a few minutes)
//! and kept in target/book-runs. Prints the transfer-rate table (10 classes × 8 seeds
//! per preset) and writes synthesis_presets.png and synthesis_curves.png
//! to target/figures (book/src/figures with --book).

use cnnlab::inspect::synthesis::{synthesize, Objective, SynthesisOptions};
use cnnlab::io::{figures_dir, save_png, Result};
use cnnlab::models::Model;
use cnnlab::train::{self, Prepared, TrainConfig};
use cnnlab::viz::heatmap::image_from_chw;
use cnnlab::viz::labelled_row;
use cnnlab::viz::plot::LinePlot;
use cnnlab::{nn::Module, no_grad, Tensor};
use std::path::Path;

fn trained(name: &str, model: &str, seed: u64) -> Result<(Model, Prepared)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/book-runs").join(name);
    train::trained(&TrainConfig { model: model.into(), seed, ..TrainConfig::demo() }, &dir)
}

/// The share of `pixels` (CHW bytes, one per class 0..n) that `judge` classifies as their class.
fn transfer(judge: &mut Model, data: &Prepared, pixels: &[Vec<u8>], classes: &[usize]) -> f64 {
    let [c, h, w] = data.test.shape;
    let mut values = vec![0f32; pixels.len() * c * h * w];
    for (img, out) in pixels.iter().zip(values.chunks_mut(c * h * w)) {
        data.preprocessing.apply(img, out);
    }
    let x = Tensor::from_vec(values, &[pixels.len(), c, h, w]);
    judge.set_training(false);
    let predicted = no_grad(|| judge.forward(&x)).argmax(1);
    predicted.iter().zip(classes).filter(|(p, c)| p == c).count() as f64 / classes.len() as f64
}

fn main() -> Result<()> {
    let (mut model, data) = trained("smallcnn", "smallcnn", 0)?;
    let (mut judge, judge_data) = trained("resnet20-seed1", "resnet20", 1)?;
    let (mut judge2, judge2_data) = trained("smallcnn-seed1", "smallcnn", 1)?;
    let shape = data.test.shape;
    let classes: Vec<usize> = (0..data.test.classes.len()).collect();
    let objectives: Vec<Objective> = classes.iter().map(|&c| Objective::Class(c)).collect();
    let presets = [
        ("none", SynthesisOptions::raw()),
        ("l2", SynthesisOptions::l2_only()),
        ("l2 + jitter", SynthesisOptions { jitter: 2, ..SynthesisOptions::l2_only() }),
        ("l2 + blur", SynthesisOptions { blur_every: 8, blur_sigma: 0.5, ..SynthesisOptions::l2_only() }),
        ("l2 + tv", SynthesisOptions { tv: 0.01, ..SynthesisOptions::l2_only() }),
        ("l2 + frequency", SynthesisOptions { frequency: true, lr: 0.1, ..SynthesisOptions::l2_only() }),
        ("full", SynthesisOptions::regularized()),
    ];
    println!("| preset | transfer to resnet20 (seed 1) | transfer to smallcnn (seed 1) | own p(class), mean | seconds per 10 images |");
    println!("|---|---|---|---|---|");
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (name, preset) in presets {
        let (mut hits, mut hits2, mut own, mut seconds) = (0.0, 0.0, 0.0, 0.0);
        let seeds = 8;
        for seed in 0..seeds {
            let started = std::time::Instant::now();
            let out =
                synthesize(&mut model, &objectives, shape, &data.preprocessing, &SynthesisOptions { seed, ..preset })?;
            seconds += started.elapsed().as_secs_f64();
            hits += transfer(&mut judge, &judge_data, &out.pixels, &classes);
            hits2 += transfer(&mut judge2, &judge2_data, &out.pixels, &classes);
            own += out.probability.iter().map(|&p| p as f64).sum::<f64>() / classes.len() as f64;
            if seed == 0 {
                let tiles: Vec<_> = out
                    .pixels
                    .iter()
                    .map(|p| {
                        let img = image_from_chw(p, shape);
                        image::imageops::resize(&img, 64, 64, image::imageops::FilterType::Nearest)
                    })
                    .collect();
                let captions: Vec<&str> = data.test.classes.iter().map(String::as_str).collect();
                let mut row: Vec<(&image::RgbImage, &str)> = tiles.iter().zip(captions).collect();
                let label = cnnlab::viz::Canvas::label(name, 110);
                row.insert(0, (&label, ""));
                rows.push(labelled_row(&row, 4));
                let mean_curve: Vec<(f64, f64)> = (0..out.curves[0].len())
                    .map(|s| (s as f64, out.curves.iter().map(|c| c[s] as f64).sum::<f64>() / out.curves.len() as f64))
                    .collect();
                curves.push((name, mean_curve));
            }
        }
        println!(
            "| {name} | {:.1}% | {:.1}% | {:.2} | {:.1} |",
            100.0 * hits / seeds as f64,
            100.0 * hits2 / seeds as f64,
            own / seeds as f64,
            seconds / seeds as f64
        );
    }
    let figures = figures_dir();
    save_png(&figures.join("synthesis_presets.png"), &cnnlab::explain::grid::stack(&rows))?;
    let plot = curves.into_iter().fold(
        LinePlot::new("objective during gradient ascent (mean over 10 classes)", "step", "S_c - penalties"),
        |p, (name, points)| p.with(name, points),
    );
    save_png(&figures.join("synthesis_curves.png"), &plot.render(640, 400))?;
    println!("wrote synthesis_presets.png and synthesis_curves.png in {}", figures.display());
    Ok(())
}
