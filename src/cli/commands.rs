//! What each subcommand does.

use super::TrainArgs;
use cnnlab::data::augment::Augment;
use cnnlab::data::preprocess::Normalization;
use cnnlab::eval::{evaluate, predict, roc_image, Evaluation, TestTimeAugmentation};
use cnnlab::io::{save_png, write_atomic, Error, Result};
use cnnlab::models::Arch;
use cnnlab::train::{self, Outcome, RunDir, TrainConfig};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by Ctrl-C (SIGINT), or by SIGTERM or SIGHUP (a job scheduler's or a
/// closing terminal's stop); a second signal exits at once.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_ctrlc() {
    let _ = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping: saving a checkpoint after this step (Ctrl-C again to quit at once)");
    });
}

/// The Ctrl-C flag, with the handler installed (for commands that train).
pub fn stop_flag() -> &'static AtomicBool {
    install_ctrlc();
    &STOP
}

/// `cnnlab perceive train` (Ctrl-C saves the decoder, as training does).
pub fn perceive_train(args: super::perceive::TrainArgs) -> Result<i32> {
    install_ctrlc();
    super::perceive::train_command(args, &STOP)
}

/// The run's configuration: the recipe's (`--recipe fast94`) or the plain
/// defaults, with every option given on the command line applied on top.
pub fn config_from(args: &TrainArgs) -> Result<TrainConfig> {
    if let (None, Some((_, flag))) = (&args.recipe, recipe_flags(args).iter().find(|(given, _)| *given)) {
        return Err(Error::msg(format!("{flag} belongs to a recipe: add --recipe fast94")));
    }
    let data = args.data.clone();
    let mut cfg = match args.recipe.as_deref() {
        Some(_) => train::fast::recipe_config(data.as_deref().unwrap_or("cifar10"), args.seed),
        None => TrainConfig {
            data: data.clone().unwrap_or_else(|| "shapes".into()),
            model: Arch::SmallCnn.name().into(),
            epochs: 10,
            batch: 128,
            lr: 0.05,
            optimizer: "sgd".into(),
            weight_decay: 5e-4,
            schedule: "onecycle".into(),
            label_smoothing: 0.0,
            normalization: args.normalization,
            augment: Augment::none(),
            seed: args.seed,
            limit: None,
            val: None,
            fast: None,
            task: Default::default(),
            alpha: 0.5,
            box_loss: Default::default(),
            init_from: None,
            attention_separability: 0.0,
        },
    };
    if let Some(m) = args.model {
        cfg.model = m.name().into();
    }
    cfg.epochs = args.epochs.unwrap_or(cfg.epochs);
    cfg.batch = args.batch.unwrap_or(cfg.batch);
    cfg.lr = args.lr.unwrap_or(cfg.lr);
    cfg.optimizer = args.optimizer.clone().unwrap_or(cfg.optimizer);
    cfg.weight_decay = args.weight_decay.unwrap_or(cfg.weight_decay);
    cfg.schedule = args.schedule.clone().unwrap_or(cfg.schedule);
    cfg.label_smoothing = args.label_smoothing.unwrap_or(cfg.label_smoothing);
    cfg.normalization = args.normalization;
    cfg.augment.crop_padding = args.crop_padding;
    cfg.augment.cutout = args.cutout;
    if let Some(flip) = args.flip.as_deref() {
        (cfg.augment.flip, cfg.augment.alternate_flip) = (flip != "none", flip == "alternate");
    }
    cfg.augment.translate = args.translate.unwrap_or(cfg.augment.translate);
    if let Some(border) = args.border.as_deref() {
        cfg.augment.reflect = border == "reflect";
    }
    if args.task != cnnlab::regression::Task::Localize {
        let given = [(args.alpha != 0.5, "--alpha"), (args.box_loss != Default::default(), "--box-loss")];
        if let Some((_, flag)) = given.iter().find(|(set, _)| *set) {
            return Err(Error::msg(format!("{flag} applies to --task localize only")));
        }
    }
    (cfg.task, cfg.alpha, cfg.box_loss, cfg.init_from) = (args.task, args.alpha, args.box_loss, args.init_from.clone());
    cfg.limit = args.limit;
    cfg.attention_separability = args.attention_separability;
    cfg.val = args.val.or(cfg.val);
    if let Some(fast) = cfg.fast.as_mut() {
        fast.whiten = !args.no_whiten;
        fast.whiten_bias_epochs = args.whiten_bias_epochs;
        fast.dirac = !args.no_dirac;
        fast.lookahead = !args.no_lookahead;
        fast.momentum = args.momentum;
        fast.bn_bias_lr_scale = args.bn_bias_lr_scale;
        fast.tta = args.tta;
    }
    Ok(cfg)
}

/// The recipe-only options, each with whether it was given on the command
/// line (a value other than the recipe's own).
fn recipe_flags(args: &TrainArgs) -> [(bool, &'static str); 7] {
    let recipe = train::fast::FastRecipe::default();
    [
        (args.no_whiten, "--no-whiten"),
        (args.no_dirac, "--no-dirac"),
        (args.no_lookahead, "--no-lookahead"),
        (args.whiten_bias_epochs != recipe.whiten_bias_epochs, "--whiten-bias-epochs"),
        (args.momentum != recipe.momentum, "--momentum"),
        (args.bn_bias_lr_scale != recipe.bn_bias_lr_scale, "--bn-bias-lr-scale"),
        (args.tta != recipe.tta, "--tta"),
    ]
}

/// The first training option other than --epochs, --out and --resume given
/// on the command line (a value other than the default).
fn set_on_the_command_line(args: &TrainArgs) -> Option<&'static str> {
    let given = [
        (args.recipe.is_some(), "--recipe"),
        (args.data.is_some(), "--data"),
        (args.model.is_some(), "--model"),
        (args.batch.is_some(), "--batch"),
        (args.lr.is_some(), "--lr"),
        (args.optimizer.is_some(), "--optimizer"),
        (args.weight_decay.is_some(), "--weight-decay"),
        (args.schedule.is_some(), "--schedule"),
        (args.label_smoothing.is_some(), "--label-smoothing"),
        (args.normalization != Normalization::ChannelMeanStd, "--normalization"),
        (args.crop_padding != 0, "--crop-padding"),
        (args.flip.is_some(), "--flip"),
        (args.translate.is_some(), "--translate"),
        (args.border.is_some(), "--border"),
        (args.cutout != 0, "--cutout"),
        (args.seed != 0, "--seed"),
        (args.limit.is_some(), "--limit"),
        (args.attention_separability != 0.0, "--attention-separability"),
        (args.val.is_some(), "--val"),
        (args.task != Default::default(), "--task"),
        (args.alpha != 0.5, "--alpha"),
        (args.box_loss != Default::default(), "--box-loss"),
        (args.init_from.is_some(), "--init-from"),
    ];
    given.iter().chain(&recipe_flags(args)).find(|(set, _)| *set).map(|(_, flag)| *flag)
}

/// `cnnlab train`.
pub fn train(args: TrainArgs) -> Result<i32> {
    let run = RunDir::new(&args.out);
    let cfg = if args.resume {
        if let Some(flag) = set_on_the_command_line(&args) {
            return Err(Error::msg(format!(
                "{flag} with --resume: a resumed run continues with the settings in {} \
                 (only --epochs may extend it); start a new run with --out to change them",
                run.path.join("config.json").display()
            )));
        }
        let mut saved = run.config()?;
        saved.epochs = saved.epochs.max(args.epochs.unwrap_or(0)); // resuming may extend a run
        saved
    } else {
        config_from(&args)?
    };
    install_ctrlc();
    match train::train(&cfg, &run, args.resume, &STOP)? {
        Outcome::Finished => {
            println!("done: {}", run.path.display());
            Ok(0)
        }
        Outcome::Interrupted(epoch) => {
            println!(
                "interrupted in epoch {}: saved {}; continue with --resume --out {}",
                epoch + 1,
                run.path.join("last.safetensors").display(),
                run.path.display()
            );
            Ok(130)
        }
    }
}

/// What `cnnlab eval` measures: which data, which checkpoint, which views of each image.
#[derive(Default)]
pub struct EvalOptions {
    /// Other data than the run's own (same classes and image size).
    pub data: Option<String>,
    /// The last checkpoint instead of the best one.
    pub last: bool,
    /// Test-time augmentation.
    pub tta: TestTimeAugmentation,
}

/// An evaluation with the checkpoint and test-time augmentation that produced it (eval.json).
#[derive(serde::Serialize)]
pub struct EvalReport {
    /// What was measured.
    #[serde(flatten)]
    pub evaluation: Evaluation,
    /// The checkpoint file evaluated.
    pub checkpoint: String,
    /// The data whose test split was evaluated (`--data`, or the run's own).
    pub data: String,
    /// The test-time augmentation used.
    pub tta: TestTimeAugmentation,
    /// Where confusion.png and eval.json went.
    #[serde(skip)]
    pub out: std::path::PathBuf,
}

/// Evaluates a run on its test split (or `data`), writes pictures and eval.json, returns the evaluation.
pub fn evaluate_run(run_path: &Path, options: &EvalOptions) -> Result<EvalReport> {
    let (mut model, meta, test, checkpoint) =
        super::explain::load_run_with_test(run_path, options.data.as_deref(), options.last)?;
    // a run folder gets its report; shipped weights are not written into (runs/eval/NAME)
    let out = super::explain_images::default_out(run_path, "eval");
    let out = if run_path.join("config.json").exists() { run_path.to_path_buf() } else { out };
    let _lock = super::explain_images::lock_output(run_path, &out)?;
    let probs = predict(&mut model, &test, &meta.preprocessing, 256, options.tta);
    let evaluation = evaluate(&probs, &test.labels, &meta.classes);
    save_png(&out.join("confusion.png"), &evaluation.confusion_image())?;
    if let Some(roc) = &evaluation.roc {
        save_png(&out.join("roc.png"), &roc_image(roc))?;
    }
    let file_name = checkpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let data = super::explain::data_name(run_path, options.data.as_deref());
    let report = EvalReport { evaluation, checkpoint: file_name, data, tta: options.tta, out: out.clone() };
    let json = serde_json::to_string_pretty(&report).expect("plain data serialises");
    write_atomic(&out.join("eval.json"), |w| w.write_all(json.as_bytes()))?;
    Ok(report)
}

/// Prints an evaluation as text.
fn print_evaluation(e: &Evaluation) {
    println!("accuracy {:.2}%  (mean cross-entropy {:.4})", 100.0 * e.accuracy, e.loss);
    for (name, acc) in e.classes.iter().zip(&e.per_class_accuracy) {
        println!("  {name:>12}: {:6.2}%", 100.0 * acc);
    }
    println!("{}", e.confusion_text());
    if let Some(roc) = &e.roc {
        println!(
            "ROC: AUC {:.4}; Γ = {:.4} (closest to (0,1)): FPR {:.4}, TPR {:.4}",
            roc.auc, roc.gamma, roc.fpr_at_gamma, roc.tpr_at_gamma
        );
    }
}

/// `cnnlab eval`.
pub fn eval(run: &Path, options: &EvalOptions, json: bool) -> Result<i32> {
    if super::regression::task_of(run, options.last)? != cnnlab::regression::Task::Classify {
        if options.tta != TestTimeAugmentation::None {
            return Err(Error::msg(
                "--tta: test-time augmentation averages class probabilities; only classifiers have it",
            ));
        }
        return super::regression::eval(run, options.data.as_deref(), options.last, json);
    }
    let report = evaluate_run(run, options)?;
    if json {
        let mut v = serde_json::to_value(&report).expect("plain data serialises");
        if let Some(roc) = v.get_mut("roc").and_then(|r| r.as_object_mut()) {
            roc.remove("points"); // keep the one-line object short; eval.json has them
        }
        println!("{v}");
    } else {
        println!("{} of {}, test-time augmentation: {}", report.checkpoint, run.display(), report.tta);
        print_evaluation(&report.evaluation);
        println!("wrote {} and eval.json", report.out.join("confusion.png").display());
    }
    Ok(0)
}

/// `cnnlab demo`.
pub fn demo(out: &Path) -> Result<i32> {
    let started = std::time::Instant::now();
    let run = RunDir::new(out);
    if out.join("config.json").exists() {
        return Err(Error::file(out, "already holds a run; remove it or pass another --out"));
    }
    let _lock = run.lock()?; // held while the demo trains, then explains into the run
    install_ctrlc();
    if let Outcome::Interrupted(_) = train::train(&TrainConfig::demo(), &run, false, &STOP)? {
        return Ok(130);
    }
    let e = evaluate_run(out, &EvalOptions::default())?.evaluation;
    print_evaluation(&e);
    let reports = super::explain::demo_explanations(out)?;
    print!("{}", cnnlab::localize::table(&reports));
    println!(
        "demo finished in {:.0} s: test accuracy {:.2}%; see {} (curves.png, confusion.png, explanations.png, \
         localization.md, metrics.jsonl, best.safetensors)",
        started.elapsed().as_secs_f64(),
        100.0 * e.accuracy,
        out.display()
    );
    Ok(0)
}

/// `cnnlab download`.
pub fn download(dataset: &str, dir: Option<std::path::PathBuf>, url: &str) -> Result<i32> {
    use cnnlab::data::download::{download, CIFAR10_FILE, CIFAR10_MD5};
    if dataset != "cifar10" {
        return Err(Error::msg(format!("download: unknown dataset '{dataset}'; only cifar10 can be downloaded")));
    }
    let dir = dir.unwrap_or_else(cnnlab::data::cifar::cache_dir);
    let path = download(url, &dir, CIFAR10_FILE, CIFAR10_MD5)?;
    println!("CIFAR-10 is at {} (MD5 verified); train with --data cifar10", path.display());
    Ok(0)
}

/// The per-op profile as a table: op, phase, ms per step, share of the step
/// (`what` names the step: a training step or an inference batch).
fn profile_table(rows: &[cnnlab::bench::ProfileRow], step_ms: f64, what: &str) -> String {
    let mut out = format!("\n{:<22} {:<9} {:>9} {:>7}\n", "op", "phase", "ms/step", "share");
    let line =
        |op: &str, phase: &str, ms: f64| format!("{op:<22} {phase:<9} {ms:>9.2} {:>6.1}%\n", 100.0 * ms / step_ms);
    for r in rows {
        out += &line(&r.op, &r.phase, r.ms_per_step);
    }
    let rest = step_ms - rows.iter().map(|r| r.ms_per_step).sum::<f64>();
    out += &line("(graph, glue)", "", rest);
    out + &line(what, "", step_ms)
}

/// `cnnlab bench`.
pub fn bench(model: Arch, batch: usize, steps: usize, threads: usize, json: bool, profile: bool) -> Result<i32> {
    cnnlab::bench::check_batch(model, batch)?;
    let r = cnnlab::bench::run(model, batch, steps, 2, threads, profile);
    if json {
        println!("{}", serde_json::to_string(&r).expect("plain numbers serialise"));
    } else {
        println!(
            "{} batch {} threads {} kernels {}: train {:.1} images/s, inference {:.1} images/s, peak RSS {:.0} MiB",
            r.model, r.batch, r.threads, r.kernels, r.train_images_per_sec, r.infer_images_per_sec, r.peak_rss_mb
        );
        if let Some(rows) = &r.profile {
            print!("{}", profile_table(rows, 1000.0 * r.batch as f64 / r.train_images_per_sec, "training step"));
        }
        if let Some(rows) = &r.infer_profile {
            print!("{}", profile_table(rows, 1000.0 * r.batch as f64 / r.infer_images_per_sec, "inference batch"));
        }
    }
    Ok(0)
}
