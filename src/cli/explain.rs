//! `cnnlab localize` and the demo's explanations: saliency maps of a trained run as localization scores and pictures.

use cnnlab::checkpoint::CheckpointMeta;
use cnnlab::data::Dataset;
use cnnlab::explain::grid::explanation_grids;
use cnnlab::explain::{Method, Options, RiseOptions};
use cnnlab::io::{save_png, write_atomic, Error, Result};
use cnnlab::localize::{localize, table, LocalizeOptions, Report};
use cnnlab::models::Model;
use cnnlab::train::{self, RunDir};
use cnnlab::viz::heatmap::Colormap;
use std::path::{Path, PathBuf};

/// The methods named on the command line.
#[derive(Clone, Debug)]
pub struct Methods(pub Vec<Method>);

/// A method name or `all`.
pub fn parse_methods(s: &str) -> std::result::Result<Methods, String> {
    if s == "all" {
        return Ok(Methods(Method::ALL.to_vec()));
    }
    s.parse::<Method>().map(|m| Methods(vec![m])).map_err(|e| format!("{} (or all)", e.message))
}

/// A run's model (its best checkpoint, or its last if `last`; see
/// [`train::checkpoint_path`]), its metadata, its test split (or `data`'s;
/// the training split is not read), and the checkpoint file it came from.
pub fn load_run_with_test(
    run_path: &Path,
    data: Option<&str>,
    last: bool,
) -> Result<(Model, CheckpointMeta, Dataset, PathBuf)> {
    load_run_with_split(run_path, data, last, "test")
}

/// As [`load_run_with_test`], with the split named: `test` (read alone) or `train`.
///
/// # Errors
/// Another split name, data that cannot be read, or data whose classes or
/// image size differ from the model's.
pub fn load_run_with_split(
    run_path: &Path,
    data: Option<&str>,
    last: bool,
    split: &str,
) -> Result<(Model, CheckpointMeta, Dataset, PathBuf)> {
    let loaded = load_any_run(run_path, data, last, split)?;
    loaded.1.require_classifier(&loaded.3, "this command")?;
    Ok(loaded)
}

/// A classifier for commands that need no data: [`train::load_for_inference`]
/// with a clear error for a localize or pose network.
pub fn load_classifier(run: &Path, last: bool) -> Result<(Model, CheckpointMeta, PathBuf)> {
    let loaded = train::load_for_inference(run, last)?;
    loaded.1.require_classifier(&loaded.2, "this command")?;
    Ok(loaded)
}

/// As [`load_run_with_split`], for a network of any task (eval).
pub fn load_any_run(
    run_path: &Path,
    data: Option<&str>,
    last: bool,
    split: &str,
) -> Result<(Model, CheckpointMeta, Dataset, PathBuf)> {
    let (model, meta, checkpoint, spec, seed) = if run_path.join("config.json").exists() {
        let run = RunDir::new(run_path);
        let cfg = run.config()?;
        let checkpoint = train::checkpoint_path(&run, &cfg, last)?;
        let (model, meta) = cnnlab::checkpoint::load(&checkpoint)?;
        (model, meta, checkpoint, data.unwrap_or(&cfg.data).parse()?, cfg.seed)
    } else {
        // shipped weights or a checkpoint file: the data must be named
        let (model, meta, checkpoint) = train::load_for_inference(run_path, last)?;
        let data = data.ok_or_else(|| {
            Error::file(
                run_path,
                "is not a training run folder, so it does not say which data it was trained on: add --data",
            )
        })?;
        (model, meta, checkpoint, data.parse()?, 0)
    };
    let images = match split {
        "test" => cnnlab::data::load_test(&spec, seed)?,
        "train" => cnnlab::data::load(&spec, seed)?.train,
        other => return Err(Error::msg(format!("--split {other}: choose test or train"))),
    };
    if images.shape != meta.input || images.classes.len() != meta.classes.len() {
        return Err(Error::msg(format!(
            "--data: {spec} has {} classes of {:?} images, but the model was trained on {} classes of {:?}",
            images.classes.len(),
            images.shape,
            meta.classes.len(),
            meta.input
        )));
    }
    if let Some(k) = (0..meta.classes.len()).find(|&k| images.classes[k] != meta.classes[k]) {
        // labels are compared by index: other names would score one class against another
        return Err(Error::msg(format!(
            "--data: class {k} of {spec} is '{}', but the model's class {k} is '{}' \
             (its classes: {}); evaluate it on the data it was trained on",
            images.classes[k],
            meta.classes[k],
            meta.classes.join(", ")
        )));
    }
    Ok((model, meta, images, checkpoint))
}

/// The data a command reads: `--data` if given, else the run's own.
pub fn data_name(run: &Path, data: Option<&str>) -> String {
    match data {
        Some(d) => d.to_string(),
        None => RunDir::new(run).config().map(|c| c.data).unwrap_or_else(|_| "(the run's)".into()),
    }
}

/// Options of `cnnlab localize`.
#[derive(Clone)]
pub struct LocalizeArgs {
    pub run: PathBuf,
    pub methods: Vec<Method>,
    pub layer: Option<String>,
    pub limit: Option<usize>,
    pub perturb_limit: Option<usize>,
    pub threshold: Option<f32>,
    pub json: bool,
    pub data: Option<String>,
    pub rise: RiseOptions,
}

/// Runs the localization benchmark; returns the reports (also used by the demo).
pub fn localize_reports(args: &LocalizeArgs, progress: bool) -> Result<Vec<Report>> {
    let (mut model, meta, test, _) = load_run_with_test(&args.run, args.data.as_deref(), false)?;
    // the threshold is calibrated on the run's held-out validation images, never on test images
    let cfg = RunDir::new(&args.run).config()?;
    let held_out = match (&args.data, cfg.val) {
        (None, None) | (None, Some(1..)) => Some(train::prepare(&cfg)?.val),
        _ => None,
    };
    let opts = Options { layer: args.layer.clone(), rise: args.rise, ..Options::default() };
    let lo = LocalizeOptions {
        threshold: args.threshold,
        limit: args.limit,
        perturb_limit: args.perturb_limit,
        ..LocalizeOptions::default()
    };
    let mut reports = Vec::new();
    for &method in &args.methods {
        if progress {
            eprintln!("localize: {method} …");
        }
        reports.push(localize(&mut model, &test, &meta.preprocessing, method, &opts, &lo, held_out.as_ref())?);
    }
    Ok(reports)
}

/// `cnnlab localize`.
pub fn localize_command(args: LocalizeArgs) -> Result<i32> {
    let reports = localize_reports(&args, !args.json)?;
    let json = if reports.len() == 1 { serde_json::to_string(&reports[0]) } else { serde_json::to_string(&reports) }
        .expect("plain data serialises");
    if args.json {
        println!("{json}");
    } else {
        print!("{}", table(&reports));
    }
    Ok(0)
}

/// Test images the demo's localization table uses, per method: the costly
/// methods (20 noisy copies, 16 augmentations, hundreds of masks) get fewer.
fn demo_limit(method: Method) -> usize {
    match method {
        Method::SmoothGradCamPlusPlus => 60,
        Method::AugmentedGradCam => 80,
        Method::Rise => 12,
        _ => 300,
    }
}

/// The demo's explanation pictures and localization table, written into the run folder.
pub fn demo_explanations(run: &Path) -> Result<Vec<Report>> {
    // the demo's own data: one load gives the test split and the held-out images
    let run_dir = RunDir::new(run);
    let (mut model, meta) = train::load_run_model(&run_dir)?;
    let prepared = train::prepare(&run_dir.config()?)?;
    let (test, held_out) = (prepared.test, prepared.val);
    let opts = Options { rise: RiseOptions { masks: 300, ..RiseOptions::default() }, ..Options::default() };
    let mut reports = Vec::new();
    for method in Method::ALL {
        let limit = demo_limit(method);
        let lo = LocalizeOptions {
            limit: Some(limit),
            perturb_limit: Some(limit / 4),
            calibration_images: limit,
            ..LocalizeOptions::default()
        };
        eprintln!("localize: {method} on {limit} test images …");
        reports.push(localize(&mut model, &test, &meta.preprocessing, method, &opts, &lo, Some(&held_out))?);
    }
    let text = format!(
        "# Localization on shapes (cnnlab demo)\n\n{}\nτ: fraction of the map's maximum. The first columns use the \
         lecture's τ (0.20 for CAM, 0.15 otherwise); \"calibrated τ\" is the best τ on as many held-out training \
         images; MaxBoxAcc picks the best τ on the test images themselves. Deletion/insertion over the first quarter \
         of the images. RISE uses 300 masks.\n",
        table(&reports)
    );
    write_atomic(&run.join("localization.md"), |w| w.write_all(text.as_bytes()))?;
    let json = serde_json::to_string_pretty(&reports).expect("plain data serialises");
    write_atomic(&run.join("localization.json"), |w| w.write_all(json.as_bytes()))?;
    // one test image of each of the first six classes, boxes at the calibrated thresholds
    let indices: Vec<usize> = (0..6).filter_map(|c| test.labels.iter().position(|&l| l == c)).collect();
    let methods: Vec<_> = Method::ALL.iter().zip(&reports).map(|(&m, r)| (m, r.calibrated_threshold)).collect();
    let colormaps = [Colormap::Viridis, Colormap::Jet];
    let grids = explanation_grids(&mut model, &test, &meta.preprocessing, &indices, &methods, &opts, (&colormaps, 5))?;
    save_png(&run.join("explanations.png"), &grids[0])?;
    save_png(&run.join("explanations-jet.png"), &grids[1])?;
    Ok(reports)
}
