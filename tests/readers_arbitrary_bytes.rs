//! Every reader of outside bytes returns a value or an error for any bytes, never a panic: arbitrary bytes, and valid files with bytes changed or cut (the bounded, in-suite counterpart of `fuzz/`).

mod common;

use cnnlab::checkpoint;
use cnnlab::data::annotations::{attach, SplitFiles};
use cnnlab::data::image_file::{decode_image, InputSize};
use cnnlab::data::{archive, cifar, Dataset};
use cnnlab::models::{Arch, Model};
use cnnlab::train::{self, TrainConfig};
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

/// Valid files of every kind, written once.
struct Seeds {
    checkpoint: Vec<u8>,
    optimizer: Vec<u8>,
    cifar: Vec<u8>,
    png: Vec<u8>,
    jpeg: Vec<u8>,
    tar_gz: Vec<u8>,
    config: Vec<u8>,
}

fn seeds() -> &'static Seeds {
    static SEEDS: OnceLock<Seeds> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = common::scratch("reader-seeds");
        let meta = common::checkpoint_meta(Arch::SmallCnn, [3, 8, 8], 2);
        let mut model = Model::new(Arch::SmallCnn, 2, [3, 8, 8], 0).unwrap();
        checkpoint::save(&dir.join("m.safetensors"), &mut model, &meta).unwrap();
        let state =
            vec![("velocity/0.weight".to_string(), vec![864], vec![0.5f32; 864], cnnlab::nn::StateKind::Buffer)];
        checkpoint::write_tensors(&dir.join("o.safetensors"), &state, Default::default()).unwrap();
        let mut d =
            Dataset { classes: cifar::CLASSES.map(String::from).to_vec(), shape: [3, 32, 32], ..Default::default() };
        d.labels = vec![3, 7];
        d.images = (0..2 * 3072).map(|i| i as u8).collect();
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(12, 9, |x, y| {
            image::Rgb([x as u8 * 20, y as u8 * 25, 7])
        }));
        let encode = |format| {
            let mut bytes = Vec::new();
            img.write_to(&mut std::io::Cursor::new(&mut bytes), format).unwrap();
            bytes
        };
        let png = encode(image::ImageFormat::Png);
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mut header = tar::Header::new_gnu();
        header.set_size(png.len() as u64);
        header.set_cksum();
        tar.append_data(&mut header, "set/train/a/0.png", png.as_slice()).unwrap();
        Seeds {
            checkpoint: std::fs::read(dir.join("m.safetensors")).unwrap(),
            optimizer: std::fs::read(dir.join("o.safetensors")).unwrap(),
            cifar: cifar::encode_batch(&d),
            jpeg: encode(image::ImageFormat::Jpeg),
            png,
            tar_gz: tar.into_inner().unwrap().finish().unwrap(),
            config: serde_json::to_vec(&TrainConfig::demo()).unwrap(),
        }
    })
}

/// A seed with some bytes changed and maybe cut short, or arbitrary bytes.
fn damaged(pick: fn(&Seeds) -> &[u8]) -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 0..8);
    let mutated = (edits, any::<proptest::sample::Index>(), any::<bool>()).prop_map(move |(edits, cut, cut_it)| {
        let mut bytes = pick(seeds()).to_vec();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if cut_it {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        bytes
    });
    prop_oneof![mutated, proptest::collection::vec(any::<u8>(), 0..512)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn checkpoints(bytes in damaged(|s| &s.checkpoint)) {
        let _ = checkpoint::load_from_bytes(Path::new("m.safetensors"), &bytes);
    }

    #[test]
    fn optimizer_state(bytes in damaged(|s| &s.optimizer)) {
        let mut model = Model::new(Arch::SmallCnn, 2, [3, 8, 8], 0).unwrap();
        let _ = train::optimizer_state_from_bytes(Path::new("optimizer.safetensors"), &bytes, &mut model);
    }

    #[test]
    fn cifar_batches(bytes in damaged(|s| &s.cifar)) {
        let _ = cifar::parse_batch(Path::new("data_batch_1.bin"), &bytes);
    }

    #[test]
    fn images(bytes in prop_oneof![damaged(|s| &s.png), damaged(|s| &s.jpeg)]) {
        let _ = decode_image(Path::new("x.png"), &bytes, [3, 32, 32], InputSize::Model);
        let _ = decode_image(Path::new("x.png"), &bytes, [1, 32, 32], InputSize::Native);
    }

    #[test]
    fn tar_gz_archives(bytes in damaged(|s| &s.tar_gz)) {
        let _ = archive::for_each_member_in(Path::new("d.tar.gz"), bytes.as_slice(), |_, read| read().map(|_| true));
    }

    #[test]
    fn run_folder_json(bytes in damaged(|s| &s.config)) {
        if let Ok(cfg) = train::parse_config(Path::new("config.json"), &bytes) {
            let _ = cfg.validate();
        }
        let _ = train::parse_metrics(Path::new("metrics.jsonl"), &bytes);
    }

    #[test]
    fn box_and_keypoint_files(text in "([a-c]/[0-3]\\.png|file)?(,[-0-9.e]{0,6}){0,6}(\n([a-c]/[0-3]\\.png)?(,[-0-9.einfa]{0,5}){0,6}){0,6}") {
        let names: Vec<String> = (0..4).map(|i| format!("train/a/{i}.png")).collect();
        let mut images = Dataset { shape: [3, 8, 8], labels: vec![0; 4], images: vec![0; 4 * 192], ..Dataset::default() };
        let bytes = text.into_bytes();
        let files = SplitFiles { boxes: Some(("boxes.csv".into(), bytes.clone())), keypoints: Some(("keypoints.csv".into(), bytes)) };
        let _ = attach(Path::new("set"), &files, &names, &mut images);
    }
}
