//! Training a classifier: the loop, validation, checkpoints, metrics, curves, Ctrl-C and resume.

pub mod batches;
mod config;
pub mod fast;
mod run_dir;

pub use config::TrainConfig;
pub use run_dir::{EpochMetrics, RunDir};

use crate::checkpoint::{self, CheckpointMeta, EpochSoFar};
use crate::data::preprocess::Preprocessing;
use crate::data::{self, DataSpec, Dataset};
use crate::eval::{evaluate, predict, TestTimeAugmentation};
use crate::io::{Error, Result};
use crate::models::Model;
use crate::nn::Module;
use batches::{epoch_order, make_batch};
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// All epochs done.
    Finished,
    /// Stopped by Ctrl-C; `last.safetensors` holds the state after this many epochs.
    Interrupted(usize),
}

/// Training and validation images, split as the config says.
pub struct Prepared {
    /// Images trained on.
    pub train: Dataset,
    /// Images validated on each epoch (held-out training images, or the test split).
    pub val: Dataset,
    /// Test images.
    pub test: Dataset,
    /// Normalisation fitted on `train`.
    pub preprocessing: Preprocessing,
}

// ANCHOR: prepare
/// Loads the data and splits off the validation images. Files may list their
/// images in any order (image folders are sorted by class), so validation is
/// a seeded random subset of the training split and the training images are
/// the rest, in seeded random order; `limit` keeps the first N of those.
pub fn prepare(cfg: &TrainConfig) -> Result<Prepared> {
    let spec: DataSpec = cfg.data.parse()?;
    let splits = data::load(&spec, cfg.seed)?;
    let n = splits.train.len();
    let val_count = cfg.val.unwrap_or((n / 10).min(5000));
    if val_count >= n {
        return Err(Error::msg(format!("--val: {val_count} validation images leave none of the {n} training images")));
    }
    let order = epoch_order(n, cfg.seed ^ 0x7a1d_a7e5, 0);
    let val = if val_count > 0 { splits.train.select(&order[..val_count]) } else { splits.test.clone() };
    let rest = &order[val_count..];
    let train = splits.train.select(&rest[..rest.len().min(cfg.limit.unwrap_or(usize::MAX))]);
    let preprocessing = Preprocessing::fit(cfg.normalization, &train);
    Ok(Prepared { train, val, test: splits.test, preprocessing })
}
// ANCHOR_END: prepare

// ANCHOR: train
/// Trains as `cfg` says, writing everything into `run`. With `resume`, continues
/// from `run`'s last checkpoint. `stop` is polled after every step (Ctrl-C).
pub fn train(cfg: &TrainConfig, run: &RunDir, resume: bool, stop: &AtomicBool) -> Result<Outcome> {
    cfg.validate()?;
    let data = prepare(cfg)?;
    cfg.validate_for_images(data.train.shape, data.train.len())?;
    let [c, h, w] = data.train.shape;
    let mut model = Model::new(cfg.arch()?, data.train.classes.len(), [c, h, w], cfg.seed)?;
    if let Some(fast) = &cfg.fast {
        fast.prepare(&mut model, &data.train, &data.preprocessing, cfg.seed)?;
    }
    let steps_per_epoch = cfg.steps_per_epoch(data.train.len());
    let mut opt = cfg.optimizer_for(cfg.epochs * steps_per_epoch)?;
    // the finished epochs, and the steps and totals of an interrupted one
    let (mut history, mut resumed) = (Vec::new(), (0, EpochSoFar::default()));
    if resume {
        (history, resumed) = run.resume_into(&mut model, opt.as_mut(), &data.preprocessing)?;
    } else {
        run.start(cfg)?;
    }
    let schedule = cfg.schedule(cfg.epochs * steps_per_epoch, steps_per_epoch)?;
    let mut meta = CheckpointMeta {
        arch: model.arch,
        input: [c, h, w],
        classes: data.train.classes.clone(),
        preprocessing: data.preprocessing.clone(),
        epoch: history.len(),
        step: 0,
        so_far: EpochSoFar::default(),
    };
    let val_note = if cfg.validates_on_test() {
        " = the test split: best.safetensors is chosen on it, so eval, explain and localize use last.safetensors (--last)"
    } else {
        ""
    };
    println!(
        "{}: {} on {} ({} training, {} validation images{val_note})",
        run.path.display(),
        model.arch,
        cfg.data,
        data.train.len(),
        data.val.len()
    );
    for epoch in history.len()..cfg.epochs {
        let started = Instant::now();
        let bar = progress_bar(steps_per_epoch, epoch, cfg.epochs);
        // after an interruption, skip the steps this epoch had already done and keep their totals
        let (skip, before) = std::mem::take(&mut resumed);
        let mut totals = before;
        let epoch_seconds = || before.seconds + started.elapsed().as_secs_f64();
        let mut last_report = Instant::now();
        model.set_training(true);
        if let Some(fast) = &cfg.fast {
            fast.start_epoch(&mut model, epoch)?;
        }
        let order = epoch_order(data.train.len(), cfg.seed, epoch);
        bar.inc(skip as u64);
        for (step, idx) in order.chunks(cfg.batch).enumerate().take(steps_per_epoch).skip(skip) {
            if idx.len() < 2 {
                continue; // BatchNorm cannot normalise a batch of one
            }
            opt.set_lr(schedule.lr_at(cfg.step_lr(), epoch * steps_per_epoch + step, cfg.epochs * steps_per_epoch));
            let (x, labels) = make_batch(&data.train, idx, &data.preprocessing, Some((&cfg.augment, cfg.seed, epoch)));
            let logits = model.forward(&x);
            let loss = logits.cross_entropy(&labels, cfg.label_smoothing);
            if !loss.item().is_finite() {
                bar.abandon_with_message("diverged");
                return Err(diverged(cfg, epoch, step, &format!("the training loss is {}", loss.item())));
            }
            let grads = loss.backward();
            totals.loss_sum += loss.item() as f64 * idx.len() as f64;
            totals.seen += idx.len();
            totals.correct += logits.argmax(1).iter().zip(&labels).filter(|(p, y)| p == y).count();
            drop((logits, loss));
            opt.step(&mut model, &grads);
            bar.inc(1);
            let rate = (totals.seen - before.seen) as f64 / started.elapsed().as_secs_f64();
            let (loss, acc) =
                (totals.loss_sum / totals.seen as f64, 100.0 * totals.correct as f64 / totals.seen as f64);
            bar.set_message(format!("loss {loss:.4}  acc {acc:5.1}%  {rate:.0} img/s"));
            if bar.is_hidden() && last_report.elapsed().as_secs() >= 60 {
                // no terminal (a log file, CI): a plain line a minute instead of the bar
                let at = format!("epoch {}/{}: step {}/{steps_per_epoch}", epoch + 1, cfg.epochs, step + 1);
                eprintln!("{at}  loss {loss:.4}  acc {acc:5.1}%  {rate:.0} img/s");
                last_report = Instant::now();
            }
            if stop.load(Ordering::Relaxed) {
                bar.abandon_with_message("interrupted");
                if let Some(name) = non_finite_tensor(&mut model) {
                    return Err(diverged(cfg, epoch, step, &format!("tensor '{name}' holds NaN or infinity")));
                }
                let so_far = EpochSoFar { seconds: epoch_seconds(), ..totals };
                run.save_last(&mut model, opt.as_ref(), &CheckpointMeta { step: step + 1, so_far, ..meta.clone() })?;
                return Ok(Outcome::Interrupted(epoch));
            }
        }
        bar.finish_and_clear();
        let (val_loss, val_accuracy) = validate(cfg, epoch, &mut model, &data);
        let seconds = epoch_seconds();
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train_loss: totals.loss_sum / totals.seen.max(1) as f64,
            train_accuracy: totals.correct as f64 / totals.seen.max(1) as f64,
            val_loss,
            val_accuracy,
            lr: opt.lr(),
            seconds,
            images_per_sec: totals.seen as f64 / seconds,
        };
        meta.epoch = epoch + 1;
        // an epoch without a measurement (the fast recipe's, NaN) is never the best
        let best = metrics.val_accuracy.is_finite()
            && history.iter().all(|m: &EpochMetrics| m.val_accuracy.is_nan() || metrics.val_accuracy > m.val_accuracy);
        let line = metrics.line(cfg.epochs);
        history.push(metrics);
        match run_dir::time_left(&history, cfg.epochs) {
            Some(left) => println!("{line}  {left}"),
            None => println!("{line}"),
        }
        if let Some(name) = non_finite_tensor(&mut model) {
            return Err(diverged(cfg, epoch, steps_per_epoch - 1, &format!("tensor '{name}' holds NaN or infinity")));
        }
        run.record_epoch(&mut model, opt.as_ref(), &meta, &history, best)?;
    }
    Ok(Outcome::Finished)
}
// ANCHOR_END: train

/// The error that stops a diverged training: where, what, and that nothing
/// of the epoch was saved (a NaN never becomes a checkpoint).
fn diverged(cfg: &TrainConfig, epoch: usize, step: usize, what: &str) -> Error {
    let kept = match epoch {
        0 => "no checkpoint was written".to_string(),
        e => format!("last.safetensors still holds epoch {e}"),
    };
    let lr = if (1e-4..1e6).contains(&cfg.lr.abs()) { format!("{}", cfg.lr) } else { format!("{:e}", cfg.lr) };
    Error::msg(format!(
        "training diverged at epoch {}/{}, step {}: {what}. The learning rate is probably too high \
         (--lr {lr}); nothing of this epoch was saved ({kept})",
        epoch + 1,
        cfg.epochs,
        step + 1,
    ))
}

/// The name of the first state tensor of `model` that holds a NaN or an infinity.
fn non_finite_tensor(model: &mut Model) -> Option<String> {
    let mut found = None;
    model.visit_state("", &mut |name, t, _| {
        if found.is_none() && t.data().iter().any(|v| !v.is_finite()) {
            found = Some(name.to_string());
        }
    });
    found
}

/// The loss and accuracy on the validation images after epoch `epoch`. The
/// fast recipe scores only after its last epoch (with its test-time
/// augmentation): every other epoch's are NaN, written as `null`.
fn validate(cfg: &TrainConfig, epoch: usize, model: &mut Model, data: &Prepared) -> (f64, f64) {
    let tta = match &cfg.fast {
        None => TestTimeAugmentation::None,
        Some(fast) if epoch + 1 == cfg.epochs => fast.tta,
        Some(_) => return (f64::NAN, f64::NAN),
    };
    let probs = predict(model, &data.val, &data.preprocessing, 256, tta);
    let val = evaluate(&probs, &data.val.labels, &data.val.classes);
    (val.loss, val.accuracy)
}

fn progress_bar(steps: usize, epoch: usize, epochs: usize) -> ProgressBar {
    let bar = ProgressBar::new(steps as u64);
    let style =
        ProgressStyle::with_template("{prefix} [{bar:28}] {pos}/{len} {msg} (ETA {eta})").expect("valid template");
    bar.set_style(style.progress_chars("=> "));
    bar.set_prefix(format!("epoch {}/{epochs}", epoch + 1));
    bar
}

/// Loads a run's checkpoint as [`checkpoint_path`] chooses it (the best, unless
/// the run validated on its test split).
pub fn load_run_model(run: &RunDir) -> Result<(Model, CheckpointMeta)> {
    checkpoint::load(&checkpoint_path(run, &run.config()?, false)?)
}

/// The checkpoint file of a run: `best.safetensors` (chosen on validation),
/// or `last.safetensors` — the weights at the end of training — if `last` is
/// asked for, if no epoch finished validation, or if the run validated on its
/// test split (`--val 0`), whose best epoch was chosen by test accuracy (said
/// on stderr).
pub fn checkpoint_path(run: &RunDir, cfg: &TrainConfig, last: bool) -> Result<std::path::PathBuf> {
    let best = run.path.join("best.safetensors");
    if cfg.validates_on_test() && !last && best.exists() {
        eprintln!(
            "{}: this run validated on its test split (--val 0), so its best epoch was chosen by test accuracy; \
             using last.safetensors instead",
            run.path.display()
        );
    }
    let last = last || cfg.validates_on_test();
    let path = if !last && best.exists() { best } else { run.path.join("last.safetensors") };
    if !path.exists() {
        return Err(Error::file(&run.path, "no checkpoint here (best.safetensors or last.safetensors); train first"));
    }
    Ok(path)
}

/// The model of a run folder for commands that need no data (explaining
/// image files): the checkpoint alone holds the architecture, classes,
/// input size and preprocessing. `run` may also be a `.safetensors` file,
/// or a folder with a checkpoint but no `config.json` (shipped weights),
/// whose best checkpoint is used, else its last. Returns the checkpoint path too.
///
/// # Errors
/// When there is no checkpoint, or it cannot be loaded.
pub fn load_for_inference(run: &std::path::Path, last: bool) -> Result<(Model, CheckpointMeta, std::path::PathBuf)> {
    let path =
        if run.is_file() {
            run.to_path_buf()
        } else if run.join("config.json").exists() {
            let dir = RunDir::new(run);
            checkpoint_path(&dir, &dir.config()?, last)?
        } else if !run.is_dir() {
            return Err(Error::file(run, "no such run folder or checkpoint file"));
        } else {
            let names =
                if last { ["last.safetensors", "best.safetensors"] } else { ["best.safetensors", "last.safetensors"] };
            names.iter().map(|n| run.join(n)).find(|p| p.exists()).ok_or_else(|| {
                Error::file(run, "no checkpoint here (best.safetensors or last.safetensors); train first")
            })?
        };
    let (model, meta) = checkpoint::load(&path)?;
    Ok((model, meta, path))
}

/// The model of the run in `dir` trained as `cfg` says — trained now if the
/// folder holds no checkpoint yet, loaded otherwise — with its data. For
/// examples and labs that need a trained network but should train it once.
pub fn trained(cfg: &TrainConfig, dir: &std::path::Path) -> Result<(Model, Prepared)> {
    let run = RunDir::new(dir);
    if !dir.join("best.safetensors").exists() {
        let _ = std::fs::remove_dir_all(dir);
        train(cfg, &run, false, &AtomicBool::new(false))?;
    }
    Ok((load_run_model(&run)?.0, prepare(cfg)?))
}
