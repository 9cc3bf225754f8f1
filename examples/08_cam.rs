//! Chapters "GAP and CAM", "Weakly supervised localization" and "Limitations of saliency".
//!
//! Run: cargo run --release --example 08_cam [-- --book]
//! Trains smallcnn and smallcnn-gmp on shapes (about 2 minutes each, once;
//! kept in target/book-runs), then writes cam_pipeline.png, gap_vs_gmp.png
//! and limitations.png to target/figures (book/src/figures with --book) and
//! prints the numbers the chapters quote.

use cnnlab::data::batches::make_batch;
use cnnlab::explain::cam::{cam, cam_head};
use cnnlab::explain::gradcam::gradcam;
use cnnlab::explain::{Map, Method, Options, Target};
use cnnlab::io::{figures_dir, save_png, Result};
use cnnlab::localize::{box_from_map, localize, LocalizeOptions};
use cnnlab::train::{self, Prepared, TrainConfig};
use cnnlab::viz::heatmap::{image_from_chw, overlay_with_boxes, with_colour_bar, Colormap};
use cnnlab::viz::{gray_image, labelled_row};
use cnnlab::{models::Model, nn::Module};
use image::RgbImage;
use std::path::Path;

/// The demo's training recipe for `model`, run once into target/book-runs.
fn trained(model: &str) -> Result<(Model, Prepared)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/book-runs").join(model);
    train::trained(&TrainConfig { model: model.into(), ..TrainConfig::demo() }, &dir)
}

fn big(img: &RgbImage) -> RgbImage {
    image::imageops::resize(img, img.width() * 4, img.height() * 4, image::imageops::FilterType::Nearest)
}

fn main() -> Result<()> {
    let figures = figures_dir();
    let (mut model, data) = trained("smallcnn")?;
    let test = &data.test;
    let pre = &data.preprocessing;

    // the pipeline on one test image: f_k, w_k^c, raw CAM, upsampled, normalised, box
    let i = 3;
    let (x, labels) = make_batch(test, &[i], pre, None);
    let (maps, logits, _) = cam(&mut model, &x, &Target::Class(labels[0]))?;
    let head = cam_head(&mut model)?;
    let k = head.class_weights.shape()[1];
    let weights = &head.class_weights.data()[labels[0] * k..(labels[0] + 1) * k];
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
    let mut feature_maps = None;
    model.forward_inspect(&x, "", &mut |name, y| {
        if name == "19" {
            feature_maps = Some(y.clone());
        }
        y
    });
    let f = feature_maps.expect("layer 19").to_vec();
    let mut panels = vec![(big(&image_from_chw(test.image(i), test.shape)), "image".to_string())];
    for &kk in &order[..3] {
        panels.push((gray_image(&f[kk * 64..(kk + 1) * 64], 8, 8, 16), format!("f_{kk}, w = {:.2}", weights[kk])));
    }
    panels.push((gray_image(&maps[0].values, 8, 8, 16), "raw M_c (8x8)".into()));
    let up = maps[0].upsample(32, 32);
    panels.push((gray_image(&up.values, 32, 32, 4), "bilinear 32x32".into()));
    let norm = up.normalized();
    let found = box_from_map(&norm, 0.2);
    let picture = image_from_chw(test.image(i), test.shape);
    let boxed = overlay_with_boxes(&picture, &norm, Colormap::Viridis, 4, found.as_ref(), Some(&test.boxes[i]));
    panels.push((boxed, "20% box".into()));
    let refs: Vec<_> = panels.iter().map(|(i, c)| (i, c.as_str())).collect();
    save_png(
        &figures.join("cam_pipeline.png"),
        &with_colour_bar(&labelled_row(&refs, 8), Colormap::Viridis, "0", "1"),
    )?;
    let mean = maps[0].values.iter().sum::<f32>() / 64.0;
    println!("S_c = {:.4}; mean(M_c) + b_c = {:.4}", logits.data()[labels[0]], mean + head.bias.data()[labels[0]]);

    // GAP against GMP: the same images, CAMs of both networks
    let (mut gmp, gmp_data) = trained("smallcnn-gmp")?;
    let indices = [0, 1, 2, 4, 5];
    let (x, labels) = make_batch(test, &indices, pre, None);
    let (gap_maps, _, _) = cam(&mut model, &x, &Target::PerImage(labels.clone()))?;
    let (xg, _) = make_batch(test, &indices, &gmp_data.preprocessing, None);
    let (gmp_maps, _, _) = cam(&mut gmp, &xg, &Target::PerImage(labels.clone()))?;
    let mut rows = Vec::new();
    for (n, &i) in indices.iter().enumerate() {
        let picture = image_from_chw(test.image(i), test.shape);
        let show =
            |m: &Map| overlay_with_boxes(&picture, &m.upsample(32, 32).normalized(), Colormap::Viridis, 4, None, None);
        rows.push(vec![big(&picture), show(&gap_maps[n]), show(&gmp_maps[n])]);
    }
    let column_names = ["image", "CAM with GAP", "CAM with GMP"];
    let lines: Vec<RgbImage> =
        rows.iter().map(|r| labelled_row(&r.iter().zip(column_names).collect::<Vec<_>>(), 8)).collect();
    save_png(
        &figures.join("gap_vs_gmp.png"),
        &with_colour_bar(&cnnlab::explain::grid::stack(&lines), Colormap::Viridis, "0", "1"),
    )?;
    let lo =
        LocalizeOptions { limit: Some(500), perturb_limit: Some(0), calibration_images: 500, ..Default::default() };
    for (name, m, d) in [("GAP", &mut model, &data), ("GMP", &mut gmp, &gmp_data)] {
        let r = localize(m, test, &d.preprocessing, Method::Cam, &Options::default(), &lo, Some(&d.val))?;
        println!(
            "{name}: GT-known {:.1}% at τ 0.20, {:.1}% at calibrated τ {:.2}; MaxBoxAcc {:.1}%; mean IoU (calibrated) {:.3}",
            100.0 * r.gt_known_loc,
            100.0 * r.gt_known_loc_calibrated.unwrap_or(0.0),
            r.calibrated_threshold.unwrap_or(0.0),
            100.0 * r.max_box_acc,
            r.mean_iou_calibrated.unwrap_or(0.0)
        );
    }

    // limitations: the two most likely classes of the most ambiguous test images
    let (x, _) = make_batch(test, &(0..500).collect::<Vec<_>>(), pre, None);
    let probs = cnnlab::no_grad(|| model.forward(&x).softmax(1));
    let mut ambiguous: Vec<(usize, usize, usize, f32)> = probs
        .data()
        .chunks_exact(10)
        .enumerate()
        .map(|(i, p)| {
            let mut order: Vec<usize> = (0..10).collect();
            order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
            (i, order[0], order[1], p[order[1]])
        })
        .collect();
    ambiguous.sort_by(|a, b| b.3.total_cmp(&a.3));
    let mut lines = Vec::new();
    for &(i, first, second, p2) in &ambiguous[..3] {
        let (x, _) = make_batch(test, &[i], pre, None);
        let picture = image_from_chw(test.image(i), test.shape);
        let mut row = vec![(big(&picture), format!("true: {}", test.classes[test.labels[i]]))];
        let mut pair = Vec::new();
        for c in [first, second] {
            let (m, _, _) = gradcam(&mut model, &x, "19", &Target::Class(c))?;
            let m = m[0].upsample(32, 32).normalized();
            row.push((
                overlay_with_boxes(&picture, &m, Colormap::Viridis, 4, None, None),
                format!("for {}", test.classes[c]),
            ));
            pair.push(m);
        }
        println!(
            "image {i}: p({}) second = {p2:.3}; correlation of the two maps {:.3}",
            test.classes[second],
            pair[0].correlation(&pair[1])
        );
        lines.push(labelled_row(&row.iter().map(|(i, c)| (i, c.as_str())).collect::<Vec<_>>(), 8));
    }
    save_png(
        &figures.join("limitations.png"),
        &with_colour_bar(&cnnlab::explain::grid::stack(&lines), Colormap::Viridis, "0", "1"),
    )?;
    println!("wrote cam_pipeline.png, gap_vs_gmp.png and limitations.png in {}", figures.display());
    Ok(())
}
