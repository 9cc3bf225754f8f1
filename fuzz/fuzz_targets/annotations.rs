//! An image folder's `boxes.csv` and `keypoints.csv`, checked against four images.
#![no_main]
use cnnlab::data::annotations::{attach, SplitFiles};
use cnnlab::data::Dataset;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let names: Vec<String> = (0..4).map(|i| format!("train/a/{i}.png")).collect();
    let mut images = Dataset { shape: [3, 8, 8], labels: vec![0; 4], images: vec![0; 4 * 192], ..Dataset::default() };
    let files = SplitFiles {
        boxes: Some(("train/boxes.csv".into(), data.to_vec())),
        keypoints: Some(("train/keypoints.csv".into(), data.to_vec())),
    };
    let _ = attach(std::path::Path::new("set"), &files, &names, &mut images);
});
