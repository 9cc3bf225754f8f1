//! Writes the seed files of the fuzz targets (`fuzz/corpus/<target>/`): small valid files of every kind, so
//! that the fuzzer starts from inputs that reach deep into each reader.
//!
//! cargo run --manifest-path fuzz/Cargo.toml --bin make-corpus

use cnnlab::checkpoint::{self, CheckpointMeta, EpochSoFar};
use cnnlab::data::preprocess::{Normalization, Preprocessing};
use cnnlab::data::{cifar, Dataset};
use cnnlab::models::{Arch, Model};
use cnnlab::nn::{Module, StateKind};
use cnnlab::regression::Task;
use cnnlab::train::{EpochMetrics, TrainConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn meta(arch: Arch, classes: usize, task: Task) -> CheckpointMeta {
    CheckpointMeta {
        arch,
        input: [3, 32, 32],
        classes: (0..classes).map(|i| format!("c{i}")).collect(),
        preprocessing: Preprocessing {
            mode: Normalization::ChannelMeanStd,
            shape: [3, 32, 32],
            mean: vec![0.5, 0.4, 0.3],
            std: vec![0.2, 0.2, 0.2],
        },
        epoch: 1,
        step: 0,
        so_far: EpochSoFar::default(),
        task,
    }
}

/// A checkpoint's metadata with only the first `keep` tensors (small seeds that still reach `parse_meta`).
fn checkpoint_seed(out: &Path, arch: Arch, classes: usize, task: Task, keep: usize) {
    let path = out.with_extension("full");
    let outputs = task.outputs(classes);
    let mut model = Model::new(arch, outputs, [3, 32, 32], 0).unwrap();
    checkpoint::save(&path, &mut model, &meta(arch, classes, task)).unwrap();
    let (tensors, info) = checkpoint::read_tensors(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    let kept: Vec<_> = names
        .into_iter()
        .take(keep)
        .map(|n| (n.clone(), tensors[n].0.clone(), tensors[n].1.clone(), StateKind::Parameter))
        .collect();
    checkpoint::write_tensors(out, &kept, info).unwrap();
}

fn png(img: &image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut bytes = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut bytes), format).unwrap();
    bytes
}

fn main() {
    let dir = corpus("checkpoint");
    checkpoint_seed(&dir.join("smallcnn-meta"), Arch::SmallCnn, 10, Task::Classify, 0);
    checkpoint_seed(&dir.join("vggfc-meta"), Arch::VggFc, 2, Task::Classify, 1);
    checkpoint_seed(&dir.join("resnet20-localize"), Arch::ResNet20, 10, Task::Localize, 2);
    checkpoint_seed(&dir.join("fastcnn-meta"), Arch::FastCnn, 10, Task::Classify, 0);
    checkpoint_seed(&dir.join("smallcnn-pose"), Arch::SmallCnn, 1, Task::Pose, 3);
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap();

    let dir = corpus("optimizer_state");
    let mut state = Vec::new();
    model.visit_state("", &mut |name, t, _| {
        if state.len() < 3 {
            state.push((format!("velocity/{name}"), vec![t.numel()], vec![0.01; t.numel()], StateKind::Buffer));
        }
    });
    state.push(("t/0.weight".into(), vec![1], vec![3.0], StateKind::Buffer));
    checkpoint::write_tensors(&dir.join("sgd-velocity"), &state, HashMap::new()).unwrap();
    checkpoint::write_tensors(&dir.join("empty"), &[], HashMap::new()).unwrap();

    let dir = corpus("cifar_batch");
    let mut d =
        Dataset { classes: cifar::CLASSES.map(String::from).to_vec(), shape: [3, 32, 32], ..Dataset::default() };
    for i in 0..3u8 {
        d.labels.push(i as usize);
        d.images.extend((0..3072).map(|p| (p as u8).wrapping_mul(i + 1)));
    }
    std::fs::write(dir.join("three-records"), cifar::encode_batch(&d)).unwrap();

    let dir = corpus("image_file");
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(32, 32, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 8) as u8, ((x + y) * 4) as u8])
    }));
    let grey = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(9, 7, |x, y| image::Luma([(x * y) as u8])));
    std::fs::write(dir.join("rgb.png"), png(&img, image::ImageFormat::Png)).unwrap();
    std::fs::write(dir.join("rgb.jpg"), png(&img, image::ImageFormat::Jpeg)).unwrap();
    std::fs::write(dir.join("grey.png"), png(&grey, image::ImageFormat::Png)).unwrap();

    let dir = corpus("tar_gz");
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in [
        ("set/train/a/0.png", png(&img, image::ImageFormat::Png)),
        ("set/test/a/0.png", png(&grey, image::ImageFormat::Png)),
        ("set/train/boxes.csv", b"a/0.png,1,1,5,5\n".to_vec()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes.as_slice()).unwrap();
    }
    std::fs::write(dir.join("image-tree.tar.gz"), tar.into_inner().unwrap().finish().unwrap()).unwrap();

    let dir = corpus("run_json");
    let cfg = TrainConfig { task: Task::Localize, ..TrainConfig::demo() };
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    let m = EpochMetrics { epoch: 1, train_loss: 0.5, val_accuracy: 0.9, ..Default::default() };
    std::fs::write(dir.join("metrics.jsonl"), serde_json::to_string(&m).unwrap() + "\n").unwrap();

    let dir = corpus("annotations");
    std::fs::write(
        dir.join("boxes.csv"),
        "file,x0,y0,x1,y1\na/0.png,0,0,8,8\na/1.png,1,2,3,4\na/2.png,0,0,1,1\na/3.png,2,2,6,7\n",
    )
    .unwrap();
    std::fs::write(dir.join("keypoints.csv"), "a/0.png,1,2,3,4\na/1.png,5,6,7,8\na/2.png,0,0,8,8\na/3.png,1,1,1,1\n")
        .unwrap();
    println!("wrote the seed corpora under {}", Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").display());
}
