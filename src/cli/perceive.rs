//! `cnnlab perceive train|eval|show`: perception visualization — a decoder trained on a frozen classifier's features, its quality, and the pictures.

use super::explain_images::{class_index, default_out};
use cnnlab::checkpoint::CheckpointMeta;
use cnnlab::data::image_file::{read_image, InputSize};
use cnnlab::data::{self, Dataset};
use cnnlab::explain::grid::stack;
use cnnlab::io::{save_png, write_atomic, Error, Result};
use cnnlab::models::Model;
use cnnlab::perceive::show::{misclassified_row, views, views_row};
use cnnlab::perceive::train::{quality, read_config, train, Decoder, Outcome, PerceiveConfig, Quality};
use cnnlab::perceive::{LossWeights, Upsampling};
use cnnlab::train::RunDir;
use cnnlab::Tensor;
use std::path::{Path, PathBuf};

/// Options of `cnnlab perceive train`.
pub struct TrainArgs {
    pub run: Option<PathBuf>,
    pub data: Option<String>,
    pub layer: Option<String>,
    pub upsampling: Upsampling,
    pub epochs: Option<usize>,
    pub batch: usize,
    pub lr: f64,
    pub loss_weights: LossWeights,
    pub seed: u64,
    pub limit: Option<usize>,
    pub out: PathBuf,
    pub resume: bool,
    pub json: bool,
}

/// The data a classifier was trained on: `--data`, else its run's config.
fn data_of(run: &Path, data: Option<&str>) -> Result<String> {
    if let Some(d) = data {
        return Ok(d.to_string());
    }
    if run.join("config.json").exists() {
        return Ok(RunDir::new(run).config()?.data);
    }
    Err(Error::file(run, "is not a training run folder, so it does not say which data it was trained on: add --data"))
}

/// Both splits of `spec`, checked against the classifier.
fn splits(spec: &str, meta: &CheckpointMeta, seed: u64) -> Result<(Dataset, Dataset)> {
    let spec: data::DataSpec = spec.parse()?;
    let s = data::load(&spec, seed)?;
    if s.train.shape != meta.input || s.train.classes.len() != meta.classes.len() {
        return Err(Error::msg(format!(
            "--data: {spec} has {} classes of {:?} images, but the classifier was trained on {} classes of {:?}",
            s.train.classes.len(),
            s.train.shape,
            meta.classes.len(),
            meta.input
        )));
    }
    Ok((s.train, s.test))
}

/// `cnnlab perceive train`.
pub fn train_command(args: TrainArgs, stop: &std::sync::atomic::AtomicBool) -> Result<i32> {
    let cfg = if args.resume {
        let mut saved = read_config(&args.out)?;
        saved.epochs = saved.epochs.max(args.epochs.unwrap_or(0)); // resuming may extend a run
        saved
    } else {
        let run = args.run.as_deref().ok_or_else(|| Error::msg("--run: the classifier to decode is required"))?;
        let (model, _, checkpoint) = super::explain::load_classifier(run, false)?;
        PerceiveConfig {
            classifier: checkpoint,
            data: data_of(run, args.data.as_deref())?,
            layer: args.layer.clone().unwrap_or_else(|| model.arch.feature_layer().to_string()),
            upsampling: args.upsampling,
            epochs: args.epochs.unwrap_or(5),
            batch: args.batch,
            lr: args.lr,
            loss_weights: args.loss_weights,
            seed: args.seed,
            limit: args.limit,
        }
    };
    let (mut model, meta, _) = super::explain::load_classifier(&cfg.classifier, false)?;
    let (train_split, test_split) = splits(&cfg.data, &meta, 0)?;
    println!(
        "{}: decoder ({} upsampling) for {} layer {} on {} ({} training images; test metrics on {})",
        args.out.display(),
        cfg.upsampling,
        meta.arch,
        cfg.layer,
        cfg.data,
        train_split.len().min(cfg.limit.unwrap_or(usize::MAX)),
        test_split.len()
    );
    match train(&cfg, (&mut model, &meta), (&train_split, &test_split), &args.out, args.resume, stop)? {
        Outcome::Finished => {
            let q: Option<Quality> =
                std::fs::read_to_string(args.out.join("quality.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
            if args.json {
                println!("{}", serde_json::to_string_pretty(&q).expect("numbers serialise"));
            }
            println!("done: {}", args.out.display());
            Ok(0)
        }
        Outcome::Interrupted => {
            println!("interrupted: continue with cnnlab perceive train --resume --out {}", args.out.display());
            Ok(130)
        }
    }
}

/// The classifier and the decoder for it, checked to belong together.
fn classifier_and_decoder(run: &Path, decoder: &Path) -> Result<(Model, CheckpointMeta, Decoder)> {
    let (mut model, meta, _) = super::explain::load_classifier(run, false)?;
    let (dec, _) = Decoder::load(decoder)?;
    let file = if decoder.is_dir() { decoder.join("last.safetensors") } else { decoder.to_path_buf() };
    dec.check_classifier(&file, &mut model)?;
    Ok((model, meta, dec))
}

/// `cnnlab perceive eval`: PSNR, SSIM and class agreement on the test split.
pub fn eval_command(run: &Path, decoder: &Path, data: Option<&str>, json: bool) -> Result<i32> {
    let (mut model, meta, mut dec) = classifier_and_decoder(run, decoder)?;
    let spec: data::DataSpec = data_of(run, data)?.parse()?;
    let test = data::load_test(&spec, 0)?;
    if test.shape != meta.input {
        return Err(Error::msg(format!(
            "--data: {spec} has {:?} images, the classifier reads {:?}",
            test.shape, meta.input
        )));
    }
    let q = quality(&mut model, &meta, &mut dec, &test)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&q).expect("numbers serialise"));
    } else {
        println!(
            "{} test images: PSNR {:.2} dB, SSIM {:.3}, class agreement {:.1}% (accuracy on x̂ {:.1}%, on x {:.1}%)",
            q.images,
            q.psnr,
            q.ssim,
            100.0 * q.agreement,
            100.0 * q.accuracy_reconstructed,
            100.0 * q.accuracy_original
        );
    }
    Ok(0)
}

/// Options of `cnnlab perceive show`.
pub struct ShowArgs {
    pub run: PathBuf,
    pub decoder: PathBuf,
    pub image: Option<PathBuf>,
    pub index: Option<usize>,
    pub misclassified: Option<usize>,
    pub class: Option<String>,
    pub data: Option<String>,
    pub out: Option<PathBuf>,
}

/// The images of a batch: pixels in [0, 1], normalised, and their names and true labels.
struct Batch {
    pixels: Tensor,
    x: Tensor,
    names: Vec<String>,
    labels: Vec<Option<usize>>,
}

fn batch_of(images: &[Vec<u8>], meta: &CheckpointMeta, names: Vec<String>, labels: Vec<Option<usize>>) -> Batch {
    let [c, h, w] = meta.input;
    let per = c * h * w;
    let mut x = vec![0f32; images.len() * per];
    for (bytes, out) in images.iter().zip(x.chunks_mut(per)) {
        meta.preprocessing.apply(bytes, out);
    }
    let pixels = images.iter().flatten().map(|&b| b as f32 / 255.0).collect();
    let shape = [images.len(), c, h, w];
    Batch { pixels: Tensor::from_vec(pixels, &shape), x: Tensor::from_vec(x, &shape), names, labels }
}

/// `cnnlab perceive show`.
pub fn show_command(args: &ShowArgs) -> Result<i32> {
    let (mut model, meta, mut dec) = classifier_and_decoder(&args.run, &args.decoder)?;
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.run, "perceive"));
    let _lock = super::explain_images::lock_output(&args.run, &out)?;
    let scale = (160 / meta.input[1].max(1)).max(2) as u32;
    if let Some(k) = args.misclassified {
        return misclassified(args, (&mut model, &meta, &mut dec), k, &out, scale);
    }
    let batch = match &args.image {
        Some(path) => {
            let file = read_image(path, meta.input, InputSize::Model)?;
            let stem = path.file_stem().map_or("image".into(), |s| s.to_string_lossy().into_owned());
            batch_of(&[file.bytes], &meta, vec![stem], vec![None])
        }
        None => {
            let test = test_split(args, &meta)?;
            let i = args.index.unwrap_or(0);
            if i >= test.len() {
                return Err(Error::msg(format!("--index {i}: the test split has {} images", test.len())));
            }
            batch_of(&[test.image(i).to_vec()], &meta, vec![format!("test{i}")], vec![Some(test.labels[i])])
        }
    };
    let predicted = cnnlab::no_grad(|| {
        cnnlab::nn::Module::set_training(&mut model, false);
        cnnlab::nn::Module::forward(&mut model, &batch.x).argmax(1)
    });
    let class = match &args.class {
        Some(c) => class_index(c, &meta.classes)?,
        None => predicted[0],
    };
    let v = views(&mut model, &mut dec, (&batch.pixels, &batch.x), &[class])?.remove(0);
    let truth = batch.labels[0].map(|l| format!(", true class {}", meta.classes[l])).unwrap_or_default();
    println!(
        "{}: predicted {} ({:.1}%){truth}; showing class {}",
        batch.names[0],
        meta.classes[v.predicted],
        100.0 * v.probability,
        meta.classes[class]
    );
    let png = out.join(format!("perception-{}-{}.png", batch.names[0], meta.classes[class]));
    save_png(&png, &views_row(&v, meta.input, scale, &meta.classes[class]))?;
    println!("{}", png.display());
    Ok(0)
}

fn test_split(args: &ShowArgs, meta: &CheckpointMeta) -> Result<Dataset> {
    let spec: data::DataSpec = data_of(&args.run, args.data.as_deref())?.parse()?;
    let test = data::load_test(&spec, 0)?;
    if test.shape != meta.input || test.classes.len() != meta.classes.len() {
        return Err(Error::msg(format!(
            "--data: {spec} has {} classes of {:?} images, the classifier {} of {:?}",
            test.classes.len(),
            test.shape,
            meta.classes.len(),
            meta.input
        )));
    }
    Ok(test)
}

// ANCHOR: misclassified
/// Up to `k` of `indices`, taking the first of each class in turn (class 0,
/// 1, …, then each class's second, …), so that test splits sorted by class
/// still show several classes.
fn round_robin(indices: Vec<usize>, labels: &[usize], k: usize) -> Vec<usize> {
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut by_class: Vec<std::collections::VecDeque<usize>> = vec![Default::default(); classes];
    for i in indices {
        by_class[labels[i]].push_back(i);
    }
    let mut out = Vec::new();
    while out.len() < k && by_class.iter().any(|q| !q.is_empty()) {
        out.extend(by_class.iter_mut().filter_map(|q| q.pop_front()).take(k - out.len()));
    }
    out
}

/// `--misclassified K`: K misclassified test images (the first of each class in turn), each with
/// its reconstruction and PV for the predicted and for the true class.
fn misclassified(
    args: &ShowArgs,
    (model, meta, dec): (&mut Model, &CheckpointMeta, &mut Decoder),
    k: usize,
    out: &Path,
    scale: u32,
) -> Result<i32> {
    let test = test_split(args, meta)?;
    let probs = cnnlab::eval::predict(model, &test, &meta.preprocessing, 256, Default::default());
    let is_wrong = |i: &usize| cnnlab::eval::argmax(&probs[*i]) != test.labels[*i];
    let wrong = round_robin((0..test.len()).filter(is_wrong).collect(), &test.labels, k);
    if wrong.is_empty() {
        return Err(Error::msg("the classifier gets every test image right: nothing to show"));
    }
    let images: Vec<Vec<u8>> = wrong.iter().map(|&i| test.image(i).to_vec()).collect();
    let names = wrong.iter().map(|i| format!("test{i}")).collect();
    let batch = batch_of(&images, meta, names, wrong.iter().map(|&i| Some(test.labels[i])).collect());
    let truth: Vec<usize> = wrong.iter().map(|&i| test.labels[i]).collect();
    let on_true = views(model, dec, (&batch.pixels, &batch.x), &truth)?;
    let predicted: Vec<usize> = on_true.iter().map(|v| v.predicted).collect();
    let on_predicted = views(model, dec, (&batch.pixels, &batch.x), &predicted)?;
    let rows: Vec<image::RgbImage> = on_predicted
        .iter()
        .zip(&on_true)
        .zip(&batch.names)
        .map(|((p, t), name)| misclassified_row(p, t, name, &meta.classes, meta.input, scale))
        .collect();
    let png = out.join("perception-misclassified.png");
    save_png(&png, &stack(&rows))?;
    let listing: Vec<String> = wrong
        .iter()
        .zip(&on_predicted)
        .map(|(&i, p)| format!("test{i}: true {}, predicted {}", meta.classes[test.labels[i]], meta.classes[p.class]))
        .collect();
    write_atomic(&out.join("perception-misclassified.txt"), |w| w.write_all((listing.join("\n") + "\n").as_bytes()))?;
    println!("{} misclassified test images → {}", wrong.len(), png.display());
    Ok(0)
}
// ANCHOR_END: misclassified
