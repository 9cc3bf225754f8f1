//! A diverged training never becomes a checkpoint, non-finite and malformed checkpoints are refused, equal states give equal files, hopeless settings are errors.

mod common;
use cnnlab::checkpoint::{self, CheckpointMeta, EpochSoFar};
use cnnlab::data::augment::Augment;
use cnnlab::data::preprocess::{Normalization, Preprocessing};
use cnnlab::models::{Arch, Model};
use cnnlab::nn::Module;
use cnnlab::train::{self, RunDir, TrainConfig};
use common::scratch;
use std::sync::atomic::AtomicBool;

fn meta() -> CheckpointMeta {
    CheckpointMeta {
        arch: Arch::SmallCnn,
        input: [3, 32, 32],
        classes: (0..10).map(|i| format!("class{i}")).collect(),
        preprocessing: Preprocessing {
            mode: Normalization::ChannelMeanStd,
            shape: [3, 32, 32],
            mean: vec![0.5, 0.4, 0.3],
            std: vec![0.2, 0.2, 0.2],
        },
        epoch: 3,
        step: 0,
        so_far: EpochSoFar::default(),
        task: Default::default(),
    }
}

fn tiny(lr: f64) -> TrainConfig {
    TrainConfig {
        data: "shapes".into(),
        model: "smallcnn".into(),
        epochs: 2,
        batch: 32,
        lr,
        optimizer: "sgd".into(),
        weight_decay: 5e-4,
        schedule: "constant".into(),
        label_smoothing: 0.0,
        normalization: Normalization::ChannelMeanStd,
        augment: Augment::none(),
        seed: 3,
        limit: Some(96),
        val: Some(32),
        fast: None,
        ..TrainConfig::demo()
    }
}

#[test]
fn equal_states_give_byte_identical_checkpoints() {
    // the metadata is a HashMap: without sorting, its order (and the file's bytes) changes from map to map
    let dir = scratch("bytes");
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 1).unwrap();
    let files: Vec<Vec<u8>> = (0..6)
        .map(|i| {
            let path = dir.join(format!("{i}.safetensors"));
            checkpoint::save(&path, &mut model, &meta()).unwrap();
            std::fs::read(&path).unwrap()
        })
        .collect();
    assert!(files.iter().all(|f| f == &files[0]), "the same state gave different bytes");
    // still a valid safetensors file with an 8-aligned header, read back exactly
    let n = u64::from_le_bytes(files[0][..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0);
    let (loaded, m) = checkpoint::load(&dir.join("0.safetensors")).unwrap();
    assert_eq!(m, meta());
    assert_eq!(loaded.arch, Arch::SmallCnn);
}

#[test]
fn a_diverging_training_stops_and_leaves_no_checkpoint() {
    let dir = scratch("diverge");
    let run = RunDir::new(dir.join("run"));
    let err = train::train(&tiny(1e30), &run, false, &AtomicBool::new(false)).unwrap_err().to_string();
    assert!(err.contains("diverged at epoch 1/2") && err.contains("--lr 1e30"), "{err}");
    assert!(err.contains("no checkpoint was written"), "{err}");
    for file in ["best.safetensors", "last.safetensors", "optimizer.safetensors"] {
        assert!(!run.path.join(file).exists(), "{file} was written");
    }
    // a sane learning rate in a fresh folder trains
    let ok = RunDir::new(dir.join("ok"));
    assert!(train::train(&tiny(0.05), &ok, false, &AtomicBool::new(false)).is_ok());
}

#[test]
fn checkpoints_with_non_finite_values_are_refused() {
    let dir = scratch("nan");
    let path = dir.join("m.safetensors");
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap();
    let mut poisoned = false;
    model.visit_state("", &mut |name, t, _| {
        if name == "3.weight" {
            t.data_mut()[7] = f32::NAN;
            t.data_mut()[8] = f32::INFINITY;
            poisoned = true;
        }
    });
    assert!(poisoned);
    checkpoint::save(&path, &mut model, &meta()).unwrap();
    let err = checkpoint::load(&path).unwrap_err().to_string();
    assert!(err.contains("m.safetensors") && err.contains("'3.weight' holds 2 non-finite values"), "{err}");
}

#[test]
fn malformed_input_metadata_is_named() {
    let dir = scratch("input-meta");
    let path = dir.join("m.safetensors");
    checkpoint::save(&path, &mut Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap(), &meta()).unwrap();
    let (_, mut info) = checkpoint::read_tensors(&path).unwrap();
    for bad in ["axbxc", "3x32", "3x0x32", "3x32x32x1", ""] {
        info.insert("cnnlab.input".into(), bad.into());
        let err = checkpoint::parse_meta(&path, &info).unwrap_err().to_string();
        assert!(err.contains("'cnnlab.input' is malformed") && err.contains("CxHxW"), "{bad}: {err}");
    }
}

#[test]
fn settings_that_cannot_train_are_errors() {
    let dir = scratch("hopeless");
    let run = |cfg: TrainConfig, name: &str| {
        train::train(&cfg, &RunDir::new(dir.join(name)), false, &AtomicBool::new(false)).unwrap_err().to_string()
    };
    // one image left: every batch would be skipped, and the run would report a loss of 0
    let err = run(TrainConfig { limit: Some(1), ..tiny(0.05) }, "one");
    assert!(err.contains("1 training image") && err.contains("BatchNorm"), "{err}");
    let far = Augment { crop_padding: 1000, ..Augment::none() };
    let err = run(TrainConfig { augment: far, ..tiny(0.05) }, "pad");
    assert!(err.contains("--crop-padding") && err.contains("out of view"), "{err}");
    let far = Augment { translate: 32, ..Augment::none() };
    let err = run(TrainConfig { augment: far, ..tiny(0.05) }, "shift");
    assert!(err.contains("--translate"), "{err}");
}

#[test]
fn malformed_optimizer_state_is_refused_on_resume() {
    let dir = scratch("opt-state");
    let cfg = tiny(0.05);
    let run = RunDir::new(dir.join("run"));
    // Ctrl-C already pressed: one step, then last.safetensors and optimizer.safetensors
    assert!(train::train(&cfg, &run, false, &AtomicBool::new(true)).is_ok());
    let path = run.path.join("optimizer.safetensors");
    let (state, meta) = checkpoint::read_tensors(&path).unwrap();
    let rewrite = |edit: &dyn Fn(&str, Vec<f32>) -> Vec<f32>| {
        let tensors: Vec<_> = state
            .iter()
            .map(|(k, (_, v))| {
                let v = edit(k, v.clone());
                (k.clone(), vec![v.len()], v, cnnlab::nn::StateKind::Parameter)
            })
            .collect();
        checkpoint::write_tensors(&path, &tensors, meta.clone()).unwrap();
        train::train(&cfg, &run, true, &AtomicBool::new(false)).unwrap_err().to_string()
    };
    let err = rewrite(&|k, mut v| {
        if k == "velocity/0.weight" {
            v.truncate(5);
        }
        v
    });
    assert!(err.contains("optimizer.safetensors") && err.contains("'velocity/0.weight' holds 5 values"), "{err}");
    let err = rewrite(&|k, mut v| {
        if k == "velocity/3.weight" {
            v[0] = f32::NAN;
        }
        v
    });
    assert!(err.contains("'velocity/3.weight' holds NaN"), "{err}");
}

#[test]
fn preprocessing_metadata_is_checked_against_the_input() {
    let dir = scratch("pre-meta");
    let path = dir.join("m.safetensors");
    checkpoint::save(&path, &mut Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap(), &meta()).unwrap();
    let (_, mut info) = checkpoint::read_tensors(&path).unwrap();
    let two_means = r#"{"mode":"channel-mean-std","shape":[3,32,32],"mean":[0.5,0.5],"std":[0.2,0.2,0.2]}"#;
    let zero_std = r#"{"mode":"channel-mean-std","shape":[3,32,32],"mean":[0.5,0.5,0.5],"std":[0.2,0.0,0.2]}"#;
    let other_shape = r#"{"mode":"channel-mean","shape":[1,28,28],"mean":[0.5],"std":[1.0]}"#;
    for (bad, says) in [(two_means, "2 means"), (zero_std, "positive"), (other_shape, "[1, 28, 28]")] {
        info.insert("cnnlab.preprocessing".into(), bad.into());
        let err = checkpoint::parse_meta(&path, &info).unwrap_err().to_string();
        assert!(err.contains("'cnnlab.preprocessing' is malformed") && err.contains(says), "{err}");
    }
}

#[test]
fn resume_refuses_options_it_would_ignore() {
    let dir = scratch("resume-flags");
    let run = common::tiny_run(&dir, "smallcnn");
    for flags in [&["--lr", "0.1"][..], &["--data", "cifar10"], &["--model", "resnet20"], &["--seed", "4"]] {
        let mut args = vec!["train", "--resume", "--out", &run];
        args.extend_from_slice(flags);
        let (code, _, stderr) = common::cli(&args);
        assert_ne!(code, 0, "{flags:?} was accepted");
        assert!(stderr.contains(&format!("{} with --resume", flags[0])) && stderr.contains("config.json"), "{stderr}");
    }
    // --epochs extends the run
    let (code, _, stderr) = common::cli(&["train", "--resume", "--epochs", "2", "--out", &run]);
    assert_eq!(code, 0, "{stderr}");
}

/// A .tar.gz holding one member whose 512-byte header is `header` (checksum fixed), then `data`.
fn tar_gz_with(path: &std::path::Path, mut header: tar::Header, data: &[u8]) {
    use std::io::Write;
    header.set_cksum();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(header.as_bytes()).unwrap();
    gz.write_all(data).unwrap();
    gz.write_all(&[0u8; 1024]).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

#[test]
fn archive_members_that_claim_absurd_sizes_or_hold_binary_headers_are_refused_cleanly() {
    let dir = scratch("archive");
    let read_all = |path: &std::path::Path| {
        cnnlab::data::archive::for_each_member(path, |_, read| read().map(|_| true)).unwrap_err().to_string()
    };
    // a header that claims 10^15 bytes: refused before anything is allocated
    let huge = dir.join("huge.tar.gz");
    let mut header = tar::Header::new_gnu();
    header.set_path("cifar-10-batches-bin/data_batch_1.bin").unwrap();
    header.set_size(1_000_000_000_000_000);
    header.set_entry_type(tar::EntryType::Regular);
    tar_gz_with(&huge, header, b"tiny");
    let err = read_all(&huge);
    assert!(err.contains("huge.tar.gz") && err.contains("claims 1000000000000000 bytes"), "{err}");
    // raw bytes in the size field: the message escapes them instead of printing them
    let binary = dir.join("binary.tar.gz");
    let mut header = tar::Header::new_old();
    header.set_path("a.bin").unwrap();
    header.as_old_mut().size = [0x01, 0xfe, 0x9b, 0x07, 0xff, 0x80, 0x1b, 0x02, 0x03, 0x04, 0x05, 0x06];
    tar_gz_with(&binary, header, b"");
    let err = read_all(&binary);
    assert!(err.contains("binary.tar.gz"), "{err}");
    assert!(!err.chars().any(|c| c.is_control() || c == '\u{fffd}'), "raw bytes in the message: {err:?}");
}

#[test]
fn weights_that_overflow_give_an_error_never_p_nan() {
    let dir = scratch("overflow");
    let path = dir.join("m.safetensors");
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap();
    // finite, but the class scores Σ_k w_k^c · mean(f_k) overflow float32
    model.visit_state("", &mut |name, t, _| {
        if name == "22.weight" {
            t.data_mut().iter_mut().for_each(|w| *w = 3e38);
        }
    });
    checkpoint::save(&path, &mut model, &meta()).unwrap();
    let image = dir.join("grey.png");
    image::RgbImage::from_pixel(32, 32, image::Rgb([90, 120, 200])).save(&image).unwrap();
    let out = dir.join("out");
    for method in ["cam", "gradcam", "saliency"] {
        let args = ["explain", "--run", path.to_str().unwrap(), "--image", image.to_str().unwrap(), "--method", method];
        let (code, stdout, err) = common::cli(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
        assert_ne!(code, 0, "{method}: {stdout}");
        assert!(!stdout.contains("NaN") && !err.contains("NaN"), "{method}: {stdout}{err}");
        assert!(err.contains("class scores not finite") && err.contains("grey.png"), "{method}: {err}");
    }
}

#[test]
fn one_writer_per_run_folder_and_a_kill_before_the_first_checkpoint_starts_afresh() {
    let dir = scratch("one-writer");
    let out = dir.join("run");
    let out_s = out.to_str().unwrap();
    // a long first epoch: the lock is held long before any checkpoint
    let mut first = std::process::Command::new(env!("CARGO_BIN_EXE_cnnlab"))
        .args(["train", "--epochs", "3", "--val", "100", "--out", out_s])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = first.id().to_string();
    let lock = out.join(cnnlab::lock::LOCK_FILE);
    let waited = std::time::Instant::now();
    while std::fs::read_to_string(&lock).unwrap_or_default() != pid || !out.join("config.json").exists() {
        assert!(waited.elapsed().as_secs() < 60, "the first training never locked its folder");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // every other writer of the folder is refused by name, while the first runs
    let second: [&[&str]; 2] =
        [&["train", "--epochs", "1", "--limit", "64", "--out", out_s], &["train", "--resume", "--out", out_s]];
    for args in second {
        let (code, _, err) = common::cli(args);
        assert_ne!(code, 0, "{args:?} ran beside the first training");
        assert!(err.contains("run") && err.contains(&format!("in use: process {pid}")), "{args:?}: {err}");
    }
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(!out.join("last.safetensors").exists(), "killed before its first checkpoint");
    // the dead process's lock does not block; its half-written file is cleaned up; train accepts the folder
    std::fs::write(out.join(".last.safetensors.999999.tmp"), b"half a checkpoint").unwrap();
    let (code, _, err) = common::cli(&["train", "--epochs", "1", "--limit", "64", "--val", "32", "--out", out_s]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("ended before its first checkpoint; starting it afresh"), "{err}");
    assert!(!out.join(".last.safetensors.999999.tmp").exists());
    assert!(out.join("last.safetensors").exists());
    // a run with a checkpoint is still protected
    let (code, _, err) = common::cli(&["train", "--epochs", "1", "--limit", "64", "--val", "32", "--out", out_s]);
    assert_ne!(code, 0);
    assert!(err.contains("already holds a run"), "{err}");
    // commands that write into the run wait their turn too: here this test process holds it
    let held = cnnlab::lock::FolderLock::acquire(&out).unwrap();
    let me = std::process::id();
    let writers: [&[&str]; 3] = [
        &["eval", "--run", out_s],
        &["explain", "--run", out_s, "--index", "0"],
        &["train", "--resume", "--out", out_s],
    ];
    for args in writers {
        let (code, _, err) = common::cli(args);
        assert_ne!(code, 0, "{args:?} wrote into a locked run");
        assert!(err.contains(&format!("in use: process {me}")), "{args:?}: {err}");
    }
    drop(held);
    let (code, _, err) = common::cli(&["eval", "--run", out_s]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_folder_that_cannot_be_written_fails_before_any_work() {
    let dir = scratch("unwritable");
    let run = common::tiny_run(&dir, "smallcnn");
    // a lock file that cannot be opened for writing stands for a folder that
    // cannot be written (modes do not stop root, who runs CI)
    let lock = std::path::Path::new(&run).join(cnnlab::lock::LOCK_FILE);
    std::fs::remove_file(&lock).unwrap();
    std::fs::create_dir(&lock).unwrap();
    let (code, out, err) = common::cli(&["eval", "--run", &run]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("cannot write into this folder") && !out.contains("accuracy"), "{out}{err}");
    assert!(!std::path::Path::new(&run).join("eval.json").exists());
}

#[test]
fn a_checkpoint_file_without_tensors_is_written_and_read_back() {
    // safetensors 0.8 itself writes an invalid header for this case
    let dir = scratch("no-tensors");
    let path = dir.join("empty.safetensors");
    let meta = std::collections::HashMap::from([("k".to_string(), "v".to_string())]);
    checkpoint::write_tensors(&path, &[], meta.clone()).unwrap();
    let (tensors, read) = checkpoint::read_tensors(&path).unwrap();
    assert!(tensors.is_empty());
    assert_eq!(read, meta);
    checkpoint::write_tensors(&path, &[], Default::default()).unwrap();
    assert!(checkpoint::read_tensors(&path).unwrap().0.is_empty());
}
