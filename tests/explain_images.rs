//! `cnnlab explain` on image files: a run folder alone is enough, a folder in one call equals one call per image, native size equals the library's map, bad files are named and skipped.

mod common;

use cnnlab::data::image_file::{read_image, InputSize};
use cnnlab::data::shapes::{generate, ShapesConfig};
use cnnlab::explain::{explain, Method, Options, Target};
use cnnlab::viz::heatmap::image_from_chw;
use cnnlab::Tensor;
use common::{cli, scratch, tiny_run};
use std::path::{Path, PathBuf};

/// `count` shapes images of side `size` written as PNG files into `dir`.
fn write_pngs(dir: &Path, count: usize, size: usize) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let data = generate(&ShapesConfig { size, ..ShapesConfig::default() }, count, 7);
    (0..count)
        .map(|i| {
            let path = dir.join(format!("img{i}.png"));
            image_from_chw(data.image(i), data.shape).save(&path).unwrap();
            path
        })
        .collect()
}

/// The values of a 2-D float32 `.npy` file written by cnnlab.
fn npy_values(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header_len..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

#[test]
fn a_checkpoint_alone_explains_image_files() {
    let dir = scratch("explain-alone");
    let run = tiny_run(&dir, "smallcnn");
    let files = write_pngs(&dir.join("photos"), 1, 32);
    let file = files[0].to_str().unwrap();
    // a copy of the run whose data is gone: its config names data that does not exist
    let copy = dir.join("copied");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(Path::new(&run).join("best.safetensors"), copy.join("best.safetensors")).unwrap();
    let config = std::fs::read_to_string(Path::new(&run).join("config.json")).unwrap();
    let config = config.replace("\"shapes\"", "\"/no/such/cifar.tar.gz\"");
    std::fs::write(copy.join("config.json"), config).unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) =
        cli(&["explain", "--run", copy.to_str().unwrap(), "--image", file, "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("gradcam") && out.join("img0-gradcam.png").exists(), "{stdout}");
    // the test split is still asked for by --index, and its absence is named
    let (code, _, stderr) = cli(&["explain", "--run", copy.to_str().unwrap(), "--index", "0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("/no/such/cifar.tar.gz"), "{stderr}");
    // shipped weights: a folder with a checkpoint and nothing else, or the file itself
    let bare = dir.join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::copy(Path::new(&run).join("best.safetensors"), bare.join("best.safetensors")).unwrap();
    for run in [bare.clone(), bare.join("best.safetensors")] {
        let (code, _, stderr) =
            cli(&["explain", "--run", run.to_str().unwrap(), "--image", file, "--out", out.to_str().unwrap()]);
        assert_eq!(code, 0, "{}: {stderr}", run.display());
    }
}

#[test]
fn a_folder_in_one_call_equals_one_call_per_image() {
    let dir = scratch("explain-folder");
    let run = tiny_run(&dir, "smallcnn");
    let photos = dir.join("photos");
    let files = write_pngs(&photos.join("nested"), 5, 32);
    std::fs::write(photos.join("notes.txt"), "not an image").unwrap();
    std::fs::write(photos.join("broken.png"), b"\x89PNG garbage").unwrap();
    let all = dir.join("all");
    let (code, stdout, stderr) = cli(&[
        "explain",
        "--run",
        &run,
        "--images",
        photos.to_str().unwrap(),
        "--method",
        "gradcam",
        "--out",
        all.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "two bad files make the exit code 1: {stdout}\n{stderr}");
    assert!(stderr.contains("notes.txt") && stderr.contains("broken.png"), "both bad files named: {stderr}");
    assert!(stdout.contains("explained 5 images"), "the rest is still processed: {stdout}");
    let csv = std::fs::read_to_string(all.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 7, "a header and one row per file: {csv}");
    assert!(csv.lines().next().unwrap().contains("gradcam_box"));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(all.join("summary.json")).unwrap()).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.iter().filter(|r| r["error"].is_null()).count(), 5);
    for (i, file) in files.iter().enumerate() {
        let one = dir.join(format!("one{i}"));
        let args = ["explain", "--run", &run, "--image", file.to_str().unwrap(), "--save-raw"];
        let (code, _, stderr) = cli(&[&args[..], &["--out", one.to_str().unwrap()]].concat());
        assert_eq!(code, 0, "{stderr}");
        let single = npy_values(&one.join(format!("img{i}-gradcam.npy")));
        let batched = npy_values(&all.join(format!("nested_img{i}-gradcam.npy")));
        assert_eq!(single.len(), 64, "an 8x8 map");
        for (a, b) in single.iter().zip(&batched) {
            assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0), "image {i}: {a} alone, {b} in a batch");
        }
        let row = rows.iter().find(|r| r["file"].as_str().unwrap().ends_with(&format!("img{i}.png"))).unwrap();
        assert!(row["predicted"].is_string() && row["methods"][0]["overlay"].is_string(), "{row}");
    }
    // an empty folder is an error, not an empty summary
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let (code, _, stderr) = cli(&["explain", "--run", &run, "--images", empty.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no files") && stderr.contains("empty"), "{stderr}");
}

#[test]
fn native_size_equals_the_library_map_and_is_refused_where_it_cannot_work() {
    let dir = scratch("explain-native");
    let run = tiny_run(&dir, "smallcnn");
    let file = write_pngs(&dir.join("big"), 1, 64).remove(0);
    let out = dir.join("out");
    let args = ["explain", "--run", &run, "--image", file.to_str().unwrap(), "--size", "native", "--save-raw"];
    let (code, stdout, stderr) = cli(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("raw map 16x16"), "a 64x64 image gives 16x16 maps: {stdout}");
    let from_cli = npy_values(&out.join("img0-gradcam.npy"));

    let (mut model, meta) = cnnlab::checkpoint::load(&Path::new(&run).join("best.safetensors")).unwrap();
    let image = read_image(&file, meta.input, InputSize::Native).unwrap();
    assert_eq!(image.shape, [3, 64, 64]);
    let mut values = vec![0f32; 3 * 64 * 64];
    meta.preprocessing.apply_at_size(&image.bytes, image.shape, &mut values).unwrap();
    let x = Tensor::from_vec(values, &[1, 3, 64, 64]);
    let (maps, _, _) = explain(&mut model, &x, Method::GradCam, &Target::Top, &Options::default()).unwrap();
    assert_eq!((maps[0].height, maps[0].width), (16, 16));
    assert_eq!(maps[0].values, from_cli, "the command's map is the library's map");

    // too large a file is named and skipped in a folder; vgg-fc refuses native size
    let folder = dir.join("mixed");
    write_pngs(&folder, 2, 32);
    image::RgbImage::new(1100, 20).save(folder.join("wide.png")).unwrap();
    let (code, stdout, stderr) = cli(&[
        "explain",
        "--run",
        &run,
        "--images",
        folder.to_str().unwrap(),
        "--size",
        "native",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("wide.png") && stderr.contains("1100x20") && stderr.contains("1024"), "{stderr}");
    assert!(stdout.contains("explained 2 images"), "{stdout}");
    let vgg = tiny_run(&dir, "vgg-fc");
    let (code, _, stderr) = cli(&["explain", "--run", &vgg, "--image", file.to_str().unwrap(), "--size", "native"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("vgg-fc") && stderr.contains("global pooling"), "{stderr}");
    for (args, expected) in [
        (vec!["--size", "huge"], "unknown size 'huge'"),
        (vec!["--class", "dragon"], "no such class"),
        (vec!["--index", "1"], "cannot be combined"),
    ] {
        let mut all = vec!["explain", "--run", &run, "--image", file.to_str().unwrap()];
        all.extend(args.iter());
        let (code, _, stderr) = cli(&all);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

/// `eval` takes shipped weights (a folder with only a checkpoint) given
/// `--data`, and writes its report under runs/eval/NAME of the working
/// folder, never into the weights' folder.
#[test]
fn eval_takes_shipped_weights_and_writes_beside_them() {
    let dir = scratch("eval-shipped");
    let run = tiny_run(&dir, "smallcnn");
    let shipped = dir.join("shipped");
    std::fs::create_dir_all(&shipped).unwrap();
    std::fs::copy(Path::new(&run).join("best.safetensors"), shipped.join("best.safetensors")).unwrap();
    let eval = |args: &[&str]| {
        let out =
            std::process::Command::new(env!("CARGO_BIN_EXE_cnnlab")).args(args).current_dir(&dir).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = eval(&["eval", "--run", "shipped"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("shipped") && stderr.contains("add --data"), "{stderr}");
    let (code, stdout, stderr) = eval(&["eval", "--run", "shipped", "--data", "shapes", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, from_run, _) = eval(&["eval", "--run", &run, "--json"]);
    let accuracy = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap()["accuracy"].as_f64().unwrap();
    assert_eq!(accuracy(&stdout), accuracy(&from_run), "the same checkpoint on the same test split");
    assert_eq!(std::fs::read_dir(&shipped).unwrap().count(), 1, "nothing written beside the weights");
    assert!(dir.join("runs/eval/shipped/eval.json").exists());
}
