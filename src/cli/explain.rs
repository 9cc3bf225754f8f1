//! `cnnlab explain` and `cnnlab localize`: saliency maps of a trained run, as pictures and as localization scores.

use cnnlab::checkpoint::CheckpointMeta;
use cnnlab::data::Dataset;
use cnnlab::explain::grid::explanation_grids;
use cnnlab::explain::{explain, Method, Options, RiseOptions, Target};
use cnnlab::io::{save_png, write_atomic, Error, Result};
use cnnlab::localize::{box_from_map, localize, table, LocalizeOptions, Report};
use cnnlab::models::Model;
use cnnlab::train::batches::make_batch;
use cnnlab::train::{self, RunDir};
use cnnlab::viz::heatmap::{image_from_chw, overlay_with_boxes, Colormap};
use cnnlab::viz::labelled_row;
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
/// [`train::checkpoint_path`]), its metadata, its test split (or `data`'s),
/// and the checkpoint file it came from.
pub fn load_run_with_test(
    run_path: &Path,
    data: Option<&str>,
    last: bool,
) -> Result<(Model, CheckpointMeta, Dataset, PathBuf)> {
    let run = RunDir::new(run_path);
    let cfg = run.config()?;
    let checkpoint = train::checkpoint_path(&run, &cfg, last)?;
    let (model, meta) = cnnlab::checkpoint::load(&checkpoint)?;
    let spec = data.unwrap_or(&cfg.data).parse()?;
    let test = cnnlab::data::load(&spec, cfg.seed)?.test;
    if test.shape != meta.input || test.classes.len() != meta.classes.len() {
        return Err(Error::msg(format!(
            "--data: {spec} has {} classes of {:?} images, but the model was trained on {} classes of {:?}",
            test.classes.len(),
            test.shape,
            meta.classes.len(),
            meta.input
        )));
    }
    Ok((model, meta, test, checkpoint))
}

/// An image file as a one-image dataset of the model's input size (resized with a notice).
fn image_as_dataset(path: &Path, meta: &CheckpointMeta) -> Result<Dataset> {
    let [c, h, w] = meta.input;
    let img = image::open(path).map_err(|e| Error::file(path, format!("cannot read the image: {e}")))?;
    let img = if (img.width() as usize, img.height() as usize) != (w, h) {
        eprintln!("notice: {} is {}x{}; resized to the model's {w}x{h}", path.display(), img.width(), img.height());
        img.resize_exact(w as u32, h as u32, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let rgb = img.to_rgb8();
    let mut bytes = vec![0u8; c * h * w];
    for (x, y, p) in rgb.enumerate_pixels() {
        for ch in 0..c {
            // a one-channel model sees the mean of R, G, B
            let v = if c == 1 { (p.0.iter().map(|&v| v as u32).sum::<u32>() / 3) as u8 } else { p.0[ch] };
            bytes[ch * h * w + y as usize * w + x as usize] = v;
        }
    }
    Ok(Dataset {
        classes: meta.classes.clone(),
        shape: meta.input,
        images: bytes,
        labels: vec![0],
        ..Dataset::default()
    })
}

/// Options of `cnnlab explain`.
pub struct ExplainArgs {
    pub run: PathBuf,
    pub methods: Vec<Method>,
    pub layer: Option<String>,
    pub image: Option<PathBuf>,
    pub index: usize,
    pub class: Option<usize>,
    pub out: Option<PathBuf>,
    pub save_raw: bool,
    pub colormap: Colormap,
    pub data: Option<String>,
}

/// `cnnlab explain`.
pub fn explain_command(args: ExplainArgs) -> Result<i32> {
    let (mut model, meta, test, _) = load_run_with_test(&args.run, args.data.as_deref(), false)?;
    let (data, index, stem) = match &args.image {
        Some(path) => {
            let stem = path.file_stem().map_or("image".into(), |s| s.to_string_lossy().to_string());
            (image_as_dataset(path, &meta)?, 0, stem)
        }
        None if args.index >= test.len() => {
            return Err(Error::msg(format!("--index {}: the test split has {} images", args.index, test.len())));
        }
        None => (test, args.index, format!("test{}", args.index)),
    };
    let out = args.out.clone().unwrap_or_else(|| args.run.join("explain"));
    std::fs::create_dir_all(&out).map_err(|e| Error::file(&out, format!("cannot create the folder: {e}")))?;
    let opts = Options { layer: args.layer.clone(), ..Options::default() };
    let target = args.class.map_or(Target::Top, Target::Class);
    let (x, _) = make_batch(&data, &[index], &meta.preprocessing, None);
    let picture = image_from_chw(data.image(index), data.shape);
    let truth = data.boxes.get(index);
    if args.image.is_none() {
        println!("test image {index}: true class {}", data.classes[data.labels[index]]);
    }
    let mut panels = vec![(picture.clone(), "image".to_string())];
    for &method in &args.methods {
        let (maps, logits, targets) = explain(&mut model, &x, method, &target, &opts)?;
        let probs = logits.softmax(1);
        let class = targets[0];
        let [_, h, w] = data.shape;
        let map = maps[0].upsample(h, w).normalized();
        let found = box_from_map(&map, method.default_threshold());
        let png = out.join(format!("{stem}-{method}.png"));
        let picture = overlay_with_boxes(&picture, &map, args.colormap, 8, found.as_ref(), truth);
        save_png(&png, &picture)?;
        println!(
            "{method:>18}: class {} (p = {:.3}), raw map {}x{}, box {}  → {}",
            data.classes[class],
            probs.data()[class],
            maps[0].height,
            maps[0].width,
            found.map_or("none (the map is empty)".into(), |b| format!(
                "x {}..{}, y {}..{}{}",
                b.x0,
                b.x1,
                b.y0,
                b.y1,
                truth.map_or(String::new(), |t| format!(" (IoU {:.2})", b.iou(t)))
            )),
            png.display()
        );
        if args.save_raw {
            let npy = out.join(format!("{stem}-{method}.npy"));
            write_atomic(&npy, |wr| wr.write_all(&maps[0].to_npy()))?;
            println!("{:>18}  raw map → {}", "", npy.display());
        }
        panels.push((picture, method.name().to_string()));
    }
    if args.methods.len() > 1 {
        let scaled = image::imageops::resize(
            &panels[0].0,
            panels[1].0.width(),
            panels[1].0.height(),
            image::imageops::FilterType::Nearest,
        );
        panels[0].0 = scaled;
        let row: Vec<_> = panels.iter().map(|(img, label)| (img, label.as_str())).collect();
        let strip = out.join(format!("{stem}-all.png"));
        save_png(&strip, &labelled_row(&row, 6))?;
        println!("all methods side by side → {}", strip.display());
    }
    Ok(0)
}

/// Options of `cnnlab localize`.
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
