//! `cnnlab eval` and `cnnlab localize` on localize and pose runs, and `cnnlab sweep-alpha`.

use super::explain::{data_name, load_any_run, localize_reports, LocalizeArgs};
use cnnlab::data::augment::Augment;
use cnnlab::data::Dataset;
use cnnlab::eval::{evaluate, predict, TestTimeAugmentation};
use cnnlab::io::{save_png, write_atomic, Error, Result};
use cnnlab::regression::{draw, metrics, Task};
use std::path::{Path, PathBuf};

/// The task a run (or checkpoint) was trained for, read from its checkpoint.
pub fn task_of(run: &Path, last: bool) -> Result<Task> {
    Ok(cnnlab::train::load_for_inference(run, last)?.1.task)
}

/// What `eval` measured on a localize or pose network (eval.json).
#[derive(serde::Serialize)]
struct RegressionReport {
    task: Task,
    checkpoint: String,
    data: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    localize: Option<metrics::LocalizeScores>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pose: Option<metrics::PoseScores>,
}

/// `cnnlab eval` on a localize or pose run: the task's scores, eval.json, and
/// a picture of the first eight test images (boxes.png or skeletons.png).
pub fn eval(run: &Path, data: Option<&str>, last: bool, json: bool) -> Result<i32> {
    let (mut model, meta, test, checkpoint) = load_any_run(run, data, last, "test")?;
    let data_name = data_name(run, data);
    meta.task.check(&test, &data_name, &Augment::none())?;
    let out = super::explain_images::default_out(run, "eval");
    let out = if run.join("config.json").exists() { run.to_path_buf() } else { out };
    let _lock = super::explain_images::lock_output(run, &out)?;
    let outputs = metrics::outputs(&mut model, &test, &meta.preprocessing, 256);
    let first: Vec<usize> = (0..test.len().min(8)).collect();
    let mut report = RegressionReport {
        task: meta.task,
        checkpoint: checkpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        data: data_name,
        localize: None,
        pose: None,
    };
    let picture = match meta.task {
        Task::Localize => {
            report.localize = Some(metrics::localize_scores(&outputs, &test));
            save_png(&out.join("boxes.png"), &draw::boxes_row(&test, &outputs, &first, 4))?;
            out.join("boxes.png")
        }
        Task::Pose => {
            report.pose = Some(metrics::pose_scores(&outputs, &test));
            save_png(&out.join("skeletons.png"), &draw::skeletons_rows(&test, &outputs, &first, 4))?;
            out.join("skeletons.png")
        }
        Task::Classify => unreachable!("classifiers are evaluated by commands::eval"),
    };
    let text = serde_json::to_string_pretty(&report).expect("plain data serialises");
    write_atomic(&out.join("eval.json"), |w| w.write_all(text.as_bytes()))?;
    if json {
        println!("{}", serde_json::to_string(&report).expect("plain data serialises"));
        return Ok(0);
    }
    println!("{} of {}, task {}, {} test images", report.checkpoint, run.display(), meta.task, test.len());
    if let Some(s) = &report.localize {
        print_localize(s);
    }
    if let Some(s) = &report.pose {
        print_pose(s);
    }
    println!("wrote {} and eval.json", picture.display());
    Ok(0)
}

fn print_localize(s: &metrics::LocalizeScores) {
    println!(
        "accuracy {:.2}%  mean IoU {:.3}  IoU >= 0.5 {:.2}%  correct localization (class and IoU >= 0.5) {:.2}%",
        100.0 * s.accuracy,
        s.mean_iou,
        100.0 * s.iou_at_least_half,
        100.0 * s.correct_localization
    );
}

fn print_pose(s: &metrics::PoseScores) {
    println!(
        "PCK@0.2 {:.2}%  PCKh@0.5 {:.2}%  mean joint error {:.2} px",
        100.0 * s.pck_02,
        100.0 * s.pckh_05,
        s.mean_error_px
    );
    println!("  {:>15}  {:>8}  {:>9}", "joint", "PCK@0.2", "error px");
    for (name, pck, err) in &s.per_joint {
        println!("  {name:>15}  {:>7.2}%  {err:>9.2}", 100.0 * pck);
    }
}

/// One row of the supervised-against-weakly-supervised table.
#[derive(serde::Serialize)]
pub struct BoxRow {
    /// Where the boxes come from.
    pub boxes: String,
    /// What the network was trained with.
    pub supervision: String,
    /// Class accuracy of the network.
    pub accuracy: f64,
    /// Mean IoU with the true boxes.
    pub mean_iou: f64,
    /// Share with IoU ≥ 0.5.
    pub iou_at_least_half: f64,
    /// Right class and IoU ≥ 0.5.
    pub correct_localization: f64,
}

/// `cnnlab localize` on a localize run: its regressed boxes scored on the
/// test images, and with `compare` (a classify-only run) the boxes its
/// saliency maps give on the same images, in one table.
pub fn localize(args: &LocalizeArgs, compare: Option<&Path>) -> Result<i32> {
    let (mut model, meta, test, _) = load_any_run(&args.run, args.data.as_deref(), false, "test")?;
    if meta.task != Task::Localize {
        let why = format!("was trained for --task {}; localize needs a classifier or a localize run", meta.task);
        return Err(Error::file(&args.run, why));
    }
    meta.task.check(&test, &data_name(&args.run, args.data.as_deref()), &Augment::none())?;
    let test = first(&test, args.limit);
    let outputs = metrics::outputs(&mut model, &test, &meta.preprocessing, 256);
    let s = metrics::localize_scores(&outputs, &test);
    let mut rows = vec![BoxRow {
        boxes: format!("box head of {}", args.run.display()),
        supervision: "classes and boxes".into(),
        accuracy: s.accuracy,
        mean_iou: s.mean_iou,
        iou_at_least_half: s.iou_at_least_half,
        correct_localization: s.correct_localization,
    }];
    if let Some(weak) = compare {
        rows.extend(weak_rows(args, weak, &test)?);
    }
    if args.json {
        println!("{}", serde_json::to_string(&rows).expect("plain data serialises"));
    } else {
        print!("{}", box_table(&rows, test.len()));
    }
    Ok(0)
}

/// The first `limit` images of `data` (all without a limit).
fn first(data: &Dataset, limit: Option<usize>) -> Dataset {
    let n = limit.unwrap_or(usize::MAX).min(data.len());
    data.select(&(0..n).collect::<Vec<_>>())
}

/// The rows of the classify-only run `weak`: one per saliency method, at the
/// threshold calibrated on its held-out images when it has them.
fn weak_rows(args: &LocalizeArgs, weak: &Path, test: &Dataset) -> Result<Vec<BoxRow>> {
    let weak_args = LocalizeArgs { run: weak.to_path_buf(), perturb_limit: Some(1), ..args.clone() };
    let reports = localize_reports(&weak_args, !args.json)?;
    let (mut model, meta, _, _) = super::explain::load_run_with_test(weak, args.data.as_deref(), false)?;
    let probs = predict(&mut model, test, &meta.preprocessing, 256, TestTimeAugmentation::None);
    let accuracy = evaluate(&probs, &test.labels, &meta.classes).accuracy;
    Ok(reports
        .iter()
        .map(|r| {
            let tau = r.calibrated_threshold.unwrap_or(r.threshold);
            BoxRow {
                boxes: format!("{} of {} (τ = {tau:.2})", r.method, weak.display()),
                supervision: "classes only".into(),
                accuracy,
                mean_iou: r.mean_iou_calibrated.unwrap_or(r.mean_iou),
                iou_at_least_half: r.gt_known_loc_calibrated.unwrap_or(r.gt_known_loc),
                correct_localization: r.top1_loc_calibrated.unwrap_or(r.top1_loc),
            }
        })
        .collect())
}

/// The rows as a Markdown table.
pub fn box_table(rows: &[BoxRow], images: usize) -> String {
    let mut out = format!(
        "{images} test images\n\n| boxes | trained with | accuracy | mean IoU | IoU ≥ 0.5 | correct localization |\n\
         |---|---|---|---|---|---|\n"
    );
    for r in rows {
        out += &format!(
            "| {} | {} | {:.1}% | {:.3} | {:.1}% | {:.1}% |\n",
            r.boxes,
            r.supervision,
            100.0 * r.accuracy,
            r.mean_iou,
            100.0 * r.iou_at_least_half,
            100.0 * r.correct_localization
        );
    }
    out
}

/// Where `sweep-alpha` writes, and the α values it tries.
pub struct SweepArgs {
    /// The base training options (the task must be localize).
    pub train: super::TrainArgs,
    /// The grid of α.
    pub alphas: Vec<f64>,
}

/// `cnnlab sweep-alpha`: one run per α under --out, α chosen on validation images.
pub fn sweep_alpha(args: SweepArgs) -> Result<i32> {
    let mut train_args = args.train.clone();
    train_args.task = Task::Localize;
    let cfg = super::commands::config_from(&train_args)?;
    if cfg.validates_on_test() {
        return Err(Error::msg("--val 0: α must be chosen on held-out training images, never on the test split"));
    }
    let out: PathBuf = args.train.out.clone();
    let sweep = cnnlab::train::sweep::sweep_alpha(&cfg, &args.alphas, &out, super::commands::stop_flag())?;
    print!("{}", sweep.table());
    println!(
        "chosen α = {} (highest validation correct localization, ties to the higher mean IoU); \
         wrote {} and {}",
        sweep.chosen,
        out.join("sweep.md").display(),
        out.join("alpha.png").display()
    );
    Ok(0)
}
