//! Training the perception decoder against a frozen classifier: the loop, test metrics (PSNR, SSIM, class agreement), checkpoints, curves, Ctrl-C and resume.

use super::ssim::{psnr_per_image, ssim_per_image, SsimWindow};
use super::{encode, encode_with_logits, fingerprint, loss, normalize, pixels, DecoderSpec, LossWeights, Upsampling};
use crate::checkpoint::{self, CheckpointMeta};
use crate::data::batches::{epoch_order, make_batch};
use crate::data::Dataset;
use crate::io::{save_png, write_atomic, Error, Result};
use crate::models::{Arch, Model};
use crate::nn::{state_tensors, Module, Sequential, StateKind};
use crate::optim::{Adam, Optimizer};
use crate::viz::plot::LinePlot;
use crate::viz::Canvas;
use crate::{no_grad, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How the decoder is trained (saved as `config.json` in its run folder).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PerceiveConfig {
    /// The classifier's checkpoint file.
    pub classifier: PathBuf,
    /// The data (as `--data` takes it) whose training split the decoder learns from.
    pub data: String,
    /// The encoder layer (the classifier up to and including it).
    pub layer: String,
    /// How the decoder upsamples.
    pub upsampling: Upsampling,
    /// Passes over the training split.
    pub epochs: usize,
    /// Images per step.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// The loss terms' weights.
    pub loss_weights: LossWeights,
    /// Seeds the decoder's weights and the order of the images.
    pub seed: u64,
    /// Train on the first N training images only.
    pub limit: Option<usize>,
}

/// One line of the decoder's `metrics.jsonl`: training loss and test quality after an epoch.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecoderMetrics {
    /// Epochs completed (1-based).
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// The test split's reconstruction quality after the epoch.
    pub test: Quality,
    /// Wall time of the epoch, test metrics included.
    pub seconds: f64,
    /// Training throughput.
    pub images_per_sec: f64,
}

impl DecoderMetrics {
    /// A one-line summary for the terminal.
    pub fn line(&self, epochs: usize) -> String {
        let q = &self.test;
        format!(
            "epoch {:>3}/{epochs}  loss {:.4}  test: PSNR {:.2} dB  SSIM {:.3}  agreement {:.1}%  accuracy on x̂ {:.1}% (on x {:.1}%)  {:.0}s ({:.0} img/s)",
            self.epoch,
            self.train_loss,
            q.psnr,
            q.ssim,
            100.0 * q.agreement,
            100.0 * q.accuracy_reconstructed,
            100.0 * q.accuracy_original,
            self.seconds,
            self.images_per_sec
        )
    }
}

/// How good the reconstructions of a set of images are.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quality {
    /// Images measured.
    pub images: usize,
    /// Mean PSNR in dB (pixel values in [0, 1]).
    pub psnr: f64,
    /// Mean SSIM (11×11 Gaussian window, σ = 1.5).
    pub ssim: f64,
    /// Share of images for which the classifier predicts the same class on x̂ as on x.
    pub agreement: f64,
    /// The classifier's accuracy on the images.
    pub accuracy_original: f64,
    /// The classifier's accuracy on their reconstructions.
    pub accuracy_reconstructed: f64,
}

/// A trained decoder with what it was trained for.
pub struct Decoder {
    /// Feature and image shapes, upsampling.
    pub spec: DecoderSpec,
    /// The encoder layer it reads.
    pub layer: String,
    /// The classifier's architecture.
    pub arch: Arch,
    /// The classifier's [`fingerprint`].
    pub classifier: String,
    /// The layers.
    pub net: Sequential,
}

/// Where a saved decoder's training stood.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: usize,
    /// Steps completed of the next epoch (after Ctrl-C).
    pub step: usize,
    /// Σ loss · images over those steps.
    pub loss_sum: f64,
    /// Images over those steps.
    pub seen: usize,
    /// Seconds spent on those steps.
    pub seconds: f64,
}

impl Decoder {
    /// A new decoder for `classifier`'s features at `layer`.
    ///
    /// # Errors
    /// When the layer does not exist or its resolution does not divide the image's by a power of two.
    pub fn new(classifier: &mut Model, layer: &str, upsampling: Upsampling, seed: u64) -> Result<Decoder> {
        let [c, h, w] = classifier.input;
        let probe = Tensor::zeros(&[1, c, h, w]);
        let features = encode(classifier, &probe, layer)?;
        let (_, k, fh, fw) = features.dims4("perceive");
        let spec = DecoderSpec::new([k, fh, fw], classifier.input, upsampling)?;
        let net = spec.build(seed);
        Ok(Decoder { spec, layer: layer.to_string(), arch: classifier.arch, classifier: fingerprint(classifier), net })
    }

    /// Reconstructions of a batch of features, in evaluation mode, without a graph.
    pub fn reconstruct(&mut self, features: &Tensor) -> Tensor {
        self.net.set_training(false);
        no_grad(|| self.net.forward(features))
    }

    /// Saves the weights (PyTorch `nn.Sequential` names) and what they are for, atomically.
    pub fn save(&mut self, path: &Path, progress: Progress) -> Result<()> {
        let tensors: Vec<_> = state_tensors(&mut self.net)
            .into_iter()
            .map(|(name, t, kind)| (name, t.shape().to_vec(), t.to_vec(), kind))
            .collect();
        let meta = HashMap::from([
            ("format".to_string(), "pt".to_string()),
            ("cnnlab.kind".into(), "perception-decoder".into()),
            ("cnnlab.decoder".into(), to_json(&self.spec)),
            ("cnnlab.layer".into(), self.layer.clone()),
            ("cnnlab.architecture".into(), self.arch.name().into()),
            ("cnnlab.classifier".into(), self.classifier.clone()),
            ("cnnlab.progress".into(), to_json(&progress)),
        ]);
        checkpoint::write_tensors(path, &tensors, meta)
    }

    /// Loads a decoder saved by [`Decoder::save`]: a `.safetensors` file, or
    /// a decoder run folder (its `last.safetensors`).
    ///
    /// # Errors
    /// When the file is missing, not a decoder, or its tensors do not fit its own description.
    pub fn load(path: &Path) -> Result<(Decoder, Progress)> {
        let file = if path.is_dir() { path.join("last.safetensors") } else { path.to_path_buf() };
        if !file.exists() {
            return Err(Error::file(&file, "no decoder here; train one with `cnnlab perceive train`"));
        }
        let (tensors, meta) = checkpoint::read_tensors(&file)?;
        let get = |key: &str| {
            meta.get(key).ok_or_else(|| {
                Error::file(&file, format!("not a perception decoder (metadata has no '{key}'); is it a classifier?"))
            })
        };
        let bad = |key: &str, e: String| Error::file(&file, format!("metadata '{key}' is malformed: {e}"));
        let spec: DecoderSpec =
            serde_json::from_str(get("cnnlab.decoder")?).map_err(|e| bad("cnnlab.decoder", e.to_string()))?;
        let progress: Progress =
            serde_json::from_str(get("cnnlab.progress")?).map_err(|e| bad("cnnlab.progress", e.to_string()))?;
        let arch: Arch =
            get("cnnlab.architecture")?.parse().map_err(|e: Error| bad("cnnlab.architecture", e.message))?;
        let mut net = spec.build(0);
        checkpoint::load_state(&file, &mut net, tensors)?;
        let (layer, classifier) = (get("cnnlab.layer")?.clone(), get("cnnlab.classifier")?.clone());
        Ok((Decoder { spec, layer, arch, classifier, net }, progress))
    }

    /// Refuses a classifier whose features this decoder was not trained on:
    /// another architecture, another input size, or other weights.
    ///
    /// # Errors
    /// Naming both sides of the mismatch.
    pub fn check_classifier(&self, decoder_path: &Path, classifier: &mut Model) -> Result<()> {
        let problem = if classifier.arch != self.arch {
            Some(format!("was trained on a {} classifier, not a {}", self.arch, classifier.arch))
        } else if classifier.input != self.spec.image {
            Some(format!("reconstructs {:?} images, the classifier reads {:?}", self.spec.image, classifier.input))
        } else if fingerprint(classifier) != self.classifier {
            Some(format!(
                "was trained on the features of another {} (fingerprint {}, this one's {}): train a decoder for it",
                self.arch,
                self.classifier,
                fingerprint(classifier)
            ))
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(Error::file(decoder_path, format!("this decoder {p}"))))
    }
}

/// A metadata value as JSON.
fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

// ANCHOR: quality
/// PSNR, SSIM and class agreement of the decoder's reconstructions of
/// `data`, in batches, without a graph.
///
/// # Errors
/// When the encoder layer is missing from the classifier.
pub fn quality(
    classifier: &mut Model,
    meta: &CheckpointMeta,
    decoder: &mut Decoder,
    data: &Dataset,
) -> Result<Quality> {
    let (mut psnr, mut ssim, mut agree, mut right_x, mut right_recon) = (0.0, 0.0, 0, 0, 0);
    let all: Vec<usize> = (0..data.len()).collect();
    for idx in all.chunks(250) {
        let (x, labels) = make_batch(data, idx, &meta.preprocessing, None);
        let (features, logits) = encode_with_logits(classifier, &x, &decoder.layer)?;
        let recon = decoder.reconstruct(&features);
        let target = pixels(data, idx);
        psnr += psnr_per_image(&recon, &target).iter().map(|&v| v as f64).sum::<f64>();
        ssim += ssim_per_image(&recon, &target, SsimWindow::default()).iter().map(|&v| v as f64).sum::<f64>();
        let on_x = logits.argmax(1);
        let on_recon = no_grad(|| classifier.forward(&normalize(&meta.preprocessing, &recon)).argmax(1));
        for ((a, b), y) in on_x.iter().zip(&on_recon).zip(&labels) {
            agree += usize::from(a == b);
            right_x += usize::from(a == y);
            right_recon += usize::from(b == y);
        }
    }
    let n = data.len().max(1) as f64;
    Ok(Quality {
        images: data.len(),
        psnr: psnr / n,
        ssim: ssim / n,
        agreement: agree as f64 / n,
        accuracy_original: right_x as f64 / n,
        accuracy_reconstructed: right_recon as f64 / n,
    })
}
// ANCHOR_END: quality

/// How a decoder training ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// All epochs done.
    Finished,
    /// Stopped by Ctrl-C; `last.safetensors` holds the state.
    Interrupted,
}

/// The files of a decoder's run folder.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn at(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn save(&self, decoder: &mut Decoder, opt: &Adam, progress: Progress) -> Result<()> {
        decoder.save(&self.at("last.safetensors"), progress)?;
        let state: Vec<_> = opt.state().into_iter().map(|(k, v)| (k, vec![v.len()], v, StateKind::Buffer)).collect();
        checkpoint::write_tensors(&self.at("optimizer.safetensors"), &state, HashMap::new())
    }

    fn record(&self, history: &[DecoderMetrics]) -> Result<()> {
        let lines: Vec<String> = history.iter().map(|m| serde_json::to_string(m).expect("numbers serialise")).collect();
        write_atomic(&self.at("metrics.jsonl"), |w| w.write_all((lines.join("\n") + "\n").as_bytes()))?;
        let last = history.last().map(|m| &m.test);
        let json = serde_json::to_string_pretty(&last).expect("numbers serialise");
        write_atomic(&self.at("quality.json"), |w| w.write_all(json.as_bytes()))?;
        save_png(&self.at("curves.png"), &curves(history))
    }

    fn history(&self, epochs_done: usize) -> Result<Vec<DecoderMetrics>> {
        let path = self.at("metrics.jsonl");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut lines: Vec<DecoderMetrics> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| serde_json::from_str(l).map_err(|e| Error::file(&path, format!("line {}: {e}", i + 1))))
            .collect::<Result<_>>()?;
        lines.truncate(epochs_done);
        Ok(lines)
    }
}

/// Reads a decoder run folder's `config.json`.
///
/// # Errors
/// When it is missing or malformed.
pub fn read_config(dir: &Path) -> Result<PerceiveConfig> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::file(&path, format!("cannot read: {e} (is this a decoder run folder?)")))?;
    serde_json::from_str(&text).map_err(|e| Error::file(&path, format!("malformed: {e}")))
}

// ANCHOR: train
/// Trains a decoder on `train`'s images against the frozen `classifier`,
/// measuring it on `test` after every epoch, writing everything into `dir`.
/// With `resume`, continues from `dir`'s last checkpoint. `stop` is polled
/// after every step (Ctrl-C).
///
/// # Errors
/// When the folder already holds a run (without `resume`), the layer is
/// missing, or a file cannot be written.
pub fn train(
    cfg: &PerceiveConfig,
    (classifier, meta): (&mut Model, &CheckpointMeta),
    (train, test): (&Dataset, &Dataset),
    dir: &Path,
    resume: bool,
    stop: &AtomicBool,
) -> Result<Outcome> {
    let files = Files { dir: dir.to_path_buf() };
    let _lock = crate::lock::FolderLock::acquire_and_clean(dir)?; // one writer per decoder run
    let mut opt = Adam::new(cfg.lr);
    let (mut decoder, mut progress) = if resume {
        let (decoder, progress) = Decoder::load(dir)?;
        decoder.check_classifier(&files.at("last.safetensors"), classifier)?;
        if let Ok((state, _)) = checkpoint::read_tensors(&files.at("optimizer.safetensors")) {
            opt.set_state(state.into_iter().map(|(k, (_, v))| (k, v)).collect());
        }
        (decoder, progress)
    } else {
        start(cfg, dir)?;
        (Decoder::new(classifier, &cfg.layer, cfg.upsampling, cfg.seed)?, Progress::default())
    };
    let mut history = files.history(progress.epoch)?;
    let count = train.len().min(cfg.limit.unwrap_or(usize::MAX));
    for epoch in progress.epoch..cfg.epochs {
        let started = Instant::now();
        let bar = crate::eval::progress_bar(&format!("decoder epoch {}/{}", epoch + 1, cfg.epochs), count);
        let order = epoch_order(count, cfg.seed, epoch);
        let before = std::mem::take(&mut progress);
        let (mut loss_sum, mut seen) = (before.loss_sum, before.seen);
        bar.inc(seen as u64);
        let mut last_report = Instant::now();
        for (step, idx) in order.chunks(cfg.batch).enumerate().skip(before.step) {
            let l = step_once(cfg, classifier, meta, &mut decoder, &mut opt, train, idx)?;
            (loss_sum, seen) = (loss_sum + l * idx.len() as f64, seen + idx.len());
            bar.inc(idx.len() as u64);
            let rate = (seen - before.seen) as f64 / started.elapsed().as_secs_f64();
            bar.set_message(format!("loss {:.4}  {rate:.0} img/s", loss_sum / seen as f64));
            if bar.is_hidden() && last_report.elapsed().as_secs() >= 60 {
                // no terminal (a log file, CI): a plain line a minute instead of the bar
                let at = format!("decoder epoch {}/{}: {seen}/{count} images", epoch + 1, cfg.epochs);
                eprintln!("{at}  loss {:.4}  {rate:.0} img/s", loss_sum / seen as f64);
                last_report = Instant::now();
            }
            if stop.load(Ordering::Relaxed) {
                bar.abandon_with_message("interrupted");
                let seconds = before.seconds + started.elapsed().as_secs_f64();
                files.save(&mut decoder, &opt, Progress { epoch, step: step + 1, loss_sum, seen, seconds })?;
                return Ok(Outcome::Interrupted);
            }
        }
        bar.finish_and_clear();
        let test_quality = quality(classifier, meta, &mut decoder, test)?;
        let seconds = before.seconds + started.elapsed().as_secs_f64();
        let m = DecoderMetrics {
            epoch: epoch + 1,
            train_loss: loss_sum / seen.max(1) as f64,
            images_per_sec: (seen - before.seen) as f64 / started.elapsed().as_secs_f64(),
            test: test_quality,
            seconds,
        };
        println!("{}", m.line(cfg.epochs));
        history.push(m);
        files.save(&mut decoder, &opt, Progress { epoch: epoch + 1, ..Progress::default() })?;
        files.record(&history)?;
    }
    Ok(Outcome::Finished)
}
// ANCHOR_END: train

/// One optimisation step of the decoder on images `idx`; returns the loss.
fn step_once(
    cfg: &PerceiveConfig,
    classifier: &mut Model,
    meta: &CheckpointMeta,
    decoder: &mut Decoder,
    opt: &mut Adam,
    train: &Dataset,
    idx: &[usize],
) -> Result<f64> {
    let (x, _) = make_batch(train, idx, &meta.preprocessing, None);
    let features = encode(classifier, &x, &cfg.layer)?;
    let target = pixels(train, idx);
    decoder.net.set_training(true);
    let recon = decoder.net.forward(&features);
    let encoder = Some((classifier as &mut dyn Module, &meta.preprocessing, cfg.layer.as_str(), &features));
    let l = loss(&recon, &target, cfg.loss_weights, encoder);
    let grads = l.total.backward();
    opt.step(&mut decoder.net, &grads);
    Ok(l.total.item() as f64)
}

/// Starts a fresh run folder: refuses one that already holds a run.
fn start(cfg: &PerceiveConfig, dir: &Path) -> Result<()> {
    if dir.join("config.json").exists() {
        return Err(Error::file(
            dir,
            "already holds a decoder run; use --resume to continue it, or choose another --out",
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create the folder: {e}")))?;
    let json = serde_json::to_string_pretty(cfg).expect("plain data serialises");
    write_atomic(&dir.join("config.json"), |w| w.write_all(json.as_bytes()))
}

/// Training loss, test PSNR, and test SSIM and agreement per epoch, side by side.
fn curves(history: &[DecoderMetrics]) -> image::RgbImage {
    let series = |f: fn(&DecoderMetrics) -> f64| history.iter().map(|m| (m.epoch as f64, f(m))).collect::<Vec<_>>();
    let loss = LinePlot::new("Training loss", "epoch", "weighted MSE + SSIM + feature loss")
        .with("train", series(|m| m.train_loss));
    let psnr = LinePlot::new("Test PSNR", "epoch", "dB").with("test", series(|m| m.test.psnr));
    let mut share = LinePlot::new("Test SSIM and agreement", "epoch", "%")
        .with("SSIM × 100", series(|m| 100.0 * m.test.ssim))
        .with("class agreement", series(|m| 100.0 * m.test.agreement));
    share.y_range = Some((0.0, 100.0));
    let mut canvas = Canvas::new(1080, 360);
    for (i, plot) in [loss, psnr, share].iter().enumerate() {
        image::imageops::replace(&mut canvas.image, &plot.render(360, 360), 360 * i as i64, 0);
    }
    canvas.image
}
