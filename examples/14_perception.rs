//! Chapter "Perception visualization": a decoder trained on the frozen smallcnn's features, its quality, and PV next to the saliency baseline.
//!
//! Run: cargo run --release --example 14_perception [-- --book]
//! Uses the demo's smallcnn (trained once into target/book-runs/smallcnn)
//! and trains its decoder once into target/book-runs/perceive-smallcnn
//! (about 4 minutes on two cores). Prints the test metrics and writes
//! perception_shapes.png (six test images: image, reconstruction, Grad-CAM
//! on the image, PV) and perception_shapes_misclassified.png to
//! target/figures (book/src/figures with --book).

use cnnlab::data::batches::make_batch;
use cnnlab::explain::grid::stack;
use cnnlab::io::{figures_dir, save_png, Result};
use cnnlab::models::Model;
use cnnlab::nn::Module;
use cnnlab::perceive::show::{misclassified_row, views, views_row};
use cnnlab::perceive::train::{quality, train, Decoder, PerceiveConfig};
use cnnlab::perceive::{pixels, LossWeights, Upsampling};
use cnnlab::train::{self, Prepared, TrainConfig};
use std::path::Path;
use std::sync::atomic::AtomicBool;

fn book_runs() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/book-runs")
}

// ANCHOR: config
/// The book's decoder: the chapter's defaults on 8,000 shapes images, 5 epochs.
fn decoder_config(classifier: &Path) -> PerceiveConfig {
    PerceiveConfig {
        classifier: classifier.to_path_buf(),
        data: "shapes".into(),
        layer: "19".into(),
        upsampling: Upsampling::Transposed,
        epochs: 5,
        batch: 64,
        lr: 1e-3,
        loss_weights: LossWeights::default(),
        seed: 0,
        limit: Some(8000),
    }
}
// ANCHOR_END: config

fn trained_decoder(model: &mut Model, data: &Prepared) -> Result<Decoder> {
    let dir = book_runs().join("perceive-smallcnn");
    if !dir.join("last.safetensors").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        let classifier = book_runs().join("smallcnn/best.safetensors");
        let (_, meta) = cnnlab::checkpoint::load(&classifier)?;
        let cfg = decoder_config(&classifier);
        train(&cfg, (model, &meta), (&data.train, &data.test), &dir, false, &AtomicBool::new(false))?;
    }
    Ok(Decoder::load(&dir)?.0)
}

fn main() -> Result<()> {
    let cfg = TrainConfig::demo();
    let (mut model, data) = train::trained(&cfg, &book_runs().join("smallcnn"))?;
    let mut decoder = trained_decoder(&mut model, &data)?;
    let (_, meta) = cnnlab::checkpoint::load(&book_runs().join("smallcnn/best.safetensors"))?;
    let q = quality(&mut model, &meta, &mut decoder, &data.test)?;
    println!(
        "test: PSNR {:.2} dB, SSIM {:.3}, class agreement {:.1}% (accuracy on x̂ {:.1}%, on x {:.1}%)",
        q.psnr,
        q.ssim,
        100.0 * q.agreement,
        100.0 * q.accuracy_reconstructed,
        100.0 * q.accuracy_original
    );
    let shape = data.test.shape;
    let classes = &data.test.classes;

    // six test images, each explained for its predicted class
    let idx: Vec<usize> = (0..6).collect();
    let (x, _) = make_batch(&data.test, &idx, &data.preprocessing, None);
    model.set_training(false);
    let predicted = cnnlab::no_grad(|| model.forward(&x)).argmax(1);
    let rows = views(&mut model, &mut decoder, (&pixels(&data.test, &idx), &x), &predicted)?;
    let pictures: Vec<_> = rows.iter().map(|v| views_row(v, shape, 5, &classes[v.class])).collect();
    let out = figures_dir();
    save_png(&out.join("perception_shapes.png"), &stack(&pictures))?;

    // misclassified test images: PV for the predicted and for the true class
    let probs = cnnlab::eval::predict(&mut model, &data.test, &data.preprocessing, 256, Default::default());
    let wrong: Vec<usize> =
        (0..data.test.len()).filter(|&i| cnnlab::eval::argmax(&probs[i]) != data.test.labels[i]).take(4).collect();
    let (x, truth) = make_batch(&data.test, &wrong, &data.preprocessing, None);
    let px = pixels(&data.test, &wrong);
    let on_true = views(&mut model, &mut decoder, (&px, &x), &truth)?;
    let guesses: Vec<usize> = on_true.iter().map(|v| v.predicted).collect();
    let on_predicted = views(&mut model, &mut decoder, (&px, &x), &guesses)?;
    let rows: Vec<_> = on_predicted
        .iter()
        .zip(&on_true)
        .zip(&wrong)
        .map(|((p, t), i)| misclassified_row(p, t, &format!("test{i}"), classes, shape, 5))
        .collect();
    save_png(&out.join("perception_shapes_misclassified.png"), &stack(&rows))?;
    println!("figures in {}", out.display());
    Ok(())
}
