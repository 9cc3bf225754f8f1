//! The run folder: config, per-epoch metrics (JSON lines), best and last checkpoints, optimiser state, curves.

use super::commit::{self, Recovery, Staged};
use super::TrainConfig;
use crate::checkpoint::{self, CheckpointMeta, EpochSoFar};
use crate::data::preprocess::Preprocessing;
use crate::io::{save_png, write_atomic, Error, Result};
use crate::lock::FolderLock;
use crate::models::Model;
use crate::nn::{Module, StateKind};
use crate::optim::Optimizer;
use crate::viz::plot::LinePlot;
use crate::viz::Canvas;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Checks optimiser state read from `path` against the model before it is
/// used: finite values, and every buffer named after a model tensor
/// (`velocity/3.weight`, `lookahead/3.weight`) of that tensor's length, or
/// of one value for Adam's step counts (`t/3.weight`).
fn check_optimizer_state(path: &Path, state: &checkpoint::NamedTensors, model: &mut Model) -> Result<()> {
    let mut sizes = HashMap::new();
    model.visit_state("", &mut |name, t, _| {
        sizes.insert(name.to_string(), t.shape().iter().product::<usize>());
    });
    for (key, (_, values)) in state {
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::file(path, format!("'{key}' holds NaN or infinity")));
        }
        let mut rest = key.as_str();
        let tensor = loop {
            match rest.split_once('/') {
                Some((_, tail)) if sizes.contains_key(tail) => break Some((tail, sizes[tail])),
                Some((_, tail)) => rest = tail,
                None => break None,
            }
        };
        match tensor {
            Some((name, n)) if values.len() != if is_step_count(key, name) { 1 } else { n } => {
                let got = values.len();
                return Err(Error::file(path, format!("'{key}' holds {got} values for '{name}' of {n}")));
            }
            None if key.contains('/') => {
                return Err(Error::file(path, format!("'{key}' names no tensor of the model")));
            }
            _ => {}
        }
    }
    Ok(())
}

/// The optimiser state in the bytes of an `optimizer.safetensors` (`path`
/// names it in errors), checked against `model` before anything uses it.
pub fn optimizer_state_from_bytes(path: &Path, bytes: &[u8], model: &mut Model) -> Result<Vec<(String, Vec<f32>)>> {
    let (state, _) = checkpoint::tensors_from_bytes(path, bytes)?;
    check_optimizer_state(path, &state, model)?;
    let mut state: Vec<(String, Vec<f32>)> = state.into_iter().map(|(k, (_, v))| (k, v)).collect();
    state.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(state)
}

fn is_step_count(key: &str, tensor: &str) -> bool {
    let prefix = &key[..key.len() - tensor.len()];
    prefix == "t/" || prefix.ends_with("/t/")
}

/// A run's `config.json` from its bytes (`path` names it in errors).
pub fn parse_config(path: &Path, bytes: &[u8]) -> Result<TrainConfig> {
    serde_json::from_slice(bytes).map_err(|e| Error::file(path, format!("malformed: {e}")))
}

/// A run's `metrics.jsonl` from its bytes: one epoch per non-empty line.
pub fn parse_metrics(path: &Path, bytes: &[u8]) -> Result<Vec<EpochMetrics>> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::file(path, "not UTF-8 text"))?;
    let lines = text.lines().filter(|l| !l.trim().is_empty()).enumerate();
    lines.map(|(i, l)| serde_json::from_str(l).map_err(|e| Error::file(path, format!("line {}: {e}", i + 1)))).collect()
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochMetrics {
    /// Epochs completed (1-based).
    pub epoch: usize,
    /// Mean training loss over the epoch (with augmentation, in training mode).
    pub train_loss: f64,
    /// Training accuracy over the epoch.
    pub train_accuracy: f64,
    /// Validation loss after the epoch (NaN, written `null`, when not measured).
    #[serde(deserialize_with = "nan_if_null")]
    pub val_loss: f64,
    /// Validation accuracy after the epoch (NaN, written `null`, when not measured).
    #[serde(deserialize_with = "nan_if_null")]
    pub val_accuracy: f64,
    /// Learning rate at the end of the epoch.
    pub lr: f64,
    /// Wall time of the epoch, validation included.
    pub seconds: f64,
    /// Training throughput.
    pub images_per_sec: f64,
}

/// A number, or NaN where the JSON says `null` (how serde_json writes NaN).
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl EpochMetrics {
    /// A one-line summary for the terminal.
    pub fn line(&self, epochs: usize) -> String {
        let val = if self.val_accuracy.is_nan() {
            "val (at the end)".to_string()
        } else {
            format!("val loss {:.4} acc {:5.1}%", self.val_loss, 100.0 * self.val_accuracy)
        };
        format!(
            "epoch {:>3}/{epochs}  train loss {:.4} acc {:5.1}%  {val}  lr {:.2e}  {:.0}s ({:.0} img/s)",
            self.epoch,
            self.train_loss,
            100.0 * self.train_accuracy,
            self.lr,
            self.seconds,
            self.images_per_sec
        )
    }
}

/// The run's remaining time as the terminal shows it after each epoch
/// ("≈ 2 h 55 min left"): the median time of the last five epochs (one slow
/// epoch on a shared machine moves it little) times the epochs still to
/// run; `None` when the run is done.
pub fn time_left(history: &[EpochMetrics], epochs: usize) -> Option<String> {
    let remaining = epochs.checked_sub(history.len()).filter(|&r| r > 0)?;
    let mut recent: Vec<f64> = history.iter().rev().take(5).map(|m| m.seconds).collect();
    recent.sort_by(f64::total_cmp);
    let median = *recent.get(recent.len() / 2)?;
    let minutes = (median * remaining as f64 / 60.0).round() as u64;
    Some(match minutes {
        0 => "< 1 min left".to_string(),
        1..=59 => format!("≈ {minutes} min left"),
        _ => format!("≈ {} h {:02} min left", minutes / 60, minutes % 60),
    })
}

/// A run folder such as `runs/demo`.
pub struct RunDir {
    /// The folder.
    pub path: PathBuf,
}

impl RunDir {
    /// The run folder at `path` (created when training starts).
    pub fn new(path: impl AsRef<Path>) -> Self {
        RunDir { path: path.as_ref().to_path_buf() }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// The saved configuration.
    pub fn config(&self) -> Result<TrainConfig> {
        let path = self.file("config.json");
        if !path.exists() {
            return Err(Error::file(&path, "cannot read: no such file (is this a run folder?)"));
        }
        parse_config(&path, &crate::io::read_file(&path)?)
    }

    /// The metrics of the finished epochs.
    pub fn metrics(&self) -> Result<Vec<EpochMetrics>> {
        let path = self.file("metrics.jsonl");
        if !path.exists() {
            return Ok(Vec::new());
        }
        parse_metrics(&path, &crate::io::read_file(&path)?)
    }

    /// Locks the folder for this process (one writer per run; a second gets
    /// an error naming the holder) and removes temporary files a killed
    /// writer left behind. Hold the lock while writing the folder.
    pub fn lock(&self) -> Result<FolderLock> {
        let lock = FolderLock::acquire_and_clean(&self.path)?;
        match commit::recover(&self.path)? {
            Recovery::Clean => {}
            Recovery::Finished => eprintln!("{}: finished the epoch end a crash interrupted", self.path.display()),
            Recovery::Discarded(n) => {
                eprintln!("{}: discarded {n} files of an epoch end a crash interrupted", self.path.display())
            }
        }
        Ok(lock)
    }

    /// True once the run has saved a checkpoint or finished an epoch.
    pub fn has_progress(&self) -> bool {
        ["last.safetensors", "best.safetensors", "metrics.jsonl"].iter().any(|f| self.file(f).exists())
    }

    /// Starts a fresh run: refuses to overwrite a folder that already holds
    /// one. A run killed before its first checkpoint left only its config:
    /// there is nothing to keep or resume, so it is started afresh.
    pub fn start(&self, cfg: &TrainConfig) -> Result<()> {
        if self.file("config.json").exists() {
            if self.has_progress() {
                return Err(Error::file(
                    &self.path,
                    "already holds a run; use --resume to continue it, or choose another --out",
                ));
            }
            eprintln!("{}: a run that ended before its first checkpoint; starting it afresh", self.path.display());
        }
        let json = serde_json::to_string_pretty(cfg).expect("plain data serialises");
        write_atomic(&self.file("config.json"), |w| w.write_all(json.as_bytes()))
    }

    /// Loads the last checkpoint and optimiser state into a freshly built model;
    /// returns the metrics so far, and the steps already done in the next
    /// epoch with their running totals.
    pub fn resume_into(
        &self,
        model: &mut Model,
        opt: &mut dyn Optimizer,
        pre: &Preprocessing,
    ) -> Result<(Vec<EpochMetrics>, (usize, EpochSoFar))> {
        let last = self.file("last.safetensors");
        if !last.exists() {
            let why = "nothing to resume: no last checkpoint in this run folder (train without --resume starts it)";
            return Err(Error::file(&last, why));
        }
        let (tensors, meta) = checkpoint::read_tensors(&last)?;
        let meta = checkpoint::parse_meta(&last, &meta)?;
        checkpoint::load_state(&last, model, tensors)?;
        if &meta.preprocessing != pre {
            return Err(Error::file(
                &last,
                "its preprocessing statistics differ from this data: was the data changed?",
            ));
        }
        let opt_path = self.file("optimizer.safetensors");
        if opt_path.exists() {
            let state = optimizer_state_from_bytes(&opt_path, &crate::io::read_file(&opt_path)?, model)?;
            opt.set_state(state);
        }
        let mut metrics = self.metrics()?;
        if metrics.len() < meta.epoch {
            let why = format!(
                "holds {} epochs, but last.safetensors was saved after {}: the folder was changed by hand \
                 (the two are committed together)",
                metrics.len(),
                meta.epoch
            );
            return Err(Error::file(self.file("metrics.jsonl"), why));
        }
        metrics.truncate(meta.epoch);
        Ok((metrics, (meta.step, meta.so_far)))
    }

    /// Stages the model and optimiser state as `last`.
    fn stage_last(
        &self,
        staged: &mut Staged,
        model: &mut Model,
        opt: &dyn Optimizer,
        meta: &CheckpointMeta,
    ) -> Result<()> {
        staged.write("last.safetensors", |path| checkpoint::save(path, model, meta))?;
        let state: Vec<_> = opt.state().into_iter().map(|(k, v)| (k, vec![v.len()], v, StateKind::Buffer)).collect();
        staged.write("optimizer.safetensors", |path| checkpoint::write_tensors(path, &state, HashMap::new()))
    }

    /// Saves the model and optimiser state as `last`, committed together (on Ctrl-C).
    pub fn save_last(&self, model: &mut Model, opt: &dyn Optimizer, meta: &CheckpointMeta) -> Result<()> {
        let mut staged = Staged::new(&self.path);
        self.stage_last(&mut staged, model, opt, meta)?;
        staged.commit()
    }

    /// After an epoch: the checkpoints (best too when `best`) and the
    /// metrics, committed at one point (a crash leaves the folder at this
    /// epoch or the one before, never between); then the curves.
    pub fn record_epoch(
        &self,
        model: &mut Model,
        opt: &dyn Optimizer,
        meta: &CheckpointMeta,
        history: &[EpochMetrics],
        best: bool,
    ) -> Result<()> {
        let mut staged = Staged::new(&self.path);
        self.stage_last(&mut staged, model, opt, meta)?;
        if best {
            staged.write("best.safetensors", |path| checkpoint::save(path, model, meta))?;
        }
        let lines: Vec<String> = history.iter().map(|m| serde_json::to_string(m).expect("numbers serialise")).collect();
        let text = lines.join("\n") + "\n";
        staged.write("metrics.jsonl", |path| write_atomic(path, |w| w.write_all(text.as_bytes())))?;
        staged.commit()?;
        save_png(&self.file("curves.png"), &curves_image(history))
    }
}

// ANCHOR: curves
/// Loss and accuracy per epoch, training and validation, side by side.
pub fn curves_image(history: &[EpochMetrics]) -> image::RgbImage {
    // epochs without a measurement (NaN) are left out
    let series = |f: fn(&EpochMetrics) -> f64| {
        history.iter().map(|m| (m.epoch as f64, f(m))).filter(|(_, v)| v.is_finite()).collect::<Vec<_>>()
    };
    let loss = LinePlot::new("Loss", "epoch", "cross-entropy")
        .with("train", series(|m| m.train_loss))
        .with("validation", series(|m| m.val_loss));
    let mut acc = LinePlot::new("Accuracy", "epoch", "accuracy %")
        .with("train", series(|m| 100.0 * m.train_accuracy))
        .with("validation", series(|m| 100.0 * m.val_accuracy));
    acc.y_range = Some((0.0, 100.0));
    let (left, right) = (loss.render(480, 360), acc.render(480, 360));
    let mut canvas = Canvas::new(960, 360);
    image::imageops::replace(&mut canvas.image, &left, 0, 0);
    image::imageops::replace(&mut canvas.image, &right, 480, 0);
    canvas.image
}
// ANCHOR_END: curves

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(epoch: usize, seconds: f64) -> EpochMetrics {
        EpochMetrics { epoch, seconds, ..Default::default() }
    }

    #[test]
    fn time_left_is_the_median_recent_epoch_times_the_epochs_to_go() {
        // the last five epochs took 80–100 s, one 400 s (a busy moment): the median is 90 s
        let history: Vec<EpochMetrics> =
            [500.0, 80.0, 90.0, 400.0, 100.0, 85.0].iter().enumerate().map(|(i, &s)| epoch(i + 1, s)).collect();
        assert_eq!(time_left(&history, 182).as_deref(), Some("≈ 4 h 24 min left")); // 176 × 90 s
        assert_eq!(time_left(&history, 10).as_deref(), Some("≈ 6 min left"));
        assert_eq!(time_left(&history[..1], 2).as_deref(), Some("≈ 8 min left"));
        assert_eq!(time_left(&[epoch(1, 20.0)], 2).as_deref(), Some("< 1 min left"));
        assert_eq!(time_left(&history, 6), None);
        assert_eq!(time_left(&[], 6), None);
    }
}
