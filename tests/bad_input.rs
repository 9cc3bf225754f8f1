//! Every input from outside gets a clear error naming the file or argument; nothing panics; nothing written is damaged.

mod common;
use cnnlab::data::{self, cifar, DataSpec, Dataset};
use cnnlab::io::write_atomic;
use common::scratch;
use std::path::Path;
use std::process::Command;

/// `n` CIFAR-shaped records with labels 0..n % 10 and pixel value = label.
fn fake_cifar(n: usize) -> Dataset {
    let mut d =
        Dataset { classes: cifar::CLASSES.map(String::from).to_vec(), shape: [3, 32, 32], ..Dataset::default() };
    for i in 0..n {
        d.labels.push(i % 10);
        d.images.extend(std::iter::repeat_n((i % 10) as u8 * 20, 3072));
    }
    d
}

fn write_cifar_dir(dir: &Path, records: usize) {
    for name in cifar::TRAIN_FILES.iter().chain([&cifar::TEST_FILE]) {
        std::fs::write(dir.join(name), cifar::encode_batch(&fake_cifar(records))).unwrap();
    }
}

fn error_of<T: std::fmt::Debug>(r: cnnlab::io::Result<T>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn cifar_binary_folder_and_archive_load() {
    let dir = scratch("cifar-ok");
    write_cifar_dir(&dir, 12);
    let splits = data::load_path(&dir).unwrap();
    assert_eq!((splits.train.len(), splits.test.len()), (60, 12));
    assert_eq!(splits.train.labels[13], 1); // second file, second record
    assert_eq!(splits.train.image(13)[5], 20);
    // the same batches inside a .tar.gz, as the official archive holds them
    let archive = dir.join("cifar-10-binary.tar.gz");
    let mut tar =
        tar::Builder::new(flate2::write::GzEncoder::new(std::fs::File::create(&archive).unwrap(), Default::default()));
    for name in cifar::TRAIN_FILES.iter().chain([&cifar::TEST_FILE]) {
        tar.append_path_with_name(dir.join(name), format!("cifar-10-batches-bin/{name}")).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap();
    let from_archive = data::load_path(&archive).unwrap();
    assert_eq!(from_archive.train.images, splits.train.images);
}

#[test]
fn truncated_cifar_batch_is_named() {
    let dir = scratch("cifar-truncated");
    write_cifar_dir(&dir, 4);
    let file = dir.join("data_batch_3.bin");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() - 100]).unwrap();
    let err = error_of(data::load_path(&dir));
    assert!(err.contains("data_batch_3.bin") && err.contains("3073-byte"), "{err}");
}

#[test]
fn cifar_label_out_of_range_is_named() {
    let mut bytes = cifar::encode_batch(&fake_cifar(3));
    bytes[cifar::RECORD] = 11; // second record's label
    let err = error_of(cifar::parse_batch(Path::new("test_batch.bin"), &bytes));
    assert!(err.contains("test_batch.bin") && err.contains("record 1 has label 11"), "{err}");
}

#[test]
fn missing_cifar_file_is_named() {
    let dir = scratch("cifar-missing");
    write_cifar_dir(&dir, 2);
    std::fs::remove_file(dir.join("test_batch.bin")).unwrap();
    let err = error_of(data::load_path(&dir));
    assert!(err.contains("test_batch.bin"), "{err}");
}

#[test]
fn corrupt_archive_is_named() {
    let dir = scratch("corrupt-archive");
    let file = dir.join("data.tar.gz");
    std::fs::write(&file, b"this is not gzip at all").unwrap();
    let err = error_of(data::load_path(&file));
    assert!(err.contains("data.tar.gz") && err.contains(".tar.gz"), "{err}");
}

/// Writes an image folder tree with `w×h` PNGs for classes a and b.
fn write_folder(root: &Path, w: u32, h: u32) {
    for split in ["train", "test"] {
        for (c, class) in ["a", "b"].iter().enumerate() {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            for i in 0..3 {
                let img = image::RgbImage::from_pixel(w, h, image::Rgb([c as u8 * 100, i * 10, 7]));
                img.save(dir.join(format!("{i}.png"))).unwrap();
            }
        }
    }
}

#[test]
fn image_folder_loads_from_folder_and_archive() {
    let dir = scratch("folder-ok");
    write_folder(&dir.join("mine"), 8, 6);
    let splits = data::load_path(&dir.join("mine")).unwrap();
    assert_eq!(splits.train.classes, ["a", "b"]);
    assert_eq!(splits.train.shape, [3, 6, 8]);
    assert_eq!(splits.train.len(), 6);
    assert_eq!(splits.train.image(3)[0], 100); // class b, red plane
    let archive = dir.join("mine.tar.gz");
    let mut tar =
        tar::Builder::new(flate2::write::GzEncoder::new(std::fs::File::create(&archive).unwrap(), Default::default()));
    tar.append_dir_all("mine", dir.join("mine")).unwrap();
    tar.into_inner().unwrap().finish().unwrap();
    assert_eq!(data::load_path(&archive).unwrap().train.images, splits.train.images);
}

#[test]
fn missing_class_folder_is_named() {
    let dir = scratch("folder-missing-class");
    write_folder(&dir, 8, 8);
    std::fs::remove_dir_all(dir.join("test").join("b")).unwrap();
    let err = error_of(data::load_path(&dir));
    assert!(err.contains("test/b/"), "{err}");
}

#[test]
fn unreadable_image_is_named() {
    let dir = scratch("folder-unreadable");
    write_folder(&dir, 8, 8);
    std::fs::write(dir.join("train/a/1.png"), b"garbage").unwrap();
    let err = error_of(data::load_path(&dir));
    assert!(err.contains("train/a/1.png") && err.contains("unreadable"), "{err}");
}

#[test]
fn odd_sized_image_is_named() {
    let dir = scratch("folder-odd-size");
    write_folder(&dir, 8, 8);
    image::RgbImage::new(8, 9).save(dir.join("train/b/2.png")).unwrap();
    let err = error_of(data::load_path(&dir));
    assert!(err.contains("train/b/2.png") && err.contains("8x9"), "{err}");
}

#[test]
fn missing_path_and_bad_spec_are_named() {
    let err = error_of(data::load(&DataSpec::Path("/no/such/cifar".into()), 0));
    assert!(err.contains("/no/such/cifar") && err.contains("no such"), "{err}");
}

#[test]
fn atomic_write_leaves_the_old_file_on_failure() {
    let dir = scratch("atomic");
    let file = dir.join("model.safetensors");
    std::fs::write(&file, b"old contents").unwrap();
    let result = write_atomic(&file, |w| {
        w.write_all(b"half of the new")?;
        Err(std::io::Error::other("crash in the middle"))
    });
    assert!(result.is_err());
    assert_eq!(std::fs::read(&file).unwrap(), b"old contents");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left behind");
}

/// Runs the CLI and returns (exit code, stderr).
fn cli(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cnnlab")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn nonsense_cli_values_are_refused_by_name() {
    let dir = scratch("cli");
    let out = dir.join("run");
    let out = out.to_str().unwrap();
    for (args, expected) in [
        (vec!["train", "--batch", "0", "--out", out], "--batch"),
        (vec!["train", "--lr", "-0.1", "--out", out], "--lr"),
        (vec!["train", "--lr", "nan", "--out", out], "--lr"),
        (vec!["train", "--epochs", "0", "--out", out], "--epochs"),
        (vec!["train", "--model", "alexnet", "--out", out], "unknown model 'alexnet'"),
        (vec!["train", "--schedule", "sometimes", "--out", out], "--schedule"),
        (vec!["train", "--optimizer", "rmsprop", "--out", out], "--optimizer"),
        (vec!["train", "--cutout", "33", "--out", out], "--cutout: 33 is larger than the 32x32"),
        (vec!["train", "--normalization", "zca", "--out", out], "unknown normalisation"),
        (vec!["train", "--data", "/no/such/data", "--out", out], "/no/such/data"),
        (vec!["eval", "--run", "/no/such/run"], "/no/such/run"),
        (vec!["eval", "--run", "/no/such/run", "--tta", "crop"], "unknown test-time augmentation 'crop'"),
        (vec!["bench", "--batch", "0"], "--batch"),
    ] {
        let (code, stderr) = cli(&args);
        assert_eq!(code, 2, "{args:?} should fail with code 2; stderr: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: stderr does not mention {expected}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    }
    assert!(!Path::new(out).join("config.json").exists(), "a refused run must not write anything");
}

/// Runs `f` on another thread and fails if it has not returned within 20 s (a hang).
fn within_seconds<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || send.send(f()));
    receive.recv_timeout(std::time::Duration::from_secs(20)).unwrap_or_else(|_| panic!("{what} hangs"))
}

#[test]
fn fifos_are_refused_instead_of_read_forever() {
    let dir = scratch("fifo");
    write_folder(&dir.join("mine"), 8, 6);
    let mkfifo = |path: &Path| Command::new("mkfifo").arg(path).status().map(|s| s.success()).unwrap_or(false);
    if !mkfifo(&dir.join("mine/train/a/x.png")) {
        eprintln!("skipped: no mkfifo on this system");
        return;
    }
    let root = dir.join("mine");
    let err = within_seconds("an image tree holding a FIFO", move || error_of(data::load_path(&root)));
    assert!(err.contains("x.png") && err.contains("not a regular file"), "{err}");
    for name in ["data.tar.gz", "model.safetensors"] {
        let fifo = dir.join(name);
        assert!(mkfifo(&fifo));
        let err = if name.ends_with(".tar.gz") {
            within_seconds(name, move || error_of(data::load_path(&fifo)))
        } else {
            within_seconds(name, move || error_of(cnnlab::checkpoint::load(&fifo)))
        };
        assert!(err.contains(name) && err.contains("not a") && err.contains("FIFO"), "{err}");
    }
}

#[test]
fn negative_numbers_get_a_range_error_not_an_unknown_argument() {
    for (args, expected) in [
        (&["localize", "--run", "x", "--threshold", "-0.1"][..], "'-0.1' is not a fraction in [0, 1)"),
        (&["explain", "--run", "x", "--index", "-1"][..], "invalid value '-1' for '--index"),
    ] {
        let (code, _, err) = common::cli(args);
        assert_ne!(code, 0);
        assert!(err.contains(expected) && !err.contains("unexpected argument"), "{args:?}: {err}");
    }
}

#[test]
fn eval_on_data_with_other_class_names_is_refused_and_eval_json_names_its_data() {
    let dir = scratch("eval-classes");
    let run = common::tiny_run(&dir, "smallcnn");
    // ten classes of 32×32 images, but CIFAR-10's names: scoring them would compare circles with airplanes
    let cifar = dir.join("cifar");
    std::fs::create_dir_all(&cifar).unwrap();
    write_cifar_dir(&cifar, 20);
    let (code, out, err) = common::cli(&["eval", "--run", &run, "--data", cifar.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("class 0") && err.contains("'airplane'") && err.contains("'circle'"), "{err}");
    let (code, _, err) = common::cli(&["eval", "--run", &run]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&run).join("eval.json")).unwrap()).unwrap();
    assert_eq!(report["data"], "shapes");
}

#[test]
fn a_bench_batch_that_cannot_fit_in_memory_is_an_error_not_an_abort() {
    if cnnlab::bench::available_memory().is_none() {
        eprintln!("skipped: the available memory is not known on this system");
        return;
    }
    let (code, _, err) = common::cli(&["bench", "--batch", "100000000", "--steps", "1"]);
    assert_eq!(code, 2, "an error exit, not an abort: {err}");
    assert!(err.contains("--batch 100000000") && err.contains("GiB of memory is available"), "{err}");
}
