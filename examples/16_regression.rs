//! Chapters "Localization as regression" and "Pose estimation as regression".
//!
//! Run: cargo run --release --example 16_regression [-- --book]
//! Trains (once; kept in target/book-runs/regression, about 30 minutes on 2
//! cores in all): the α sweep, a localize network and a classify-only one
//! with the same budget, fine-tuning against training from scratch, and a
//! pose network. Writes alpha_sweep.png, regression_boxes.png,
//! finetune_curves.png and pose_skeletons.png to target/figures
//! (book/src/figures with --book) and prints the numbers the chapters quote.

use cnnlab::explain::{Method, Options};
use cnnlab::io::{figures_dir, save_png, Result};
use cnnlab::localize::{localize, LocalizeOptions};
use cnnlab::regression::{draw, metrics, BoxLoss, Task};
use cnnlab::train::{self, sweep, RunDir, TrainConfig};
use cnnlab::viz::plot::LinePlot;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Where the example keeps its runs.
fn runs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/book-runs/regression")
}

/// Epochs of every localize run (about 3 minutes each on 2 cores).
const EPOCHS: usize = 6;

/// The values of α the sweep tries.
const ALPHAS: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

/// Epochs of the pose run.
const POSE_EPOCHS: usize = 10;

// ANCHOR: config
/// The book's localize run: smallcnn on shapes, `epochs` over 18,000
/// images (2,000 held out), Adam with a one-cycle schedule, mirrored
/// images with mirrored boxes, α and the box loss as given.
fn localize_config(alpha: f64, epochs: usize) -> TrainConfig {
    TrainConfig {
        data: "shapes".into(),
        model: "smallcnn".into(),
        epochs,
        batch: 128,
        optimizer: "adam".into(),
        lr: 0.002,
        schedule: "onecycle".into(),
        augment: cnnlab::data::augment::Augment { flip: true, ..Default::default() },
        limit: None,
        val: None,
        task: Task::Localize,
        alpha,
        box_loss: BoxLoss::SmoothL1,
        ..TrainConfig::demo()
    }
}
// ANCHOR_END: config

// ANCHOR: pose_config
/// The book's pose run: smallcnn on poses, 28 outputs, mirrored images with
/// their joints swapped, otherwise the localize recipe.
fn pose_config() -> TrainConfig {
    TrainConfig { data: "poses".into(), task: Task::Pose, ..localize_config(0.5, POSE_EPOCHS) }
}
// ANCHOR_END: pose_config

fn main() -> Result<()> {
    let figures = figures_dir();
    let stop = AtomicBool::new(false);

    // choosing α on held-out images, each α trained with the full budget: the chosen run is the model
    let swept = sweep::sweep_alpha(&localize_config(0.5, EPOCHS), &ALPHAS, &runs().join("sweep"), &stop)?;
    print!("{}", swept.table());
    save_png(&figures.join("alpha_sweep.png"), &swept.plot())?;
    let alpha = swept.chosen;

    // the localize network with the chosen α, and a classifier with the same budget
    let chosen = runs().join("sweep").join(format!("alpha-{alpha:.2}"));
    let (mut located, data) = train::trained(&localize_config(alpha, EPOCHS), &chosen)?;
    let test = &data.test;
    let outputs = metrics::outputs(&mut located, test, &data.preprocessing, 256);
    let s = metrics::localize_scores(&outputs, test);
    println!(
        "localize (α = {alpha}): accuracy {:.2}%, mean IoU {:.3}, IoU ≥ 0.5 {:.1}%, correct localization {:.1}%",
        100.0 * s.accuracy,
        s.mean_iou,
        100.0 * s.iou_at_least_half,
        100.0 * s.correct_localization
    );
    save_png(&figures.join("regression_boxes.png"), &draw::boxes_row(test, &outputs, &(0..8).collect::<Vec<_>>(), 4))?;
    let classify = TrainConfig { task: Task::Classify, ..localize_config(alpha, EPOCHS) };
    let (mut classifier, cdata) = train::trained(&classify, &runs().join("classify"))?;
    // the threshold calibrated as `cnnlab localize` does it (200 held-out images), so the numbers match its table
    let lo = LocalizeOptions { perturb_limit: Some(0), ..Default::default() };
    for method in [Method::Cam, Method::GradCam] {
        let r =
            localize(&mut classifier, test, &cdata.preprocessing, method, &Options::default(), &lo, Some(&cdata.val))?;
        println!(
            "{method} of the classifier (calibrated τ {:.2}): mean IoU {:.3}, IoU ≥ 0.5 {:.1}%, correct localization {:.1}%",
            r.calibrated_threshold.unwrap_or(r.threshold),
            r.mean_iou_calibrated.unwrap_or(r.mean_iou),
            100.0 * r.gt_known_loc_calibrated.unwrap_or(r.gt_known_loc),
            100.0 * r.top1_loc_calibrated.unwrap_or(r.top1_loc)
        );
    }

    // fine-tuning from the classifier's backbone against training from scratch, same short budget
    let short = TrainConfig { limit: Some(4000), ..localize_config(alpha, 6) };
    let tuned = TrainConfig { init_from: Some(runs().join("classify")), ..short.clone() };
    let mut curves = LinePlot::new("validation correct localization per epoch", "epoch", "correct localization");
    for (name, cfg) in [("from scratch", short), ("fine-tuned from the classifier", tuned)] {
        let dir = runs().join(name.replace(' ', "-"));
        train::trained(&cfg, &dir)?;
        let history = RunDir::new(&dir).metrics()?;
        let points: Vec<(f64, f64)> = history.iter().map(|m| (m.epoch as f64, m.val_accuracy)).collect();
        println!("{name}: {}", points.iter().map(|(_, v)| format!("{:.1}%", 100.0 * v)).collect::<Vec<_>>().join(", "));
        curves = curves.with(name, points);
    }
    save_png(&figures.join("finetune_curves.png"), &curves.render(640, 400))?;

    // pose estimation
    let (mut posed, pdata) = train::trained(&pose_config(), &runs().join("pose"))?;
    let outputs = metrics::outputs(&mut posed, &pdata.test, &pdata.preprocessing, 256);
    let p = metrics::pose_scores(&outputs, &pdata.test);
    println!(
        "pose: PCK@0.2 {:.1}%, PCKh@0.5 {:.1}%, mean joint error {:.2} px",
        100.0 * p.pck_02,
        100.0 * p.pckh_05,
        p.mean_error_px
    );
    for (name, pck, err) in &p.per_joint {
        println!("  {name:>15}: PCK@0.2 {:5.1}%  error {err:.2} px", 100.0 * pck);
    }
    let shown: Vec<usize> = (0..8).collect();
    save_png(&figures.join("pose_skeletons.png"), &draw::skeletons_rows(&pdata.test, &outputs, &shown, 4))?;
    println!(
        "wrote alpha_sweep.png, regression_boxes.png, finetune_curves.png and pose_skeletons.png in {}",
        figures.display()
    );
    Ok(())
}
