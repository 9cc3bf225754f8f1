//! `cnnlab explain`: saliency maps of test images or image files — one, many, a folder — as overlays, raw maps and a summary.
//!
//! Image files need only the run's checkpoint (classes, input size and
//! preprocessing are in it); test images (`--index`) read the test split
//! alone. Inputs go through the network in batches of one size, so a folder
//! of photos costs a few forward and backward passes, not one process each.

use super::explain::load_run_with_test;
use cnnlab::checkpoint::CheckpointMeta;
use cnnlab::data::image_file::{list_files, read_image, InputSize};
use cnnlab::data::BBox;
use cnnlab::explain::{explain, Map, Method, Options, Target};
use cnnlab::io::{save_png, write_atomic, Error, Result};
use cnnlab::localize::box_from_map;
use cnnlab::lock::FolderLock;
use cnnlab::models::Model;
use cnnlab::viz::heatmap::{image_from_chw, overlay_with_boxes, with_colour_bar, Colormap};
use cnnlab::viz::labelled_row;
use cnnlab::Tensor;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Images that go through the network together.
const BATCH: usize = 32;

/// Options of `cnnlab explain`.
pub struct ExplainArgs {
    pub run: PathBuf,
    pub methods: Vec<Method>,
    pub layer: Option<String>,
    pub images: Vec<PathBuf>,
    pub folder: Option<PathBuf>,
    pub index: Option<usize>,
    pub class: Option<String>,
    pub out: Option<PathBuf>,
    pub save_raw: bool,
    pub colormap: Colormap,
    pub data: Option<String>,
    pub size: InputSize,
}

/// One image to explain, decoded.
struct Item {
    /// Its place among the inputs, so the summary keeps their order.
    position: usize,
    /// What the summary calls it (the path given, or `test:N`).
    name: String,
    /// File-name stem of its outputs, unique within the call.
    stem: String,
    bytes: Vec<u8>,
    shape: [usize; 3],
    truth: Option<BBox>,
    /// The true class of a test image.
    label: Option<usize>,
}

/// What one method found on one image.
#[derive(serde::Serialize)]
struct MethodResult {
    method: String,
    /// The explained class.
    class: String,
    /// The box at the method's default threshold, in the network's input
    /// pixels (end exclusive), or null when the map is empty.
    #[serde(rename = "box")]
    bbox: Option<BBox>,
    raw_map: [usize; 2],
    overlay: String,
    raw: Option<String>,
}

/// One row of the summary.
#[derive(serde::Serialize)]
struct Record {
    #[serde(skip)]
    position: usize,
    file: String,
    /// Width and height as the network saw it.
    size: Option<[usize; 2]>,
    predicted: Option<String>,
    probability: Option<f32>,
    target: Option<String>,
    target_probability: Option<f32>,
    true_class: Option<String>,
    methods: Vec<MethodResult>,
    error: Option<String>,
}

/// `cnnlab explain`.
pub fn explain_command(args: ExplainArgs) -> Result<i32> {
    let started = Instant::now();
    let from_files = !args.images.is_empty() || args.folder.is_some();
    if from_files && args.index.is_some() {
        return Err(Error::msg("--index explains a test image; it cannot be combined with --image or --images"));
    }
    let (mut model, meta, items, mut records) = if from_files {
        let (model, meta, _) = super::explain::load_classifier(&args.run, false)?;
        check_size(&model, &meta, args.size)?;
        let (items, failed) = read_files(&args, &meta)?;
        (model, meta, items, failed)
    } else {
        if args.size == InputSize::Native {
            return Err(Error::msg("--size native applies to image files (--image, --images), not test images"));
        }
        let (model, meta, item) = test_item(&args)?;
        (model, meta, vec![item], Vec::new())
    };
    let out = args.out.clone().unwrap_or_else(|| default_out(&args.run, "explain"));
    let _lock = lock_output(&args.run, &out)?;
    let target = match &args.class {
        Some(class) => Target::Class(class_index(class, &meta.classes)?),
        None => Target::Top,
    };
    let opts = Options { layer: args.layer.clone(), ..Options::default() };
    let single = items.len() == 1 && records.is_empty() && args.folder.is_none();
    let raw = args.save_raw || !single;
    let bar = cnnlab::eval::progress_bar("explaining", items.len());
    let (mut explained, mut overlays) = (0, Vec::new());
    let every_method = args.methods.len() > 1 && args.methods.len() == cnnlab::explain::Method::ALL.len();
    let mut skipped = Vec::new();
    for batch in same_size_batches(&items) {
        let x = normalized_batch(batch, &meta)?;
        let mut rows: Vec<Record> = batch.iter().map(|item| record_for(item, &meta)).collect();
        for &method in &args.methods {
            if skipped.contains(&method) {
                continue;
            }
            let (maps, logits, targets) = match explain(&mut model, &x, method, &target, &opts) {
                // `--method all`: a method that does not apply to this network is left out, and said so
                Err(e) if every_method => {
                    eprintln!("{method}: left out: {}", e.message);
                    skipped.push(method);
                    continue;
                }
                // the library counts images within the batch; name them
                Err(e) if e.message.starts_with("class scores not finite") => {
                    let names: Vec<&str> = batch.iter().map(|item| item.name.as_str()).collect();
                    return Err(Error::msg(format!("{} (the batch: {})", e.message, names.join(", "))));
                }
                result => result?,
            };
            let probs = logits.softmax(1);
            let classes = meta.classes.len();
            let outputs = batch
                .par_iter()
                .zip(&maps)
                .map(|(item, raw_map)| write_outputs(item, method, raw_map, &out, args.colormap, raw))
                .collect::<Vec<_>>();
            for (i, ((row, output), raw_map)) in rows.iter_mut().zip(outputs).zip(&maps).enumerate() {
                let (bbox, files, overlay) = output?;
                if single {
                    overlays.push(overlay);
                }
                let p = &probs.data()[i * classes..(i + 1) * classes];
                let predicted = argmax(p);
                row.predicted = Some(meta.classes[predicted].clone());
                row.probability = Some(p[predicted]);
                row.target = Some(meta.classes[targets[i]].clone());
                row.target_probability = Some(p[targets[i]]);
                row.methods.push(MethodResult {
                    method: method.name().to_string(),
                    class: meta.classes[targets[i]].clone(),
                    bbox,
                    raw_map: [raw_map.height, raw_map.width],
                    overlay: files.0,
                    raw: files.1,
                });
            }
        }
        explained += batch.len();
        bar.inc(batch.len() as u64);
        records.extend(rows);
    }
    bar.finish_and_clear();
    if single {
        print_single(&records[0], &items[0], &out, overlays, args.colormap)?;
        return Ok(0);
    }
    records.sort_by_key(|r| r.position);
    write_summary(&out, &records)?;
    let failed = records.iter().filter(|r| r.error.is_some()).count();
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "explained {explained} images × {} method(s) in {seconds:.1} s ({:.0} images/s, decoding included) → {}",
        args.methods.len(),
        explained as f64 / seconds,
        out.display()
    );
    println!("summary → {} and summary.json", out.join("summary.csv").display());
    if failed > 0 {
        eprintln!(
            "{failed} of {} files could not be explained (see above and the summary's error column)",
            records.len()
        );
        return Ok(1);
    }
    Ok(0)
}

/// `--size native` needs a network that ends in global pooling; the image
/// size check itself happens per file.
fn check_size(model: &Model, meta: &CheckpointMeta, size: InputSize) -> Result<()> {
    if size == InputSize::Native && !model.arch.ends_in_global_pooling() {
        return Err(Error::msg(format!(
            "--size native: {} ends in fully connected layers built for {}x{} inputs; only networks that end \
             in global pooling (smallcnn, smallcnn-gmp, resnet20, fastcnn) accept images of any size",
            model.arch, meta.input[1], meta.input[2]
        )));
    }
    Ok(())
}

/// The test image `--index N` (default 0), from the test split alone.
fn test_item(args: &ExplainArgs) -> Result<(Model, CheckpointMeta, Item)> {
    let (model, meta, test, _) = load_run_with_test(&args.run, args.data.as_deref(), false)?;
    let index = args.index.unwrap_or(0);
    if index >= test.len() {
        return Err(Error::msg(format!("--index {index}: the test split has {} images", test.len())));
    }
    let item = Item {
        position: 0,
        name: format!("test:{index}"),
        stem: format!("test{index}"),
        bytes: test.image(index).to_vec(),
        shape: test.shape,
        truth: test.boxes.get(index).copied(),
        label: Some(test.labels[index]),
    };
    Ok((model, meta, item))
}

/// Decodes every file named by `--image` and found under `--images`, in
/// parallel; a file that fails becomes a summary row with its error.
fn read_files(args: &ExplainArgs, meta: &CheckpointMeta) -> Result<(Vec<Item>, Vec<Record>)> {
    let mut paths: Vec<(PathBuf, Option<&Path>)> = args.images.iter().map(|p| (p.clone(), None)).collect();
    if let Some(dir) = &args.folder {
        paths.extend(list_files(dir)?.into_iter().map(|p| (p, Some(dir.as_path()))));
    }
    let stems = unique_stems(&paths);
    let decoded: Vec<_> = paths.par_iter().map(|(path, _)| read_image(path, meta.input, args.size)).collect();
    let (mut items, mut failed) = (Vec::new(), Vec::new());
    let mut resized = 0;
    for (position, (((path, _), stem), result)) in paths.iter().zip(stems).zip(decoded).enumerate() {
        let name = path.display().to_string();
        match result {
            Ok(file) => {
                if file.resized() {
                    resized += 1;
                    if paths.len() == 1 {
                        let ((w, h), [_, mh, mw]) = (file.original, file.shape);
                        eprintln!("notice: {name} is {w}x{h}; resized to the model's {mw}x{mh}");
                    }
                }
                let (bytes, shape) = (file.bytes, file.shape);
                items.push(Item { position, name, stem, bytes, shape, truth: None, label: None });
            }
            Err(e) if paths.len() == 1 => return Err(e),
            Err(e) => {
                eprintln!("skipped: {e}");
                failed.push(Record { error: Some(e.message), ..Record::empty(position, name) });
            }
        }
    }
    if resized > 0 && paths.len() > 1 {
        let [_, h, w] = meta.input;
        eprintln!("notice: {resized} of {} images were resized to the model's {w}x{h}", paths.len());
    }
    if items.is_empty() {
        return Err(Error::msg(format!("none of the {} files is an image that can be explained", paths.len())));
    }
    Ok((items, failed))
}

/// Output stems: the path below `--images` (or the file stem for `--image`)
/// with separators as `_`, made unique by a suffix.
fn unique_stems(paths: &[(PathBuf, Option<&Path>)]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    paths
        .iter()
        .map(|(path, root)| {
            let relative =
                root.and_then(|r| path.strip_prefix(r).ok()).unwrap_or(Path::new(path.file_name().unwrap_or_default()));
            let base = relative.with_extension("").to_string_lossy().replace(['/', '\\'], "_");
            let mut stem = base.clone();
            let mut n = 2;
            while !seen.insert(stem.clone()) {
                stem = format!("{base}-{n}");
                n += 1;
            }
            stem
        })
        .collect()
}

/// Consecutive items of one size, at most [`BATCH`] at a time.
fn same_size_batches(items: &[Item]) -> Vec<&[Item]> {
    let mut batches = Vec::new();
    let mut start = 0;
    for end in 1..=items.len() {
        if end == items.len() || end - start == BATCH || items[end].shape != items[start].shape {
            batches.push(&items[start..end]);
            start = end;
        }
    }
    batches
}

/// The batch as one normalised NCHW tensor.
fn normalized_batch(batch: &[Item], meta: &CheckpointMeta) -> Result<Tensor> {
    let [c, h, w] = batch[0].shape;
    let mut values = vec![0f32; batch.len() * c * h * w];
    for (item, out) in batch.iter().zip(values.chunks_mut(c * h * w)) {
        meta.preprocessing
            .apply_at_size(&item.bytes, item.shape, out)
            .map_err(|e| Error::msg(format!("{}: {}", item.name, e.message)))?;
    }
    Ok(Tensor::from_vec(values, &[batch.len(), c, h, w]))
}

/// What [`write_outputs`] returns: the box found, the overlay's and the raw
/// map's file names, and the overlay itself.
type Written = (Option<BBox>, (String, Option<String>), image::RgbImage);

/// The overlay (and raw map) of one method on one image; returns the box
/// found at the method's default threshold and the files' names.
fn write_outputs(
    item: &Item,
    method: Method,
    raw_map: &Map,
    out: &Path,
    colormap: Colormap,
    raw: bool,
) -> Result<Written> {
    let [_, h, w] = item.shape;
    let map = raw_map.upsample(h, w).normalized();
    let found = box_from_map(&map, method.default_threshold());
    let scale = (256 / h.max(w)).max(1) as u32;
    let picture = image_from_chw(&item.bytes, item.shape);
    let overlay = overlay_with_boxes(&picture, &map, colormap, scale, found.as_ref(), item.truth.as_ref());
    let png = format!("{}-{method}.png", item.stem);
    save_png(&out.join(&png), &overlay)?;
    let npy = if raw {
        let name = format!("{}-{method}.npy", item.stem);
        write_atomic(&out.join(&name), |wr| wr.write_all(&raw_map.to_npy()))?;
        Some(name)
    } else {
        None
    };
    Ok((found, (png, npy), overlay))
}

impl Record {
    fn empty(position: usize, file: String) -> Record {
        Record {
            position,
            file,
            size: None,
            predicted: None,
            probability: None,
            target: None,
            target_probability: None,
            true_class: None,
            methods: Vec::new(),
            error: None,
        }
    }
}

fn record_for(item: &Item, meta: &CheckpointMeta) -> Record {
    Record {
        size: Some([item.shape[2], item.shape[1]]),
        true_class: item.label.map(|l| meta.classes[l].clone()),
        ..Record::empty(item.position, item.name.clone())
    }
}

fn argmax(p: &[f32]) -> usize {
    (0..p.len()).fold(0, |best, i| if p[i] > p[best] { i } else { best })
}

/// `--class` as an index or a class name.
pub fn class_index(class: &str, classes: &[String]) -> Result<usize> {
    if let Ok(i) = class.parse::<usize>() {
        return if i < classes.len() {
            Ok(i)
        } else {
            Err(Error::msg(format!("--class {i}: out of range; the model has classes 0..{}", classes.len() - 1)))
        };
    }
    classes.iter().position(|c| c == class).ok_or_else(|| {
        Error::msg(format!("--class {class}: no such class; the model's classes are: {}", classes.join(", ")))
    })
}

/// Where outputs go by default: `RUN/WHAT` for a training run folder;
/// `runs/WHAT/NAME` for shipped weights or a checkpoint file, so that
/// commands never write into the project's own files.
/// Creates `out` and locks what a command writes into: the run folder when
/// `out` lies inside one (one writer per run: a training there would be
/// refused), else `out` itself. Taken before any work, so a folder that
/// cannot be written fails at once. Hold the lock until the writing ends.
pub fn lock_output(run: &Path, out: &Path) -> Result<FolderLock> {
    let inside_run = run.join("config.json").exists() && out.starts_with(run);
    let lock = FolderLock::acquire(if inside_run { run } else { out })?;
    std::fs::create_dir_all(out).map_err(|e| Error::file(out, format!("cannot create the folder: {e}")))?;
    Ok(lock)
}

pub fn default_out(run: &Path, what: &str) -> PathBuf {
    if run.join("config.json").exists() {
        return run.join(what);
    }
    let name = run.file_stem().map_or("model".into(), |s| s.to_string_lossy().into_owned());
    Path::new("runs").join(what).join(name)
}

/// The one-image report: a line per method and all methods side by side.
fn print_single(
    record: &Record,
    item: &Item,
    out: &Path,
    overlays: Vec<image::RgbImage>,
    colormap: Colormap,
) -> Result<()> {
    if let Some(class) = &record.true_class {
        println!("{}: true class {class}", item.name.replace("test:", "test image "));
    }
    let picture = image_from_chw(&item.bytes, item.shape);
    let mut panels = Vec::new();
    for (result, overlay) in record.methods.iter().zip(overlays) {
        let m = &result.method;
        let found = result.bbox;
        println!(
            "{m:>18}: class {} (p = {:.3}), raw map {}x{}, box {}  → {}",
            result.class,
            record.target_probability.unwrap_or(f32::NAN),
            result.raw_map[0],
            result.raw_map[1],
            found.map_or("none (the map is empty)".into(), |b| format!(
                "x {}..{}, y {}..{}{}",
                b.x0,
                b.x1,
                b.y0,
                b.y1,
                item.truth.map_or(String::new(), |t| format!(" (IoU {:.2})", b.iou(&t)))
            )),
            out.join(&result.overlay).display()
        );
        if let Some(raw) = &result.raw {
            println!("{:>18}  raw map → {}", "", out.join(raw).display());
        }
        panels.push((overlay, m.clone()));
    }
    if panels.len() > 1 {
        let (w, h) = panels[0].0.dimensions();
        let scaled = image::imageops::resize(&picture, w, h, image::imageops::FilterType::Nearest);
        let mut row: Vec<(&image::RgbImage, &str)> = vec![(&scaled, "image")];
        row.extend(panels.iter().map(|(img, label)| (img, label.as_str())));
        let strip = out.join(format!("{}-all.png", item.stem));
        save_png(&strip, &with_colour_bar(&labelled_row(&row, 6), colormap, "0", "1"))?;
        println!("all methods side by side → {}", strip.display());
    }
    Ok(())
}

/// `summary.csv` (one row per file, a box column per method) and `summary.json`.
fn write_summary(out: &Path, records: &[Record]) -> Result<()> {
    let methods: Vec<&str> = records
        .iter()
        .find(|r| !r.methods.is_empty())
        .map_or(Vec::new(), |r| r.methods.iter().map(|m| m.method.as_str()).collect());
    let mut csv = String::from("file,width,height,predicted,probability,target,target_probability,true_class");
    methods.iter().for_each(|m| csv.push_str(&format!(",{m}_box")));
    csv.push_str(",error\n");
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    for r in records {
        let [w, h] = r.size.map_or([String::new(), String::new()], |s| s.map(|v| v.to_string()));
        let p = |v: Option<f32>| v.map_or(String::new(), |v| format!("{v:.4}"));
        let mut fields = vec![r.file.clone(), w, h, opt(&r.predicted), p(r.probability), opt(&r.target)];
        fields.extend([p(r.target_probability), opt(&r.true_class)]);
        for m in &methods {
            let found = r.methods.iter().find(|x| x.method == *m).and_then(|x| x.bbox);
            fields.push(found.map_or(String::new(), |b| format!("{} {} {} {}", b.x0, b.y0, b.x1, b.y1)));
        }
        fields.push(opt(&r.error));
        csv.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
        csv.push('\n');
    }
    write_atomic(&out.join("summary.csv"), |w| w.write_all(csv.as_bytes()))?;
    let json = serde_json::to_string_pretty(records).expect("plain data serialises");
    write_atomic(&out.join("summary.json"), |w| w.write_all(json.as_bytes()))
}

/// A CSV field, quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
