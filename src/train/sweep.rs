//! Choosing α of the multitask loss L = α·S + (1 − α)·R by a validation metric, never by the loss.
//!
//! S (a cross-entropy) and R (a box regression loss) are on different
//! scales, and α changes the scale of L itself: comparing loss values
//! across α compares numbers that mean different things. So every α gets
//! its own run, and the choice is made on held-out training images with a
//! metric of what we want — right class and a box with IoU ≥ 0.5.

use super::{load_run_model, prepare, train, Outcome, RunDir, TrainConfig};
use crate::io::{save_png, write_atomic, Error, Result};
use crate::regression::metrics::{localize_scores, outputs, LocalizeScores};
use crate::viz::plot::LinePlot;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// One α of the sweep and what its best checkpoint scored on the validation images.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AlphaPoint {
    /// α.
    pub alpha: f64,
    /// Validation scores of the run's best checkpoint.
    pub val: LocalizeScores,
    /// The run folder.
    pub run: String,
}

/// A finished sweep.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sweep {
    /// Every α tried, in order.
    pub points: Vec<AlphaPoint>,
    /// The chosen α.
    pub chosen: f64,
}

// ANCHOR: choose
/// The α with the highest validation correct localization (right class and
/// IoU ≥ 0.5); ties go to the higher mean IoU, then to the smaller α.
pub fn choose(points: &[AlphaPoint]) -> f64 {
    let key = |p: &AlphaPoint| (p.val.correct_localization, p.val.mean_iou);
    let better = |p: &AlphaPoint, b: &AlphaPoint| key(p) > key(b) || (key(p) == key(b) && p.alpha < b.alpha);
    let mut best: Option<&AlphaPoint> = None;
    for p in points {
        if best.is_none_or(|b| better(p, b)) {
            best = Some(p);
        }
    }
    best.map_or(0.5, |p| p.alpha)
}
// ANCHOR_END: choose

/// Trains `base` (a localize config) once per α into `out/alpha-A`, scores
/// each best checkpoint on the validation images, chooses α, and writes
/// `sweep.json`, `sweep.md` and `alpha.png` (the validation metrics against α).
/// A folder whose run already finished is scored again, not retrained.
pub fn sweep_alpha(base: &TrainConfig, alphas: &[f64], out: &Path, stop: &AtomicBool) -> Result<Sweep> {
    if alphas.is_empty() {
        return Err(Error::msg("--alphas: give at least one α"));
    }
    if let Some(bad) = alphas.iter().find(|a| !(0.0..=1.0).contains(*a)) {
        return Err(Error::msg(format!("--alphas: {bad} is outside [0, 1]")));
    }
    let val = prepare(base)?.val;
    let mut points = Vec::new();
    for &alpha in alphas {
        let cfg = TrainConfig { alpha, ..base.clone() };
        let run = RunDir::new(out.join(format!("alpha-{alpha:.2}")));
        let finished = run.path.join("config.json").exists()
            && run.config().is_ok_and(|c| c == cfg)
            && run.metrics().is_ok_and(|m| m.len() == cfg.epochs);
        if !finished {
            let resume = run.path.join("last.safetensors").exists() && run.config().is_ok_and(|c| c == cfg);
            if !resume && run.path.exists() {
                return Err(Error::file(&run.path, "holds another run; remove it or choose another --out"));
            }
            if let Outcome::Interrupted(_) = train(&cfg, &run, resume, stop)? {
                return Err(Error::file(&run.path, "interrupted; run the same command again to continue the sweep"));
            }
        }
        let (mut model, meta) = load_run_model(&run)?;
        let scores = localize_scores(&outputs(&mut model, &val, &meta.preprocessing, 256), &val);
        points.push(AlphaPoint { alpha, val: scores, run: run.path.display().to_string() });
    }
    let sweep = Sweep { chosen: choose(&points), points };
    let json = serde_json::to_string_pretty(&sweep).expect("plain data serialises");
    write_atomic(&out.join("sweep.json"), |w| w.write_all(json.as_bytes()))?;
    write_atomic(&out.join("sweep.md"), |w| w.write_all(sweep.table().as_bytes()))?;
    save_png(&out.join("alpha.png"), &sweep.plot())?;
    Ok(sweep)
}

impl Sweep {
    /// The validation scores per α, as a Markdown table.
    pub fn table(&self) -> String {
        let mut out =
            String::from("| α | accuracy | mean IoU | IoU ≥ 0.5 | correct localization |\n|---|---|---|---|---|\n");
        for p in &self.points {
            let mark = if p.alpha == self.chosen { " (chosen)" } else { "" };
            out += &format!(
                "| {:.2}{mark} | {:.1}% | {:.3} | {:.1}% | {:.1}% |\n",
                p.alpha,
                100.0 * p.val.accuracy,
                p.val.mean_iou,
                100.0 * p.val.iou_at_least_half,
                100.0 * p.val.correct_localization
            );
        }
        out
    }

    /// Accuracy, mean IoU and correct localization on the validation images
    /// against α (the plot's font has no Greek letters: "alpha").
    pub fn plot(&self) -> image::RgbImage {
        let series = |f: fn(&LocalizeScores) -> f64| self.points.iter().map(|p| (p.alpha, f(&p.val))).collect();
        LinePlot::new("validation scores against alpha (L = alpha S + (1 - alpha) R)", "alpha", "score")
            .with("class accuracy", series(|s| s.accuracy))
            .with("mean IoU", series(|s| s.mean_iou))
            .with("correct localization", series(|s| s.correct_localization))
            .render(640, 400)
    }
}
