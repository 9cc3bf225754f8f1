//! Localization and pose by regression: targets, the flip with its joint swap, the multitask loss, training, errors.

mod common;

use cnnlab::data::augment::Augment;
use cnnlab::data::poses::{self, FLIP_PAIRS};
use cnnlab::regression::targets::{flip_joints, pose_target, JOINTS};
use cnnlab::regression::{localize_loss, BoxLoss, LossSettings, Task};
use cnnlab::Tensor;
use common::{cli, scratch};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn mirroring_joints_twice_is_the_identity(
        xs in proptest::collection::vec(0.0f32..64.0, JOINTS),
        ys in proptest::collection::vec(0.0f32..64.0, JOINTS),
        width in 16usize..=64,
    ) {
        let joints: Vec<[f32; 2]> = xs.iter().zip(&ys).map(|(&x, &y)| [x, y]).collect();
        let twice = flip_joints(&flip_joints(&joints, width), width);
        for (a, b) in joints.iter().zip(&twice) {
            prop_assert!((a[0] - b[0]).abs() < 1e-4 && a[1] == b[1]);
        }
        // once is not the identity: each right joint now holds its left partner's mirrored position
        let once = flip_joints(&joints, width);
        for &(right, left) in &FLIP_PAIRS {
            prop_assert_eq!(once[right], [width as f32 - joints[left][0], joints[left][1]]);
        }
    }
}

/// The person's right hip and shoulder are on the image's left in every
/// poses image; a mirrored image keeps that only if the joints are swapped.
fn right_side_on_the_left(joints: &[[f32; 2]]) -> bool {
    joints[2][0] < joints[3][0] && joints[8][0] < joints[9][0]
}

#[test]
fn the_flip_that_training_applies_swaps_left_and_right() {
    let data = poses::generate(32, 64, 9);
    let augment = Augment { flip: true, ..Augment::none() };
    let mut mirrored = 0;
    for i in 0..data.len() {
        let flipped = augment.flips(1, 0, i);
        mirrored += usize::from(flipped);
        let target = pose_target(&data.keypoints[i], [32, 32], flipped);
        let joints = cnnlab::regression::targets::joints_from(&target, [32, 32]);
        assert!(right_side_on_the_left(&joints), "image {i} (mirrored: {flipped}): {joints:?}");
        // a mirror without the swap puts the right hip on the right: the check above would fail
        if flipped {
            let unswapped: Vec<[f32; 2]> = data.keypoints[i].iter().map(|&[x, y]| [32.0 - x, y]).collect();
            assert!(!right_side_on_the_left(&unswapped));
        }
    }
    assert!((16..48).contains(&mirrored), "{mirrored} of 64 mirrored");
}

#[test]
fn the_flip_decision_matches_the_pixels_augment_moves() {
    // a one-hot image: after augmentation the hot pixel's column says whether it was mirrored
    let augment = Augment { flip: true, ..Augment::none() };
    for index in 0..40 {
        let mut image = vec![0f32; 8 * 8];
        image[3 * 8 + 1] = 1.0;
        augment.apply(&mut image, (1, 8, 8), 5, 2, index);
        let mirrored = image[3 * 8 + 6] == 1.0;
        assert_eq!(mirrored, augment.flips(5, 2, index), "image {index}");
    }
}

#[test]
fn the_multitask_loss_has_the_closed_form_gradient() {
    // L = α·CE(o[:, :K], y) + (1 − α)·MSE(o[:, K:], t): dL/do is α(softmax − onehot)/B on the
    // class scores and (1 − α)·2(o − t)/(4B) on the box outputs
    let (b, k, alpha) = (3usize, 5usize, 0.3f64);
    let values: Vec<f32> = (0..b * (k + 4)).map(|i| ((i * 37 % 17) as f32 - 8.0) / 7.0).collect();
    let outputs = Tensor::from_vec(values.clone(), &[b, k + 4]).with_grad();
    let boxes: Vec<f32> = (0..b * 4).map(|i| (i as f32 + 1.0) / 13.0).collect();
    let labels = [1, 4, 0];
    let settings = LossSettings { alpha, box_loss: BoxLoss::Mse };
    let (loss, s, r) = localize_loss(&outputs, &labels, &Tensor::from_vec(boxes.clone(), &[b, 4]), settings);
    assert!((loss.item() as f64 - (alpha * s as f64 + (1.0 - alpha) * r as f64)).abs() < 1e-5);
    let grads = loss.backward();
    let g = grads.get(&outputs).expect("a gradient for the outputs").to_vec();
    for row in 0..b {
        let o = &values[row * (k + 4)..(row + 1) * (k + 4)];
        let max = o[..k].iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = o[..k].iter().map(|v| (v - max).exp()).sum();
        for c in 0..k + 4 {
            let expected = if c < k {
                let p = (o[c] - max).exp() / sum;
                alpha as f32 * (p - f32::from(c == labels[row])) / b as f32
            } else {
                (1.0 - alpha as f32) * 2.0 * (o[c] - boxes[row * 4 + c - k]) / (4 * b) as f32
            };
            let got = g[row * (k + 4) + c];
            assert!((got - expected).abs() < 1e-5, "row {row} output {c}: {got} vs {expected}");
        }
    }
}

#[test]
fn a_localize_run_trains_saves_its_task_evaluates_and_refuses_explain() {
    let dir = scratch("localize");
    let run = dir.join("run");
    let run = run.to_str().unwrap();
    let train = [
        "train", "--task", "localize", "--alpha", "0.7", "--flip", "--epochs", "1", "--limit", "200", "--val", "64",
        "--batch", "32", "--out", run,
    ];
    let (code, _, err) = cli(&train);
    assert_eq!(code, 0, "{err}");
    let (_, meta) = cnnlab::checkpoint::read_tensors(&dir.join("run/best.safetensors")).unwrap();
    assert_eq!(meta.get("cnnlab.task").map(String::as_str), Some("localize"));
    let (model, meta) = cnnlab::checkpoint::load(&dir.join("run/best.safetensors")).unwrap();
    assert_eq!((model.num_classes, meta.task), (14, Task::Localize));
    let (code, out, err) = cli(&["eval", "--run", run, "--json"]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let iou = report["localize"]["mean_iou"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&iou), "{out}");
    assert!(dir.join("run/boxes.png").exists());
    let (code, _, err) = cli(&["explain", "--run", run]);
    assert_ne!(code, 0);
    assert!(err.contains("--task localize") && err.contains("needs a classifier"), "{err}");
    // fine-tuning: the backbone comes from the run, the head starts new
    let tuned = dir.join("tuned");
    let tuned = tuned.to_str().unwrap();
    let args = [
        "train",
        "--task",
        "localize",
        "--init-from",
        run,
        "--epochs",
        "1",
        "--limit",
        "64",
        "--val",
        "32",
        "--batch",
        "32",
        "--lr",
        "1e-9",
        "--out",
        tuned,
    ];
    let (code, out, err) = cli(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backbone from") && out.contains("the head (22) starts new"), "{out}");
    let before = common::checkpoint_weights(&dir.join("run/best.safetensors"));
    let after = common::checkpoint_weights(&dir.join("tuned/last.safetensors"));
    let conv = |w: &[(String, Vec<f32>)]| w.iter().find(|(n, _)| n == "0.weight").unwrap().1.clone();
    let close = conv(&before).iter().zip(conv(&after)).all(|(a, b)| (a - b).abs() < 1e-6);
    assert!(close, "a learning rate of 1e-9 leaves the copied first convolution as it was");
}

#[test]
fn bad_tasks_and_options_are_refused_by_name() {
    let dir = scratch("bad-task");
    let out = dir.join("x");
    let out = out.to_str().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["--task", "localize", "--alpha", "1.5"], "--alpha: 1.5 must be in [0, 1]"),
        (&["--alpha", "0.2"], "--alpha applies to --task localize only"),
        (&["--task", "pose"], "--task pose needs 14 joints per image"),
        (&["--task", "localize", "--crop-padding", "2"], "move the image but not its targets"),
        (&["--task", "sideways"], "unknown task 'sideways'"),
        (&["--task", "localize", "--init-from", "/nonexistent/run"], "no such run folder"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["train", "--epochs", "1", "--limit", "64", "--val", "32", "--out", out];
        args.extend_from_slice(extra);
        let (code, _, err) = cli(&args);
        assert_ne!(code, 0, "{extra:?} was accepted");
        assert!(err.contains(expected), "{extra:?}: {err}");
        let _ = std::fs::remove_dir_all(out);
    }
}

#[test]
fn a_pose_run_scores_pck_and_draws_skeletons() {
    let dir = scratch("pose");
    let run = dir.join("run");
    let run = run.to_str().unwrap();
    let train = [
        "train", "--task", "pose", "--data", "poses", "--flip", "--epochs", "1", "--limit", "200", "--val", "64",
        "--batch", "32", "--out", run,
    ];
    let (code, _, err) = cli(&train);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&["eval", "--run", run]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("PCK@0.2") && out.contains("right ankle") && out.contains("head top"), "{out}");
    assert!(dir.join("run/skeletons.png").exists());
}

/// Writes `data` as an image-folder split `root/split/<class>/<i>.png` with
/// its boxes and keypoints in `boxes.csv` and `keypoints.csv`.
fn write_annotated_split(root: &std::path::Path, split: &str, data: &cnnlab::data::Dataset) {
    let [_, h, w] = data.shape;
    let (mut boxes, mut joints) = (String::from("file,x0,y0,x1,y1\n"), String::new());
    for i in 0..data.len() {
        let class = &data.classes[data.labels[i]];
        let dir = root.join(split).join(class);
        std::fs::create_dir_all(&dir).unwrap();
        let pixels = data.image(i);
        let img = image::RgbImage::from_fn(w as u32, h as u32, |x, y| {
            let at = |c: usize| pixels[(c * h + y as usize) * w + x as usize];
            image::Rgb([at(0), at(1), at(2)])
        });
        img.save(dir.join(format!("{i}.png"))).unwrap();
        let b = data.boxes[i];
        boxes += &format!("{class}/{i}.png,{},{},{},{}\n", b.x0, b.y0, b.x1, b.y1);
        let xy: Vec<String> = data.keypoints[i].iter().flat_map(|p| [p[0].to_string(), p[1].to_string()]).collect();
        joints += &format!("{class}/{i}.png,{}\n", xy.join(","));
    }
    std::fs::write(root.join(split).join("boxes.csv"), boxes).unwrap();
    std::fs::write(root.join(split).join("keypoints.csv"), joints).unwrap();
}

#[test]
fn an_image_folder_with_box_and_keypoint_files_trains_and_a_mismatch_is_named() {
    let dir = scratch("annotated-folder");
    let root = dir.join("people");
    write_annotated_split(&root, "train", &poses::generate(32, 96, 1));
    write_annotated_split(&root, "test", &poses::generate(32, 16, 2));
    // the files arrive with the images, in the images' order
    let splits = cnnlab::data::load_path(&root).unwrap();
    let expected = poses::generate(32, 16, 2);
    assert_eq!(splits.test.len(), 16);
    let mut order: Vec<usize> = (0..16).collect();
    order.sort_by_key(|i| format!("{i}.png")); // the loader's order: by file name
    for (at, &i) in order.iter().enumerate() {
        assert_eq!(splits.test.boxes[at], expected.boxes[i], "image {i}");
        assert_eq!(splits.test.keypoints[at], expected.keypoints[i], "image {i}");
    }
    let run = dir.join("run");
    let (data, run) = (root.to_str().unwrap(), run.to_str().unwrap());
    let args =
        ["train", "--data", data, "--task", "pose", "--epochs", "1", "--val", "32", "--batch", "32", "--out", run];
    let (code, _, err) = cli(&args);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&["eval", "--run", run, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("pck_02"), "{out}");
    // a box file that does not match the images: one row missing, then a row too many
    let boxes = root.join("train/boxes.csv");
    let text = std::fs::read_to_string(&boxes).unwrap();
    let missing: String = text.lines().filter(|l| !l.starts_with("person/5.png,")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&boxes, &missing).unwrap();
    let localize = |out: &str| {
        let out = dir.join(out);
        cli(&["train", "--data", data, "--task", "localize", "--epochs", "1", "--out", out.to_str().unwrap()])
    };
    let (code, _, err) = localize("a");
    assert_ne!(code, 0);
    assert!(err.contains("people") && err.contains("train/boxes.csv has no row for the image person/5.png"), "{err}");
    std::fs::write(&boxes, format!("{text}person/999.png,1,1,4,4\n")).unwrap();
    let (code, _, err) = localize("b");
    assert_ne!(code, 0);
    assert!(err.contains("train/boxes.csv line 98: person/999.png is not an image of this split"), "{err}");
    // no box file in the test split: localize is refused before training
    std::fs::write(&boxes, &text).unwrap();
    std::fs::remove_file(root.join("test/boxes.csv")).unwrap();
    let (code, _, err) = localize("c");
    assert_ne!(code, 0);
    assert!(err.contains("(its test split) has 0 boxes for 16 images") && err.contains("boxes.csv"), "{err}");
}
