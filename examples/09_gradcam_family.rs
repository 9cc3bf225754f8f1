//! Chapters "Grad-CAM and its descendants", "Augmented Grad-CAM" and "RISE and perturbation methods".
//!
//! Run: cargo run --release --example 09_gradcam_family [-- --book]
//! Uses the smallcnn of example 08 (trains it if missing), writes
//! methods_grid.png, augmented_convergence.png, augmented_vs_bilinear.png,
//! rise_masks.png and deletion_insertion.png to target/figures
//! (book/src/figures with --book).

use cnnlab::data::batches::make_batch;
use cnnlab::explain::augmented::augmented_gradcam;
use cnnlab::explain::capture::frozen;
use cnnlab::explain::grid::{explanation_grids, stack};
use cnnlab::explain::rise::masks;
use cnnlab::explain::{explain, AugmentedOptions, Method, Options, RiseOptions, Target};
use cnnlab::io::{figures_dir, save_png, Result};
use cnnlab::localize::{calibrate_threshold, deletion_insertion, LocalizeOptions};
use cnnlab::train::{self, TrainConfig};
use cnnlab::viz::heatmap::{image_from_chw, overlay_with_boxes, with_colour_bar, Colormap};
use cnnlab::viz::plot::LinePlot;
use cnnlab::viz::{gray_image, labelled_row};
use std::path::Path;

fn main() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let figures = figures_dir();
    let cfg = TrainConfig::demo();
    let (mut model, data) = train::trained(&cfg, &root.join("target/book-runs/smallcnn"))?;
    let (test, pre) = (&data.test, &data.preprocessing);
    let opts = Options { rise: RiseOptions { masks: 500, ..RiseOptions::default() }, ..Options::default() };

    // every method on four test images, boxes at thresholds calibrated on held-out images
    let mut methods = Vec::new();
    for method in Method::ALL {
        let count = if method == Method::Rise { 10 } else { 100 };
        let lo = LocalizeOptions { calibration_images: count, ..LocalizeOptions::default() };
        let t = calibrate_threshold(&mut model, &data.val, pre, method, &opts, &lo)?;
        println!("{method}: calibrated τ = {t:.2}");
        methods.push((method, Some(t)));
    }
    let grids = explanation_grids(&mut model, test, pre, &[0, 2, 3, 7], &methods, &opts, (&[Colormap::Viridis], 5))?;
    save_png(&figures.join("methods_grid.png"), &grids[0])?;

    // Augmented Grad-CAM: F(h) during subgradient descent, and the map against bilinear upsampling
    // ANCHOR: augmented
    let aug = AugmentedOptions { steps: 300, ..AugmentedOptions::default() };
    let (x, labels) = make_batch(test, &[0, 1, 2, 3], pre, None);
    let target = Target::PerImage(labels);
    let ((maps, _, _), histories) = frozen(&mut model, |m| augmented_gradcam(m, &x, "19", &target, &aug))?;
    // ANCHOR_END: augmented
    let mut plot = LinePlot::new("Augmented Grad-CAM: subgradient descent", "step", "F(h) / F(h0)");
    for (n, h) in histories.iter().enumerate() {
        plot = plot.with(&format!("test image {n}"), h.iter().enumerate().map(|(t, f)| (t as f64, f / h[0])).collect());
    }
    save_png(&figures.join("augmented_convergence.png"), &plot.render(640, 400))?;
    let (plain, _, _) = explain(&mut model, &x, Method::GradCam, &target, &opts)?;
    let mut rows = Vec::new();
    for n in 0..4 {
        let picture = image_from_chw(test.image(n), test.shape);
        let show =
            |m: &cnnlab::explain::Map| overlay_with_boxes(&picture, &m.normalized(), Colormap::Viridis, 5, None, None);
        let bilinear = show(&plain[n].upsample(32, 32));
        let raw = gray_image(&plain[n].values, 8, 8, 20);
        let sharp = show(&maps[n]);
        rows.push(labelled_row(&[(&raw, "Grad-CAM 8x8"), (&bilinear, "bilinear"), (&sharp, "augmented")], 8));
    }
    save_png(&figures.join("augmented_vs_bilinear.png"), &with_colour_bar(&stack(&rows), Colormap::Viridis, "0", "1"))?;

    // RISE: a few masks and what the network sees through them
    let picture = image_from_chw(test.image(0), test.shape);
    let some = masks(&RiseOptions { masks: 5, ..RiseOptions::default() }, (32, 32));
    let mut panels = Vec::new();
    for m in &some {
        panels.push(gray_image(&m.values, 32, 32, 4));
        let masked = image::RgbImage::from_fn(128, 128, |px, py| {
            let (c, v) = (picture.get_pixel(px / 4, py / 4).0, m.at((py / 4) as usize, (px / 4) as usize));
            image::Rgb(c.map(|ch| (ch as f32 * v + 128.0 * (1.0 - v)) as u8))
        });
        panels.push(masked);
    }
    let labels: Vec<String> =
        (0..10).map(|i| if i % 2 == 0 { format!("mask {}", i / 2 + 1) } else { "I ⊙ M".replace('⊙', "x") }).collect();
    let refs: Vec<_> = panels.iter().zip(&labels).map(|(p, l)| (p, l.as_str())).collect();
    save_png(&figures.join("rise_masks.png"), &labelled_row(&refs, 6))?;

    // deletion and insertion curves of one image for three methods
    let (x, labels) = make_batch(test, &[2], pre, None);
    let mut del = LinePlot::new("Deletion (lower is better)", "fraction of pixels removed", "p(class)");
    let mut ins = LinePlot::new("Insertion (higher is better)", "fraction of pixels inserted", "p(class)");
    for method in [Method::GradCam, Method::Rise, Method::Saliency] {
        let (maps, _, _) = explain(&mut model, &x, method, &Target::Class(labels[0]), &opts)?;
        let map = maps[0].upsample(32, 32).normalized();
        let curves = deletion_insertion(&mut model, x.data(), test.shape, &map, labels[0], 16);
        let points = |c: &[f32]| c.iter().enumerate().map(|(s, &p)| (s as f64 / 16.0, p as f64)).collect();
        let name = format!("{method}");
        del = del.with(&format!("{name} ({:.3})", curves.deletion_auc()), points(&curves.deletion));
        ins = ins.with(&format!("{name} ({:.3})", curves.insertion_auc()), points(&curves.insertion));
    }
    let (d, i) = (del.render(480, 340), ins.render(480, 340));
    save_png(&figures.join("deletion_insertion.png"), &labelled_row(&[(&d, ""), (&i, "")], 4))?;
    println!(
        "wrote methods_grid, augmented_convergence, augmented_vs_bilinear, rise_masks, deletion_insertion in {}",
        figures.display()
    );
    Ok(())
}
