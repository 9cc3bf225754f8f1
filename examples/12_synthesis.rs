//! Chapter "Input synthesis by gradient ascent": each regulariser's picture, and the transfer rate that compares presets by numbers.
//!
//! Run: cargo run --release --example 12_synthesis [-- [cifar] [--book]]
//! Uses the demo's smallcnn (seed 0) to synthesise and two independently
//! trained judges (resnet20 and smallcnn, seed 1, the demo's recipe
//! otherwise) to classify the results; all are trained once (a few minutes)
//! and kept in target/book-runs. Prints the transfer-rate table (10 classes × 8 seeds
//! per preset) and writes synthesis_presets.png and synthesis_curves.png
//! to target/figures (book/src/figures with --book).
//! With `cifar`: the same on the shipped CIFAR-10 weights (no training, no
//! data needed): made on cifar10-smallcnn-6, judged by cifar10-smallcnn (same
//! architecture, another seed) and cifar10-fastcnn (another architecture);
//! writes cifar_synthesis_presets.png.

use cnnlab::checkpoint::CheckpointMeta;
use cnnlab::data::preprocess::Preprocessing;
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

/// A network that classifies the synthesised images: its name, the model and its input normalisation.
struct Judge {
    name: String,
    model: Model,
    pre: Preprocessing,
}

/// The share of `pixels` (CHW bytes of `shape`) that `judge` classifies as `classes`.
fn transfer(judge: &mut Judge, shape: [usize; 3], pixels: &[Vec<u8>], classes: &[usize]) -> f64 {
    let [c, h, w] = shape;
    let mut values = vec![0f32; pixels.len() * c * h * w];
    for (img, out) in pixels.iter().zip(values.chunks_mut(c * h * w)) {
        judge.pre.apply(img, out);
    }
    let x = Tensor::from_vec(values, &[pixels.len(), c, h, w]);
    judge.model.set_training(false);
    let predicted = no_grad(|| judge.model.forward(&x)).argmax(1);
    predicted.iter().zip(classes).filter(|(p, c)| p == c).count() as f64 / classes.len() as f64
}

/// Shipped CIFAR-10 weights: the model and its metadata.
fn shipped(name: &str) -> Result<(Model, CheckpointMeta)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pretrained").join(name);
    let (model, meta, _) = train::load_for_inference(&path, false)?;
    Ok((model, meta))
}

fn main() -> Result<()> {
    let cifar = std::env::args().any(|a| a == "cifar");
    // the network the images are made on, and the independently trained judges
    let (mut model, pre, class_names, shape, judges, figure) = if cifar {
        let (model, meta) = shipped("cifar10-smallcnn-6")?;
        let mut judges = Vec::new();
        for name in ["cifar10-smallcnn", "cifar10-fastcnn"] {
            let (model, meta) = shipped(name)?;
            judges.push(Judge { name: name.into(), model, pre: meta.preprocessing });
        }
        (model, meta.preprocessing, meta.classes, meta.input, judges, "cifar_synthesis_presets.png")
    } else {
        let (model, data) = trained("smallcnn", "smallcnn", 0)?;
        let mut judges = Vec::new();
        for (run, arch) in [("resnet20-seed1", "resnet20"), ("smallcnn-seed1", "smallcnn")] {
            let (model, judge_data) = trained(run, arch, 1)?;
            judges.push(Judge { name: format!("{arch} (seed 1)"), model, pre: judge_data.preprocessing });
        }
        (model, data.preprocessing, data.test.classes, data.test.shape, judges, "synthesis_presets.png")
    };
    let classes: Vec<usize> = (0..class_names.len()).collect();
    let objectives: Vec<Objective> = classes.iter().map(|&c| Objective::Class(c)).collect();
    let l2 = SynthesisOptions::l2_only();
    let presets = [
        ("none", SynthesisOptions::raw()),
        ("l2", l2),
        ("l2 + jitter", SynthesisOptions { jitter: 2, ..l2 }),
        ("l2 + blur", SynthesisOptions { blur_every: 8, blur_sigma: 0.5, ..l2 }),
        ("l2 + tv", SynthesisOptions { tv: 0.01, ..l2 }),
        ("l2 + frequency", SynthesisOptions { frequency: true, lr: 0.1, ..l2 }),
        ("l2 + jitter + frequency", SynthesisOptions::jitter_frequency()),
        ("full", SynthesisOptions::regularized()),
    ];
    let mut judges = judges;
    let header: Vec<String> = judges.iter().map(|j| format!("transfer to {}", j.name)).collect();
    println!("| preset | {} | own p(class), mean | seconds per {} images |", header.join(" | "), classes.len());
    println!("|---|{}---|---|", "---|".repeat(judges.len()));
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (name, preset) in presets {
        let (mut hits, mut own, mut seconds) = (vec![0.0; judges.len()], 0.0, 0.0);
        let seeds = 8;
        for seed in 0..seeds {
            let started = std::time::Instant::now();
            let out = synthesize(&mut model, &objectives, shape, &pre, &SynthesisOptions { seed, ..preset })?;
            seconds += started.elapsed().as_secs_f64();
            for (judge, hit) in judges.iter_mut().zip(&mut hits) {
                *hit += transfer(judge, shape, &out.pixels, &classes);
            }
            own += out.probability.iter().map(|&p| p as f64).sum::<f64>() / classes.len() as f64;
            if seed == 0 {
                rows.push(preset_row(name, &out.pixels, shape, &class_names));
                let mean_curve: Vec<(f64, f64)> = (0..out.curves[0].len())
                    .map(|s| (s as f64, out.curves.iter().map(|c| c[s] as f64).sum::<f64>() / out.curves.len() as f64))
                    .collect();
                curves.push((name, mean_curve));
            }
        }
        let rates: Vec<String> = hits.iter().map(|h| format!("{:.1}%", 100.0 * h / seeds as f64)).collect();
        println!("| {name} | {} | {:.2} | {:.1} |", rates.join(" | "), own / seeds as f64, seconds / seeds as f64);
    }
    let figures = figures_dir();
    save_png(&figures.join(figure), &cnnlab::explain::grid::stack(&rows))?;
    if cifar {
        println!("wrote {figure} in {}", figures.display());
        return Ok(());
    }
    let plot = curves.into_iter().fold(
        LinePlot::new("objective during gradient ascent (mean over 10 classes)", "step", "S_c - penalties"),
        |p, (name, points)| p.with(name, points),
    );
    save_png(&figures.join("synthesis_curves.png"), &plot.render(640, 400))?;
    println!("wrote {figure} and synthesis_curves.png in {}", figures.display());
    Ok(())
}

/// One preset's images (seed 0), enlarged, with the class names under them and the preset's name in front.
fn preset_row(name: &str, pixels: &[Vec<u8>], shape: [usize; 3], class_names: &[String]) -> image::RgbImage {
    let tiles: Vec<_> = pixels
        .iter()
        .map(|p| image::imageops::resize(&image_from_chw(p, shape), 80, 80, image::imageops::FilterType::Nearest))
        .collect();
    let mut row: Vec<(&image::RgbImage, &str)> = tiles.iter().zip(class_names.iter().map(String::as_str)).collect();
    let label = cnnlab::viz::Canvas::label(name, 200);
    row.insert(0, (&label, ""));
    labelled_row(&row, 4)
}
