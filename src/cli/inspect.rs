//! `cnnlab inspect` (filters, feature maps, maximally activating patches) and `cnnlab synthesize` (gradient-ascent input synthesis).

use super::explain::{load_run_with_split, load_run_with_test};
use super::explain_images::default_out;
use cnnlab::checkpoint::CheckpointMeta;
use cnnlab::data::image_file::{read_image, InputSize};
use cnnlab::inspect::filters::{activation_picture, filter_picture, find_conv};
use cnnlab::inspect::patches::{patches_picture, top_patches};
use cnnlab::inspect::synthesis::{synthesize, Objective, SynthesisOptions};
use cnnlab::inspect::{feature_maps, receptive_field_of};
use cnnlab::io::{npy_bytes, save_png, write_atomic, Error, Result};
use cnnlab::lock::FolderLock;
use cnnlab::models::Model;
use cnnlab::viz::heatmap::image_from_chw;
use cnnlab::viz::labelled_row;
use cnnlab::Tensor;
use std::path::{Path, PathBuf};

/// The folder a command writes, created and locked (see `lock_output`).
fn out_dir(out: &Option<PathBuf>, run: &Path, what: &str) -> Result<(PathBuf, FolderLock)> {
    let out = out.clone().unwrap_or_else(|| default_out(run, what));
    let lock = super::explain_images::lock_output(run, &out)?;
    Ok((out, lock))
}

/// `cnnlab inspect filters`.
pub fn filters(run: &Path, layer: Option<&str>, max: usize, out: &Option<PathBuf>) -> Result<i32> {
    let (mut model, _, _) = super::explain::load_classifier(run, false)?;
    let (name, weight) = find_conv(&mut model, layer)?;
    let (out, _lock) = out_dir(out, run, "inspect")?;
    let scale = if weight.shape()[1] == 3 { 12 } else { 6 };
    let png = out.join(format!("filters-{name}.png"));
    save_png(&png, &filter_picture(&name, &weight, max, max, scale))?;
    println!("{name}: weight {:?} → {}", weight.shape(), png.display());
    Ok(0)
}

/// One image for a run: a file (needing only the checkpoint) or a test image.
fn one_image(
    run: &Path,
    image: Option<&Path>,
    index: Option<usize>,
) -> Result<(Model, CheckpointMeta, Vec<u8>, String)> {
    match image {
        Some(path) => {
            let (model, meta, _) = super::explain::load_classifier(run, false)?;
            let file = read_image(path, meta.input, InputSize::Model)?;
            let stem = path.file_stem().map_or("image".into(), |s| s.to_string_lossy().into_owned());
            Ok((model, meta, file.bytes, stem))
        }
        None => {
            let (model, meta, test, _) = load_run_with_test(run, None, false)?;
            let i = index.unwrap_or(0);
            if i >= test.len() {
                return Err(Error::msg(format!("--index {i}: the test split has {} images", test.len())));
            }
            Ok((model, meta, test.image(i).to_vec(), format!("test{i}")))
        }
    }
}

/// `cnnlab inspect activations`.
pub fn activations(
    run: &Path,
    image: Option<&Path>,
    index: Option<usize>,
    layer: &str,
    out: &Option<PathBuf>,
) -> Result<i32> {
    let (mut model, meta, bytes, stem) = one_image(run, image, index)?;
    let mut values = vec![0f32; bytes.len()];
    meta.preprocessing.apply(&bytes, &mut values);
    let [c, h, w] = meta.input;
    let x = Tensor::from_vec(values, &[1, c, h, w]);
    let wanted = if layer == "all" { Vec::new() } else { vec![layer.to_string()] };
    let (out, _lock) = out_dir(out, run, "inspect")?;
    for (name, maps) in feature_maps(&mut model, &x, &wanted)? {
        let (_, k, mh, mw) = maps.dims4("activations");
        let scale = (64 / mh.max(mw)).max(2) as u32;
        let png = out.join(format!("activations-{stem}-{name}.png"));
        save_png(&png, &activation_picture(&name, maps.data(), [k, mh, mw], scale))?;
        let npy = png.with_extension("npy");
        write_atomic(&npy, |wr| wr.write_all(&npy_bytes(&[k, mh, mw], maps.data())))?;
        println!("{name:>10}: {k} maps of {mh}x{mw} → {}", png.display());
    }
    Ok(0)
}

/// Options of `cnnlab inspect patches`.
pub struct PatchArgs {
    pub run: PathBuf,
    pub layer: String,
    pub channels: String,
    pub top: usize,
    pub data: Option<String>,
    pub split: String,
    pub out: Option<PathBuf>,
}

/// `cnnlab inspect patches`.
pub fn patches(args: &PatchArgs) -> Result<i32> {
    let (mut model, meta, data, _) = load_run_with_split(&args.run, args.data.as_deref(), false, &args.split)?;
    let field = receptive_field_of(&model, &args.layer)?;
    // one image through the network tells the layer's channel count
    let probe = feature_maps(
        &mut model,
        &Tensor::zeros(&[1, meta.input[0], meta.input[1], meta.input[2]]),
        std::slice::from_ref(&args.layer),
    )?;
    let k = probe[0].1.shape()[1];
    let channels = parse_channels(&args.channels, k)?;
    let bar = cnnlab::eval::progress_bar("patches", data.len());
    let best =
        top_patches(&mut model, &data, &meta.preprocessing, &args.layer, &channels, args.top, &|n| bar.inc(n as u64))?;
    bar.finish_and_clear();
    let (out, _lock) = out_dir(&args.out, &args.run, "inspect")?;
    let size = (field.rows.size, field.cols.size);
    let png = out.join(format!("patches-{}.png", args.layer));
    save_png(&png, &patches_picture(&data, &args.layer, size, &best))?;
    let json = serde_json::json!({
        "layer": args.layer,
        "split": args.split,
        "receptive_field": {"size": [size.0, size.1], "jump": [field.rows.jump, field.cols.jump], "start": [field.rows.start, field.cols.start]},
        "patches": best,
    });
    let path = png.with_extension("json");
    write_atomic(&path, |w| w.write_all(serde_json::to_string_pretty(&json).expect("plain data").as_bytes()))?;
    println!(
        "layer {}: receptive field {}x{} (jump {}, start {}); top {} of {} {} images for {} channels → {} and {}",
        args.layer,
        size.0,
        size.1,
        field.rows.jump,
        field.rows.start,
        args.top,
        data.len(),
        args.split,
        channels.len(),
        png.display(),
        path.display()
    );
    Ok(0)
}

/// `all`, or a comma-separated list of channels and ranges (`0,3,8-11`).
fn parse_channels(text: &str, k: usize) -> Result<Vec<usize>> {
    if text == "all" {
        return Ok((0..k).collect());
    }
    let bad = |part: &str| Error::msg(format!("--channels: '{part}' is not a channel or a range a-b of 0..{}", k - 1));
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b) = (a.parse::<usize>().map_err(|_| bad(part))?, b.parse::<usize>().map_err(|_| bad(part))?);
        if a > b || b >= k {
            return Err(bad(part));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// Options of `cnnlab synthesize`.
pub struct SynthArgs {
    pub run: PathBuf,
    pub class: Option<String>,
    pub layer: Option<String>,
    pub channel: Option<usize>,
    pub opts: SynthesisOptions,
    pub out: Option<PathBuf>,
    pub judges: Vec<PathBuf>,
    pub seeds: usize,
}

/// `cnnlab synthesize`.
pub fn synthesize_command(args: &SynthArgs) -> Result<i32> {
    let (mut model, meta, _) = super::explain::load_classifier(&args.run, false)?;
    let objectives = match (&args.class, &args.layer, args.channel) {
        (Some(c), None, None) if c == "all" => (0..meta.classes.len()).map(Objective::Class).collect(),
        (Some(c), None, None) => vec![Objective::Class(super::explain_images::class_index(c, &meta.classes)?)],
        (None, Some(layer), Some(channel)) => vec![Objective::Channel { layer: layer.clone(), channel }],
        _ => return Err(Error::msg("synthesize: give --class C|all, or --layer NAME with --channel K")),
    };
    let started = std::time::Instant::now();
    let result = synthesize(&mut model, &objectives, meta.input, &meta.preprocessing, &args.opts)?;
    let seconds = started.elapsed().as_secs_f64();
    let (out, _lock) = out_dir(&args.out, &args.run, "synthesize")?;
    let mut tiles = Vec::new();
    for (i, objective) in objectives.iter().enumerate() {
        let name = match objective {
            Objective::Class(c) => format!("class-{}", meta.classes[*c]),
            Objective::Channel { layer, channel } => format!("layer-{layer}-channel-{channel}"),
        };
        let picture = image_from_chw(&result.pixels[i], meta.input);
        let big = image::imageops::resize(
            &picture,
            picture.width() * 4,
            picture.height() * 4,
            image::imageops::FilterType::Nearest,
        );
        save_png(&out.join(format!("{name}.png")), &big)?;
        let [c, h, w] = meta.input;
        let image = &result.images.data()[i * c * h * w..(i + 1) * c * h * w];
        write_atomic(&out.join(format!("{name}.npy")), |wr| wr.write_all(&npy_bytes(&[c, h, w], image)))?;
        let probability = result.probability[i];
        let json = serde_json::json!({
            "objective": name,
            "final_value": result.final_value[i],
            "probability": if probability.is_nan() { None } else { Some(probability) },
            "objective_curve": result.curves[i],
            "options": format!("{:?}", args.opts),
        });
        write_atomic(&out.join(format!("{name}.json")), |wr| wr.write_all(json.to_string().as_bytes()))?;
        let caption = if probability.is_nan() {
            format!("{name}: {:.2}", result.final_value[i])
        } else {
            format!("{}: p {probability:.2}", name.trim_start_matches("class-"))
        };
        println!(
            "{name:>24}: final value {:.3}{}",
            result.final_value[i],
            if probability.is_nan() { String::new() } else { format!(", p = {probability:.3}") }
        );
        tiles.push((big, caption));
    }
    let row: Vec<_> = tiles.iter().map(|(i, c)| (i, c.as_str())).collect();
    save_png(&out.join("montage.png"), &labelled_row(&row, 6))?;
    println!("{} images, {} steps in {seconds:.1} s → {}", objectives.len(), args.opts.steps, out.display());
    if !args.judges.is_empty() {
        transfer(args, (&mut model, &meta), &objectives, result.pixels, &out)?;
    }
    Ok(0)
}

// ANCHOR: transfer
/// `--judge`: the transfer rate — the share of the synthesised class images
/// that each independently trained judge classifies as their class — over
/// `--seeds` runs of the synthesis (seeds `seed`, `seed + 1`, …; the first
/// run's images are the ones written above). Printed and saved as `transfer.json`.
fn transfer(
    args: &SynthArgs,
    (model, meta): (&mut Model, &CheckpointMeta),
    objectives: &[Objective],
    first: Vec<Vec<u8>>,
    out: &Path,
) -> Result<()> {
    let classes: Vec<usize> = objectives
        .iter()
        .map(|o| match o {
            Objective::Class(c) => Ok(*c),
            Objective::Channel { .. } => {
                Err(Error::msg("--judge: transfer rates are for classes (--class), not channels"))
            }
        })
        .collect::<Result<_>>()?;
    let mut judges = Vec::new();
    for path in &args.judges {
        let (judge, judge_meta, _) = super::explain::load_classifier(path, false)?;
        if judge_meta.classes != meta.classes || judge_meta.input != meta.input {
            return Err(Error::file(
                path,
                "--judge: a judge must have the synthesising model's classes and input size",
            ));
        }
        judges.push((path.display().to_string(), judge, judge_meta, 0usize));
    }
    let mut images = first;
    for s in 0..args.seeds {
        if s > 0 {
            let opts = SynthesisOptions { seed: args.opts.seed + s as u64, ..args.opts };
            images = synthesize(model, objectives, meta.input, &meta.preprocessing, &opts)?.pixels;
        }
        for (_, judge, judge_meta, hits) in judges.iter_mut() {
            let probs = cnnlab::eval::predict_images(judge, &images, &judge_meta.preprocessing, meta.input);
            *hits += probs.iter().zip(&classes).filter(|(p, &c)| cnnlab::eval::argmax(p) == c).count();
        }
    }
    let total = classes.len() * args.seeds;
    let mut report = Vec::new();
    for (name, _, _, hits) in &judges {
        println!("transfer to {name}: {hits}/{total} = {:.1}%", 100.0 * *hits as f64 / total as f64);
        report.push(
            serde_json::json!({ "judge": name, "hits": hits, "images": total, "rate": *hits as f64 / total as f64 }),
        );
    }
    let json = serde_json::to_string_pretty(&report).expect("plain data serialises");
    write_atomic(&out.join("transfer.json"), |w| w.write_all(json.as_bytes()))
}
// ANCHOR_END: transfer
