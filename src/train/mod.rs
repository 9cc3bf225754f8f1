//! Training a classifier: the loop, validation, checkpoints, metrics, curves, Ctrl-C and resume.

pub mod commit;
mod config;
pub mod fast;
mod run_dir;
pub mod sharpen;
pub mod sweep;

pub use config::TrainConfig;
pub use run_dir::{optimizer_state_from_bytes, parse_config, parse_metrics, EpochMetrics, RunDir};

use crate::checkpoint::{self, CheckpointMeta, EpochSoFar};
use crate::data::batches::{epoch_order, make_batch};
use crate::data::preprocess::Preprocessing;
use crate::data::{self, DataSpec, Dataset, Splits};
use crate::eval::{evaluate, predict, TestTimeAugmentation};
use crate::io::{Error, Result};
use crate::models::Model;
use crate::nn::Module;
use crate::regression::{self, step_loss, Task};
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
    let files = if spec.is_synthetic() { None } else { Some(data::load(&spec, cfg.seed)?) };
    let n = files.as_ref().map_or(data::SHAPES_TRAIN, |s| s.train.len());
    let val_count = cfg.val.unwrap_or((n / 10).min(5000));
    if val_count >= n {
        return Err(Error::msg(format!("--val: {val_count} validation images leave none of the {n} training images")));
    }
    let order = epoch_order(n, cfg.seed ^ 0x7a1d_a7e5, 0);
    let used = &order[..n.min(val_count.saturating_add(cfg.limit.unwrap_or(usize::MAX)))];
    // the images this run uses, validation first (synthetic ones are generated only for these)
    let splits = match files {
        Some(s) => Splits { train: s.train.select(used), ..s },
        None => data::synthetic_split(&spec, cfg.seed, used),
    };
    let val =
        if val_count > 0 { splits.train.select(&(0..val_count).collect::<Vec<_>>()) } else { splits.test.clone() };
    let train = splits.train.select(&(val_count..used.len()).collect::<Vec<_>>());
    let preprocessing = Preprocessing::fit(cfg.normalization, &train);
    Ok(Prepared { train, val, test: splits.test, preprocessing })
}
// ANCHOR_END: prepare

// ANCHOR: train
/// Trains as `cfg` says, writing everything into `run`. With `resume`, continues
/// from `run`'s last checkpoint. `stop` is polled after every step (Ctrl-C).
pub fn train(cfg: &TrainConfig, run: &RunDir, resume: bool, stop: &AtomicBool) -> Result<Outcome> {
    cfg.validate()?;
    let _lock = run.lock()?;
    let mut session = Session::start(cfg, run, resume)?;
    for epoch in session.history.len()..cfg.epochs {
        let started = Instant::now();
        // after an interruption, skip the steps this epoch had already done and keep their totals
        let (skip, before) = std::mem::take(&mut session.resumed);
        let Some(totals) = session.train_epoch(cfg, run, epoch, skip, before, stop)? else {
            return Ok(Outcome::Interrupted(epoch));
        };
        let seconds = before.seconds + started.elapsed().as_secs_f64();
        session.end_epoch(cfg, run, epoch, &totals, seconds)?;
    }
    Ok(Outcome::Finished)
}
// ANCHOR_END: train

/// What a run carries from one epoch to the next.
struct Session {
    data: Prepared,
    model: Model,
    opt: Box<dyn crate::optim::Optimizer>,
    schedule: crate::optim::LrSchedule,
    steps_per_epoch: usize,
    /// What the next checkpoint records besides the weights.
    meta: CheckpointMeta,
    /// The finished epochs' metrics.
    history: Vec<EpochMetrics>,
    /// The steps and totals of an interrupted epoch (after `--resume`).
    resumed: (usize, EpochSoFar),
}

impl Session {
    /// The data, a new model (or, resuming, the run's), its optimizer and
    /// schedule; a fresh run folder is started.
    fn start(cfg: &TrainConfig, run: &RunDir, resume: bool) -> Result<Session> {
        // a run killed before its first checkpoint has nothing to resume: it starts afresh
        let resume = resume && run.has_progress();
        let data = prepare(cfg)?;
        cfg.validate_for_images(data.train.shape, data.train.len())?;
        cfg.task.check(&data.train, &cfg.data, &cfg.augment)?;
        cfg.task.check(&data.test, &format!("{} (its test split)", cfg.data), &cfg.augment)?;
        let [c, h, w] = data.train.shape;
        let mut model = Model::new(cfg.arch()?, cfg.task.outputs(data.train.classes.len()), [c, h, w], cfg.seed)?;
        if let Some(fast) = &cfg.fast {
            fast.prepare(&mut model, &data.train, &data.preprocessing, cfg.seed)?;
        }
        if let (Some(from), false) = (&cfg.init_from, resume) {
            println!("{}", init_backbone(&mut model, from)?);
        }
        let steps_per_epoch = cfg.steps_per_epoch(data.train.len());
        let mut opt = cfg.optimizer_for(cfg.epochs * steps_per_epoch)?;
        let (mut history, mut resumed) = (Vec::new(), (0, EpochSoFar::default()));
        if resume {
            (history, resumed) = run.resume_into(&mut model, opt.as_mut(), &data.preprocessing)?;
        } else {
            run.start(cfg)?;
        }
        let schedule = cfg.schedule(cfg.epochs * steps_per_epoch, steps_per_epoch)?;
        let meta = CheckpointMeta {
            arch: model.arch,
            input: [c, h, w],
            classes: data.train.classes.clone(),
            preprocessing: data.preprocessing.clone(),
            epoch: history.len(),
            step: 0,
            so_far: EpochSoFar::default(),
            task: cfg.task,
        };
        let val_note = if cfg.validates_on_test() {
            " = the test split: best.safetensors is chosen on it, so eval, explain and localize use last.safetensors (--last)"
        } else {
            ""
        };
        let (path, arch, (train, val)) = (run.path.display(), model.arch, (data.train.len(), data.val.len()));
        println!("{path}: {arch} on {} ({train} training, {val} validation images{val_note})", cfg.data);
        Ok(Session { data, model, opt, schedule, steps_per_epoch, meta, history, resumed })
    }

    /// One epoch's steps from step `skip` on, adding to the totals `before`;
    /// `None` when Ctrl-C stopped it (its progress saved in last.safetensors).
    fn train_epoch(
        &mut self,
        cfg: &TrainConfig,
        run: &RunDir,
        epoch: usize,
        skip: usize,
        before: EpochSoFar,
        stop: &AtomicBool,
    ) -> Result<Option<EpochSoFar>> {
        let (started, steps, total_steps) = (Instant::now(), self.steps_per_epoch, cfg.epochs * self.steps_per_epoch);
        let bar = progress_bar(steps, epoch, cfg.epochs);
        let mut totals = before;
        let mut last_report = Instant::now();
        self.model.set_training(true);
        if let Some(fast) = &cfg.fast {
            fast.start_epoch(&mut self.model, epoch)?;
        }
        let order = epoch_order(self.data.train.len(), cfg.seed, epoch);
        bar.inc(skip as u64);
        for (step, idx) in order.chunks(cfg.batch).enumerate().take(steps).skip(skip) {
            if idx.len() < 2 {
                continue; // BatchNorm cannot normalise a batch of one
            }
            self.opt.set_lr(self.schedule.lr_at(cfg.step_lr(), epoch * steps + step, total_steps));
            let (loss, hits) = self.step(cfg, epoch, idx);
            if !loss.is_finite() {
                bar.abandon_with_message("diverged");
                return Err(diverged(cfg, epoch, step, &format!("the training loss is {loss}")));
            }
            totals.loss_sum += loss as f64 * idx.len() as f64;
            totals.seen += idx.len();
            totals.correct += hits;
            bar.inc(1);
            let rate = (totals.seen - before.seen) as f64 / started.elapsed().as_secs_f64();
            let (loss, acc) = (totals.loss_sum / totals.seen as f64, 100.0 * hit_rate(cfg, &totals));
            bar.set_message(format!("loss {loss:.4}  acc {acc:5.1}%  {rate:.0} img/s"));
            if bar.is_hidden() && last_report.elapsed().as_secs() >= 60 {
                // no terminal (a log file, CI): a plain line a minute instead of the bar
                let at = format!("epoch {}/{}: step {}/{steps}", epoch + 1, cfg.epochs, step + 1);
                eprintln!("{at}  loss {loss:.4}  acc {acc:5.1}%  {rate:.0} img/s");
                last_report = Instant::now();
            }
            if stop.load(Ordering::Relaxed) {
                bar.abandon_with_message("interrupted");
                if let Some(name) = non_finite_tensor(&mut self.model) {
                    return Err(diverged(cfg, epoch, step, &format!("tensor '{name}' holds NaN or infinity")));
                }
                let so_far = EpochSoFar { seconds: before.seconds + started.elapsed().as_secs_f64(), ..totals };
                let meta = CheckpointMeta { step: step + 1, so_far, ..self.meta.clone() };
                run.save_last(&mut self.model, self.opt.as_ref(), &meta)?;
                return Ok(None);
            }
        }
        bar.finish_and_clear();
        Ok(Some(totals))
    }

    // ANCHOR: step
    /// One training step on the images `idx`: forward, loss, backward,
    /// update. Returns the loss and the hits.
    fn step(&mut self, cfg: &TrainConfig, epoch: usize, idx: &[usize]) -> (f32, usize) {
        let (train, pre) = (&self.data.train, &self.data.preprocessing);
        let (x, _) = make_batch(train, idx, pre, Some((&cfg.augment, cfg.seed, epoch)));
        let flips: Vec<bool> = idx.iter().map(|&i| cfg.augment.flips(cfg.seed, epoch, i)).collect();
        let (outputs, separability) = if cfg.attention_separability > 0.0 {
            let labels: Vec<usize> = idx.iter().map(|&i| train.labels[i]).collect();
            let (scores, term) =
                sharpen::forward_with_separability(&mut self.model, &x, &labels, cfg.attention_separability);
            (scores, Some(term))
        } else {
            (crate::nn::fuse_for_training(&mut self.model).forward(&x), None)
        };
        let (loss, hits) = step_loss(cfg.task, cfg.loss_settings(), &outputs, train, idx, &flips, cfg.label_smoothing);
        let loss = match separability {
            Some(term) => loss.add(&term),
            None => loss,
        };
        if !loss.item().is_finite() {
            return (loss.item(), hits);
        }
        let grads = loss.backward();
        let value = loss.item();
        drop((outputs, loss));
        self.opt.step(&mut self.model, &grads);
        (value, hits)
    }
    // ANCHOR_END: step

    /// Validation, the epoch's line and metrics, and the checkpoints.
    fn end_epoch(
        &mut self,
        cfg: &TrainConfig,
        run: &RunDir,
        epoch: usize,
        totals: &EpochSoFar,
        seconds: f64,
    ) -> Result<()> {
        let (val_loss, val_accuracy) = validate(cfg, epoch, &mut self.model, &self.data);
        let metrics = EpochMetrics {
            epoch: epoch + 1,
            train_loss: totals.loss_sum / totals.seen.max(1) as f64,
            train_accuracy: hit_rate(cfg, totals),
            val_loss,
            val_accuracy,
            lr: self.opt.lr(),
            seconds,
            images_per_sec: totals.seen as f64 / seconds,
        };
        self.meta.epoch = epoch + 1;
        // an epoch without a measurement (the fast recipe's, NaN) is never the best
        let best = metrics.val_accuracy.is_finite()
            && self.history.iter().all(|m| m.val_accuracy.is_nan() || metrics.val_accuracy > m.val_accuracy);
        let line = metrics.line(cfg.epochs);
        self.history.push(metrics);
        match run_dir::time_left(&self.history, cfg.epochs) {
            Some(left) => println!("{line}  {left}"),
            None => println!("{line}"),
        }
        if let Some(name) = non_finite_tensor(&mut self.model) {
            let what = format!("tensor '{name}' holds NaN or infinity");
            return Err(diverged(cfg, epoch, self.steps_per_epoch - 1, &what));
        }
        run.record_epoch(&mut self.model, self.opt.as_ref(), &self.meta, &self.history, best)
    }
}

/// The share of hits among the items seen: images (classify, localize) or joints (pose).
fn hit_rate(cfg: &TrainConfig, totals: &EpochSoFar) -> f64 {
    totals.correct as f64 / (totals.seen * cfg.task.items_per_image()).max(1) as f64
}

/// Starts `model` from the backbone of the checkpoint in `from` (a run
/// folder or a file): every state tensor but the head's — the last layer —
/// is copied, and must exist with the same shape. Returns what was done.
fn init_backbone(model: &mut Model, from: &std::path::Path) -> Result<String> {
    let (_, meta, path) = load_for_inference(from, false)?;
    if meta.arch != model.arch {
        let why = format!("--init-from: holds a {} but this run trains a {}", meta.arch, model.arch);
        return Err(Error::file(&path, why));
    }
    let (mut tensors, _) = checkpoint::read_tensors(&path)?;
    let mut names = Vec::new();
    model.visit_state("", &mut |name, _, _| names.push(name.to_string()));
    let last = names.last().cloned().unwrap_or_default();
    let head = last.rsplit_once('.').map_or(last.as_str(), |(module, _)| module).to_string();
    let mut problem = None;
    let mut copied = 0;
    model.visit_state("", &mut |name, t, _| {
        if name.starts_with(&format!("{head}.")) || problem.is_some() {
            return;
        }
        match tensors.remove(name) {
            Some((shape, values)) if shape == t.shape() => {
                t.data_mut().copy_from_slice(&values);
                copied += 1;
            }
            Some((shape, _)) => {
                problem = Some(format!("tensor '{name}' has shape {shape:?}, the model {:?}", t.shape()))
            }
            None => problem = Some(format!("tensor '{name}' is missing")),
        }
    });
    if let Some(p) = problem {
        return Err(Error::file(&path, format!("--init-from: {p}")));
    }
    Ok(format!("backbone from {} ({copied} tensors); the head ({head}) starts new", path.display()))
}

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
    if cfg.task != Task::Classify {
        return validate_regression(cfg, model, data);
    }
    let tta = match &cfg.fast {
        None => TestTimeAugmentation::None,
        Some(fast) if epoch + 1 == cfg.epochs => fast.tta,
        Some(_) => return (f64::NAN, f64::NAN),
    };
    let probs = predict(model, &data.val, &data.preprocessing, 256, tta);
    let val = evaluate(&probs, &data.val.labels, &data.val.classes);
    (val.loss, val.accuracy)
}

/// The validation loss and the task's headline score: correct localization
/// (right class and IoU ≥ 0.5) for localize, PCK@0.2 for pose.
fn validate_regression(cfg: &TrainConfig, model: &mut Model, data: &Prepared) -> (f64, f64) {
    let outputs = regression::metrics::outputs(model, &data.val, &data.preprocessing, 256);
    let indices: Vec<usize> = (0..data.val.len()).collect();
    let rows: Vec<f32> = outputs.concat();
    let x = crate::Tensor::from_vec(rows, &[outputs.len(), outputs.first().map_or(0, Vec::len)]);
    let flips = vec![false; indices.len()];
    let (loss, _) = step_loss(cfg.task, cfg.loss_settings(), &x, &data.val, &indices, &flips, 0.0);
    let score = match cfg.task {
        Task::Pose => regression::metrics::pose_scores(&outputs, &data.val).pck_02,
        _ => regression::metrics::localize_scores(&outputs, &data.val).correct_localization,
    };
    (loss.item() as f64, score)
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
