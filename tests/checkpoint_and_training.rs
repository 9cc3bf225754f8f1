//! Checkpoints match PyTorch's state_dict, round-trip exactly, refuse mismatches; runs resume exactly.

mod common;
use cnnlab::checkpoint::{self, CheckpointMeta, EpochSoFar};
use cnnlab::data::augment::Augment;
use cnnlab::data::preprocess::Normalization;
use cnnlab::models::{Arch, Model};
use cnnlab::nn::{self, Module};
use cnnlab::train::{self, EpochMetrics, Outcome, RunDir, TrainConfig};
use cnnlab::{no_grad, Tensor};
use common::scratch;
use rand::SeedableRng;
use std::path::Path;
use std::sync::atomic::AtomicBool;

fn meta(arch: Arch, classes: usize) -> CheckpointMeta {
    common::checkpoint_meta(arch, [3, 32, 32], classes)
}

/// The state_dict of torch_smallcnn.py's `nn.Sequential`: (name, shape, is int64).
fn pytorch_smallcnn_state_dict() -> Vec<(String, Vec<usize>, bool)> {
    let mut out = vec![];
    let convs = [(0, 3, 32), (3, 32, 32), (7, 32, 64), (10, 64, 64), (14, 64, 128), (17, 128, 128)];
    for (i, c_in, c_out) in convs {
        out.push((format!("{i}.weight"), vec![c_out, c_in, 3, 3], false));
        for p in ["weight", "bias", "running_mean", "running_var"] {
            out.push((format!("{}.{p}", i + 1), vec![c_out], false));
        }
        out.push((format!("{}.num_batches_tracked", i + 1), vec![], true));
    }
    out.push(("22.weight".into(), vec![10, 128], false));
    out.push(("22.bias".into(), vec![10], false));
    out
}

#[test]
fn smallcnn_checkpoint_matches_pytorch_state_dict() {
    let dir = scratch("pytorch-names");
    let path = dir.join("smallcnn.safetensors");
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap();
    checkpoint::save(&path, &mut model, &meta(Arch::SmallCnn, 10)).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<&str> = file.names();
    names.sort();
    let expected = pytorch_smallcnn_state_dict();
    let mut expected_names: Vec<&str> = expected.iter().map(|e| e.0.as_str()).collect();
    expected_names.sort();
    assert_eq!(names, expected_names);
    for (name, shape, int64) in &expected {
        let t = file.tensor(name).unwrap();
        assert_eq!(t.shape(), &shape[..], "{name}");
        let dtype = if *int64 { safetensors::Dtype::I64 } else { safetensors::Dtype::F32 };
        assert_eq!(t.dtype(), dtype, "{name}");
    }
}

#[test]
fn resnet20_has_the_usual_names_and_size() {
    let mut model = Model::new(Arch::ResNet20, 10, [3, 32, 32], 0).unwrap();
    let names: Vec<String> = nn::state_tensors(&mut model).into_iter().map(|(n, _, _)| n).collect();
    for n in [
        "conv1.weight",
        "bn1.running_var",
        "layer1.0.conv1.weight",
        "layer2.0.bn2.num_batches_tracked",
        "layer3.2.conv2.weight",
        "linear.bias",
    ] {
        assert!(names.iter().any(|m| m == n), "missing {n}");
    }
    assert_eq!(nn::parameter_count(&mut model), 269_722);
    let x = Tensor::randn(&[2, 3, 32, 32], &mut rand::rngs::StdRng::seed_from_u64(0));
    assert_eq!(model.forward(&x).shape(), &[2, 10]);
}

#[test]
fn every_model_runs_at_cifar_and_other_sizes() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for arch in Arch::ALL {
        for (h, w) in [(32, 32), (64, 48)] {
            let mut model = Model::new(arch, 7, [3, h, w], 0).unwrap();
            let y = model.forward(&Tensor::randn(&[2, 3, h, w], &mut rng));
            assert_eq!(y.shape(), &[2, 7], "{arch} at {h}x{w}");
        }
    }
    assert!(Model::new(Arch::VggFc, 10, [3, 30, 30], 0).is_err());
}

#[test]
fn checkpoint_round_trip_is_exact() {
    let dir = scratch("round-trip");
    let path = dir.join("m.safetensors");
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 5).unwrap();
    let x = Tensor::randn(&[4, 3, 32, 32], &mut rng);
    model.forward(&x); // training mode: running statistics move
                       // as Ctrl-C saves it: part-way through an epoch, with the epoch's running totals
    let so_far = EpochSoFar { loss_sum: 123.456_789_012_345_67, correct: 40, seen: 96, seconds: 0.1 + 0.2 };
    let interrupted = CheckpointMeta { step: 3, so_far, ..meta(Arch::SmallCnn, 10) };
    checkpoint::save(&path, &mut model, &interrupted).unwrap();
    let (mut loaded, m) = checkpoint::load(&path).unwrap();
    assert_eq!(m, interrupted);
    // a checkpoint from before the totals were saved reads with zero totals; a garbled one is refused
    let (_, mut info) = checkpoint::read_tensors(&path).unwrap();
    info.insert("cnnlab.epoch_so_far".into(), "{\"loss_sum\": 1.0".into());
    let err = checkpoint::parse_meta(&path, &info).unwrap_err().to_string();
    assert!(err.contains("m.safetensors") && err.contains("'cnnlab.epoch_so_far' is malformed"), "{err}");
    info.remove("cnnlab.epoch_so_far");
    assert_eq!(checkpoint::parse_meta(&path, &info).unwrap().so_far, EpochSoFar::default());
    model.set_training(false);
    loaded.set_training(false);
    assert_eq!(no_grad(|| model.forward(&x)).data(), no_grad(|| loaded.forward(&x)).data());
}

#[test]
fn mismatched_checkpoints_are_refused_by_name() {
    let dir = scratch("mismatch");
    let resnet = dir.join("resnet.safetensors");
    let mut model = Model::new(Arch::ResNet20, 10, [3, 32, 32], 0).unwrap();
    checkpoint::save(&resnet, &mut model, &meta(Arch::ResNet20, 10)).unwrap();
    let (tensors, _) = checkpoint::read_tensors(&resnet).unwrap();
    let mut small = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap();
    let err = checkpoint::load_state(&resnet, &mut small, tensors).unwrap_err().to_string();
    assert!(err.contains("resnet.safetensors") && err.contains("'0.weight'") && err.contains("missing"), "{err}");

    let ten = dir.join("ten.safetensors");
    checkpoint::save(&ten, &mut Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap(), &meta(Arch::SmallCnn, 10))
        .unwrap();
    let (tensors, _) = checkpoint::read_tensors(&ten).unwrap();
    let mut two = Model::new(Arch::SmallCnn, 2, [3, 32, 32], 0).unwrap();
    let err = checkpoint::load_state(&ten, &mut two, tensors).unwrap_err().to_string();
    assert!(err.contains("'22.weight'") && err.contains("[10, 128]"), "{err}");

    let garbage = dir.join("garbage.safetensors");
    std::fs::write(&garbage, b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all").unwrap();
    let err = checkpoint::load(&garbage).unwrap_err().to_string();
    assert!(err.contains("garbage.safetensors") && err.contains("not a valid safetensors"), "{err}");

    let plain = dir.join("plain.safetensors");
    checkpoint::write_tensors(
        &plain,
        &[("w".into(), vec![1], vec![1.0], nn::StateKind::Parameter)],
        Default::default(),
    )
    .unwrap();
    let err = checkpoint::load(&plain).unwrap_err().to_string();
    assert!(err.contains("not a cnnlab checkpoint"), "{err}");
}

fn tiny_config() -> TrainConfig {
    TrainConfig {
        data: "shapes".into(),
        model: "smallcnn".into(),
        epochs: 2,
        batch: 32,
        lr: 0.05,
        optimizer: "sgd".into(),
        weight_decay: 5e-4,
        schedule: "onecycle".into(),
        label_smoothing: 0.1,
        normalization: Normalization::ChannelMeanStd,
        augment: Augment { crop_padding: 2, flip: true, translate: 1, ..Augment::none() },
        seed: 3,
        limit: Some(96),
        val: Some(64),
        fast: None,
        ..TrainConfig::demo()
    }
}

fn weights(path: &Path) -> Vec<(String, Vec<f32>)> {
    common::checkpoint_weights(path)
}

#[test]
fn interrupted_and_resumed_run_equals_an_uninterrupted_one() {
    let dir = scratch("resume");
    let cfg = tiny_config();
    let straight = RunDir::new(dir.join("straight"));
    assert_eq!(train::train(&cfg, &straight, false, &AtomicBool::new(false)).unwrap(), Outcome::Finished);

    let broken = RunDir::new(dir.join("broken"));
    // Ctrl-C already pressed: stops after the first step and saves
    assert_eq!(train::train(&cfg, &broken, false, &AtomicBool::new(true)).unwrap(), Outcome::Interrupted(0));
    assert!(broken.path.join("last.safetensors").exists());
    assert!(
        train::train(&cfg, &broken, false, &AtomicBool::new(false)).is_err(),
        "a second fresh start must refuse the folder"
    );
    assert_eq!(train::train(&cfg, &broken, true, &AtomicBool::new(false)).unwrap(), Outcome::Finished);

    assert_eq!(weights(&straight.path.join("last.safetensors")), weights(&broken.path.join("last.safetensors")));
    // and so are the metrics, the interrupted epoch's included: its totals were saved with it
    let (metrics, reference) = (broken.metrics().unwrap(), straight.metrics().unwrap());
    assert_eq!(metrics.len(), 2);
    for (m, r) in metrics.iter().zip(&reference) {
        let numbers = |m: &EpochMetrics| (m.epoch, m.train_loss, m.train_accuracy, m.val_loss, m.val_accuracy, m.lr);
        assert_eq!(numbers(m), numbers(r));
    }
    for file in ["config.json", "metrics.jsonl", "best.safetensors", "curves.png", "optimizer.safetensors"] {
        assert!(straight.path.join(file).exists(), "{file} missing");
    }
}

#[test]
fn validation_and_limit_sample_every_class_of_class_sorted_data() {
    // an image folder lists its images class by class
    let dir = scratch("sorted");
    for split in ["train", "test"] {
        for (c, class) in ["a", "b", "c"].iter().enumerate() {
            let folder = dir.join(split).join(class);
            std::fs::create_dir_all(&folder).unwrap();
            for i in 0..20u8 {
                image::RgbImage::from_pixel(4, 4, image::Rgb([c as u8, i, 0]))
                    .save(folder.join(format!("{i}.png")))
                    .unwrap();
            }
        }
    }
    let cfg = TrainConfig { data: dir.to_string_lossy().into(), val: Some(12), limit: Some(15), ..tiny_config() };
    let prepared = train::prepare(&cfg).unwrap();
    assert_eq!((prepared.val.len(), prepared.train.len()), (12, 15));
    for part in [&prepared.val, &prepared.train] {
        assert!(part.class_counts().iter().all(|&n| n > 0), "a class is missing: {:?}", part.class_counts());
    }
}

/// A run that validated on its test split (`--val 0`) chose best.safetensors
/// by test accuracy, so it is used at its last checkpoint: a garbled
/// best.safetensors is never read; in an ordinary run it is (and refused).
#[test]
fn runs_validated_on_the_test_split_load_their_last_checkpoint() {
    let dir = scratch("val0");
    for (val, reads_best) in [(Some(0), false), (Some(32), true)] {
        let run = RunDir::new(dir.join(format!("val{val:?}")));
        let cfg = TrainConfig { epochs: 1, val, ..tiny_config() };
        assert_eq!(train::train(&cfg, &run, false, &AtomicBool::new(false)).unwrap(), Outcome::Finished);
        std::fs::write(run.path.join("best.safetensors"), b"not a checkpoint").unwrap();
        let loaded = train::load_run_model(&run);
        assert_eq!(loaded.is_err(), reads_best, "--val {val:?}: {:?}", loaded.err().map(|e| e.to_string()));
    }
}

#[test]
fn a_limited_run_generates_only_its_images_and_they_are_the_same_images() {
    use cnnlab::data::batches::epoch_order;
    for data in ["shapes", "poses", "shapes-binary:40"] {
        let cfg = TrainConfig { data: data.into(), limit: Some(50), val: Some(20), seed: 3, ..tiny_config() };
        let prepared = train::prepare(&cfg).unwrap();
        // what generating all 20,000 training images and choosing among them gives
        let all = cnnlab::data::load(&data.parse().unwrap(), 3).unwrap();
        let order = epoch_order(all.train.len(), 3 ^ 0x7a1d_a7e5, 0);
        let (val, train) = (all.train.select(&order[..20]), all.train.select(&order[20..70]));
        assert_eq!((prepared.val.images, prepared.val.labels), (val.images, val.labels), "{data}: validation");
        assert_eq!(prepared.train.images, train.images, "{data}: training images");
        assert_eq!((prepared.train.boxes, prepared.train.keypoints), (train.boxes, train.keypoints), "{data}");
        assert_eq!(prepared.test.images, all.test.images, "{data}: test");
    }
}
