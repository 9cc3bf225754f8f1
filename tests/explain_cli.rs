//! `cnnlab eval`, `cnnlab explain` and `cnnlab localize` end to end on tiny trained runs: files written, numbers in range, bad input named.

mod common;

use common::{cli, scratch, tiny_run};
use std::path::Path;
use std::process::Command;

#[test]
fn explain_writes_overlays_and_raw_maps_and_refuses_bad_input() {
    let dir = scratch("explain-cli");
    let run = tiny_run(&dir, "smallcnn");
    let out = dir.join("out");
    let out_s = out.to_str().unwrap();
    let (code, stdout, stderr) =
        cli(&["explain", "--run", &run, "--method", "all", "--index", "2", "--out", out_s, "--save-raw"]);
    assert_eq!(code, 0, "{stderr}");
    for method in ["cam", "gradcam", "gradcam++", "smooth-gradcam++", "augmented-gradcam", "rise", "saliency"] {
        let png = image::open(out.join(format!("test2-{method}.png"))).unwrap();
        assert_eq!((png.width(), png.height()), (256, 256), "{method}: the 32x32 image enlarged 8 times");
        let npy = std::fs::read(out.join(format!("test2-{method}.npy"))).unwrap();
        assert_eq!(&npy[..6], b"\x93NUMPY");
        assert!(stdout.contains(method), "{stdout}");
    }
    let header = String::from_utf8_lossy(&std::fs::read(out.join("test2-cam.npy")).unwrap()[10..80]).into_owned();
    assert!(header.contains("'shape': (8, 8)"), "CAM's raw map is the 8x8 feature resolution: {header}");
    assert!(out.join("test2-all.png").exists());

    // an image file of another size is resized, with a notice
    let file = dir.join("photo.png");
    image::RgbImage::from_pixel(40, 24, image::Rgb([200, 30, 30])).save(&file).unwrap();
    let (code, _, stderr) = cli(&["explain", "--run", &run, "--image", file.to_str().unwrap(), "--out", out_s]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("resized") && stderr.contains("40x24"), "{stderr}");
    assert!(out.join("photo-gradcam.png").exists());

    for (args, expected) in [
        (vec!["--layer", "conv9"], "19 [128, 8, 8]"),
        (vec!["--class", "10"], "--class 10"),
        (vec!["--method", "lime"], "unknown method 'lime'"),
        (vec!["--image", "/no/such/picture.png"], "/no/such/picture.png"),
        (vec!["--index", "5000"], "--index 5000"),
        (vec!["--method", "cam", "--layer", "16"], "CAM"),
    ] {
        let mut all = vec!["explain", "--run", &run, "--out", out_s];
        all.extend(args.iter());
        let (code, _, stderr) = cli(&all);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: stderr does not mention {expected}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn eval_names_its_checkpoint_and_test_time_augmentation() {
    let dir = scratch("eval-cli");
    let run = tiny_run(&dir, "smallcnn");
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["eval", "--run", &run, "--json"];
        all.extend(args);
        let (code, stdout, stderr) = cli(&all);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: not one JSON object ({e}): {stdout}"))
    };
    let plain = json(&[]);
    assert_eq!((plain["checkpoint"].as_str(), plain["tta"].as_str()), (Some("best.safetensors"), Some("none")));
    let flipped = json(&["--last", "--tta", "flip"]);
    assert_eq!((flipped["checkpoint"].as_str(), flipped["tta"].as_str()), (Some("last.safetensors"), Some("flip")));
    for v in [&plain, &flipped] {
        assert!((0.0..=1.0).contains(&v["accuracy"].as_f64().unwrap()), "{v}");
    }
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(&run).join("eval.json")).unwrap()).unwrap();
    assert_eq!(written["tta"], "flip", "eval.json records how the last evaluation was made");
    assert_eq!(written["accuracy"], flipped["accuracy"]);

    // a run that validated on the test split is scored at its last checkpoint, with a notice
    let on_test = dir.join("val0");
    let on_test = on_test.to_str().unwrap();
    let args = ["train", "--epochs", "1", "--limit", "200", "--val", "0", "--batch", "32", "--out", on_test];
    let (code, stdout, stderr) = cli(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("the test split") && stdout.contains("--last"), "{stdout}");
    let (code, stdout, stderr) = cli(&["eval", "--run", on_test, "--json"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("--val 0") && stderr.contains("last.safetensors"), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["checkpoint"], "last.safetensors");
}

#[test]
fn localize_reports_scores_in_range() {
    let dir = scratch("localize-cli");
    let run = tiny_run(&dir, "smallcnn");
    let (code, stdout, stderr) = cli(&["localize", "--run", &run, "--method", "gradcam", "--limit", "40", "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let get = |k: &str| report[k].as_f64().unwrap_or_else(|| panic!("no {k} in {stdout}"));
    for key in ["top1_loc", "gt_known_loc", "max_box_acc", "mean_iou", "deletion_auc", "insertion_auc"] {
        assert!((0.0..=1.0).contains(&get(key)), "{key} = {}", get(key));
    }
    assert_eq!(get("images"), 40.0);
    assert!(get("top1_loc") <= get("gt_known_loc"), "top-1 needs the class right as well");
    assert!(get("max_box_acc") >= get("gt_known_loc"), "the sweep includes the default threshold 0.15");
    assert!(report["calibrated_threshold"].is_number(), "held-out validation images calibrate τ");
}

#[test]
fn cam_refuses_vgg_fc_by_name() {
    let dir = scratch("vgg-cli");
    let run = tiny_run(&dir, "vgg-fc");
    let (code, _, stderr) = cli(&["explain", "--run", &run, "--method", "cam", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("vgg-fc") && stderr.contains("gradcam"), "{stderr}");
    let (code, _, stderr) = cli(&["explain", "--run", &run, "--method", "gradcam", "--out", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
}

/// SIGTERM (what a job scheduler or `kill` sends) stops `cnnlab train` like
/// Ctrl-C: the step finishes, `last.safetensors` is saved, the exit code is
/// 130, and `--resume` continues the run to the end.
#[cfg(unix)]
#[test]
fn sigterm_saves_a_checkpoint_that_resume_continues() {
    let dir = scratch("sigterm");
    let run = dir.join("run");
    let run_arg = run.to_str().unwrap();
    let args = ["train", "--epochs", "2", "--limit", "500", "--val", "100", "--batch", "32", "--out", run_arg];
    let child = Command::new(env!("CARGO_BIN_EXE_cnnlab"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // config.json is written after the handler is installed, before the first step
    let started = std::time::Instant::now();
    while !run.join("config.json").exists() {
        assert!(started.elapsed().as_secs() < 60, "training never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("interrupted in epoch"), "{stdout}");
    assert!(run.join("last.safetensors").exists());
    let (code, stdout, stderr) = cli(&["train", "--resume", "--out", run_arg]);
    assert_eq!(code, 0, "resume failed: {stderr}");
    assert!(stdout.contains("done"), "{stdout}");
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "one line per epoch: {metrics}");
}
