//! Chapters "Grad-CAM and its descendants" and "Limitations of saliency" on real images: every method on CIFAR-10 with the shipped smallcnn.
//!
//! Run: cargo run --release --example 15_cifar_explain -- [CIFAR-10 archive] [--book]
//! Uses pretrained/cifar10-smallcnn (GAP, 83.7%) and the CIFAR-10 archive
//! (default ../shared/data/cifar10-jpg.tar.gz; without it the example says
//! so and stops). Writes cifar_methods_grid.png, cifar_inner_layers.png and
//! cifar_limitations.png to target/figures (book/src/figures with --book),
//! and prints how much the Grad-CAM family's maps agree at each layer.

use cnnlab::data::batches::make_batch;
use cnnlab::data::preprocess::Preprocessing;
use cnnlab::data::Dataset;
use cnnlab::eval::{argmax, predict, TestTimeAugmentation};
use cnnlab::explain::grid::{explanation_grids, stack};
use cnnlab::explain::{explain, Map, Method, Options, RiseOptions, Target};
use cnnlab::io::{figures_dir, save_png, Result};
use cnnlab::models::Model;
use cnnlab::viz::heatmap::{image_from_chw, overlay, with_colour_bar, Colormap};
use cnnlab::viz::labelled_row;
use image::RgbImage;
use std::path::Path;

const SCALE: u32 = 5;

fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let default = root.join("../shared/data/cifar10-jpg.tar.gz");
    let archive = std::env::args().skip(1).find(|a| a != "--book").unwrap_or(default.display().to_string());
    if !Path::new(&archive).exists() {
        println!(
            "{archive} is not there: this example needs CIFAR-10 (see `cnnlab download cifar10`); nothing written"
        );
        return Ok(());
    }
    let (mut model, meta, _) = cnnlab::train::load_for_inference(&root.join("pretrained/cifar10-smallcnn"), false)?;
    let test = cnnlab::data::load_test(&archive.parse()?, 0)?;
    let pre = &meta.preprocessing;
    let figures = figures_dir();

    // the archive is sorted by class: six correctly classified test images of six classes
    let probs = predict(&mut model, &test, pre, 256, TestTimeAugmentation::None);
    let shown = first_correct(&test, &probs, &["airplane", "bird", "cat", "dog", "horse", "truck"]);
    let opts = Options { rise: RiseOptions { masks: 2000, ..RiseOptions::default() }, ..Options::default() };
    let methods: Vec<(Method, Option<f32>)> = Method::ALL.iter().map(|&m| (m, None)).collect();
    let grid = explanation_grids(&mut model, &test, pre, &shown, &methods, &opts, (&[Colormap::Viridis], SCALE))?;
    save_png(&figures.join("cifar_methods_grid.png"), &grid[0])?;

    // the Grad-CAM family at the last conv layer (19, 8x8) and two inner ones (16: 8x8, 12: 16x16)
    let family = [Method::GradCam, Method::GradCamPlusPlus, Method::SmoothGradCamPlusPlus];
    let layers = ["19", "16", "12"];
    let (x, labels) = make_batch(&test, &shown, pre, None);
    let mut columns = Vec::new();
    for layer in layers {
        let opts = Options { layer: Some(layer.into()), ..Options::default() };
        for method in family {
            let (maps, _, _) = explain(&mut model, &x, method, &Target::PerImage(labels.clone()), &opts)?;
            columns.push((format!("{} {layer}", short(method)), maps));
        }
    }
    let rows: Vec<RgbImage> = shown
        .iter()
        .enumerate()
        .map(|(n, &i)| {
            let picture = image_from_chw(test.image(i), test.shape);
            let mut panels = vec![(enlarge(&picture), test.classes[labels[n]].clone())];
            for (name, maps) in &columns {
                panels.push((show(&picture, &maps[n]), name.clone()));
            }
            labelled_row(&panels.iter().map(|(p, c)| (p, c.as_str())).collect::<Vec<_>>(), 6)
        })
        .collect();
    save_png(&figures.join("cifar_inner_layers.png"), &with_colour_bar(&stack(&rows), Colormap::Viridis, "0", "1"))?;
    agreement(&mut model, &test, pre, &layers)?;

    limitations(&mut model, &test, pre, &probs, &figures)?;
    println!("wrote cifar_methods_grid.png, cifar_inner_layers.png and cifar_limitations.png in {}", figures.display());
    Ok(())
}

/// The first test image of each class in `classes` that the model gets right.
fn first_correct(test: &Dataset, probs: &[Vec<f32>], classes: &[&str]) -> Vec<usize> {
    classes
        .iter()
        .filter_map(|name| {
            let c = test.classes.iter().position(|k| k == name)?;
            (0..test.len()).find(|&i| test.labels[i] == c && argmax(&probs[i]) == c)
        })
        .collect()
}

// ANCHOR: agreement
/// Mean Pearson correlation, over 200 test images spread over the split (it
/// is sorted by class), between Grad-CAM and
/// Grad-CAM++ and between Grad-CAM++ and Smooth Grad-CAM++ at each layer:
/// 1 where the methods draw the same map.
fn agreement(model: &mut Model, test: &Dataset, pre: &Preprocessing, layers: &[&str]) -> Result<()> {
    let spread: Vec<usize> = (0..200).map(|i| i * test.len() / 200).collect();
    let (x, labels) = make_batch(test, &spread, pre, None);
    let target = Target::PerImage(labels);
    println!("| layer | Grad-CAM vs Grad-CAM++ | Grad-CAM++ vs Smooth Grad-CAM++ |");
    println!("|---|---|---|");
    for &layer in layers {
        let opts = Options { layer: Some(layer.into()), ..Options::default() };
        let maps = |m: &mut Model, method| explain(m, &x, method, &target, &opts).map(|r| r.0);
        let (plain, plus, smooth) = (
            maps(model, Method::GradCam)?,
            maps(model, Method::GradCamPlusPlus)?,
            maps(model, Method::SmoothGradCamPlusPlus)?,
        );
        let mean = |a: &[Map], b: &[Map]| a.iter().zip(b).map(|(p, q)| p.correlation(q)).sum::<f32>() / a.len() as f32;
        println!("| {layer} | {:.3} | {:.3} |", mean(&plain, &plus), mean(&plus, &smooth));
    }
    Ok(())
}
// ANCHOR_END: agreement

/// Grad-CAM of the two most likely classes for the four test images whose
/// runner-up class is most likely.
fn limitations(
    model: &mut Model,
    test: &Dataset,
    pre: &Preprocessing,
    probs: &[Vec<f32>],
    figures: &Path,
) -> Result<()> {
    let mut ranked: Vec<(usize, usize, usize, f32, f32)> = probs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut order: Vec<usize> = (0..10).collect();
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
            (i, order[0], order[1], p[order[0]], p[order[1]])
        })
        .collect();
    ranked.sort_by(|a, b| b.4.total_cmp(&a.4));
    let mut rows = Vec::new();
    for &(i, first, second, p1, p2) in &ranked[..4] {
        let (x, _) = make_batch(test, &[i], pre, None);
        let picture = image_from_chw(test.image(i), test.shape);
        let mut panels = vec![(enlarge(&picture), format!("true: {}", test.classes[test.labels[i]]))];
        let mut pair = Vec::new();
        for (c, p) in [(first, p1), (second, p2)] {
            let (m, _, _) = explain(model, &x, Method::GradCam, &Target::Class(c), &Options::default())?;
            panels.push((show(&picture, &m[0]), format!("{} {:.2}", test.classes[c], p)));
            pair.push(m[0].upsample(32, 32));
        }
        println!(
            "test image {i}: {} {p1:.2} / {} {p2:.2}; correlation of the two Grad-CAMs {:.3}",
            test.classes[first],
            test.classes[second],
            pair[0].correlation(&pair[1])
        );
        rows.push(labelled_row(&panels.iter().map(|(p, c)| (p, c.as_str())).collect::<Vec<_>>(), 6));
    }
    save_png(&figures.join("cifar_limitations.png"), &with_colour_bar(&stack(&rows), Colormap::Viridis, "0", "1"))
}

fn short(method: Method) -> &'static str {
    match method {
        Method::GradCam => "Grad-CAM",
        Method::GradCamPlusPlus => "++",
        _ => "Smooth++",
    }
}

fn enlarge(picture: &RgbImage) -> RgbImage {
    let (w, h) = (picture.width() * SCALE, picture.height() * SCALE);
    image::imageops::resize(picture, w, h, image::imageops::FilterType::Nearest)
}

/// The map upsampled to the image, normalised to [0, 1] and laid over it.
fn show(picture: &RgbImage, map: &Map) -> RgbImage {
    let m = map.upsample(picture.height() as usize, picture.width() as usize).normalized();
    overlay(picture, &m, Colormap::Viridis, 0.5, SCALE)
}
