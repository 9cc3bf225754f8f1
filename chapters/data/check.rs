//! Checks of the lab "The data: shapes and CIFAR-10": batches against cnnlab's reader, every kind of bad file refused with a message naming it, the HWC layout pixel by pixel.

#[path = "../check_support.rs"]
mod support;

use cnnlab::data::cifar::{encode_batch, parse_batch as cnnlab_parse};
use cnnlab::data::shapes::{generate, ShapesConfig};
use cnnlab_labs::data::{parse_batch, to_hwc, RECORD};
use proptest::prelude::*;
use std::path::Path;

/// A valid batch of `n` shapes images in CIFAR-10's format.
fn valid_batch(n: usize) -> Vec<u8> {
    encode_batch(&generate(&ShapesConfig::default(), n, 3))
}

#[test]
fn batches_match_cnnlab() {
    let bytes = valid_batch(25);
    let ours = parse_batch("data_batch_1.bin", &bytes).expect("a valid batch");
    let expected = cnnlab_parse(Path::new("data_batch_1.bin"), &bytes).expect("a valid batch");
    let labels: Vec<usize> = ours.labels.iter().map(|&l| l as usize).collect();
    assert_eq!(labels, expected.labels, "labels of 25 records");
    assert!(ours.images == expected.images, "the images of 25 records differ from cnnlab's (3,072 bytes each, CHW)");
}

/// Asserts that parsing fails with a message naming the file and containing each of `words`.
fn refused(what: &str, bytes: &[u8], words: &[&str]) {
    let name = "test_batch.bin";
    match parse_batch(name, bytes) {
        Ok(_) => panic!("{what}: accepted, should be refused"),
        Err(message) => {
            assert!(message.contains(name), "{what}: the message must name the file: {message:?}");
            for word in words {
                assert!(message.contains(word), "{what}: the message should say {word:?}: {message:?}");
            }
        }
    }
}

#[test]
fn bad_files_are_refused_with_a_clear_message() {
    let bytes = valid_batch(3);
    refused("an empty file", &[], &["0 bytes"]);
    refused("a truncated file", &bytes[..bytes.len() - 1], &[&(3 * RECORD - 1).to_string()]);
    refused("one byte too many", &[&bytes[..], &[0]].concat(), &[&(3 * RECORD + 1).to_string()]);
    let mut bad_label = bytes.clone();
    bad_label[RECORD] = 10; // record 1
    refused("a label of 10 in record 1", &bad_label, &["record 1", "10"]);
    bad_label[RECORD] = 255;
    refused("a label of 255", &bad_label, &["255"]);
}

#[test]
fn a_record_by_hand() {
    // label 7, red plane all 1, green all 2, blue all 3
    let record: Vec<u8> = [vec![7], vec![1; 1024], vec![2; 1024], vec![3; 1024]].concat();
    let batch = parse_batch("one.bin", &record).expect("one valid record");
    assert_eq!(batch.labels, vec![7], "the label byte comes first");
    assert!(batch.images == record[1..], "the pixels follow unchanged, CHW");
    assert_eq!(
        &to_hwc(&batch.images, (32, 32))[..6],
        &[1, 2, 3, 1, 2, 3],
        "HWC: R, G, B of pixel (0, 0), then of (0, 1)"
    );
}

proptest! {
    #![proptest_config(support::config(64))]

    #[test]
    fn hwc_puts_every_channel_of_a_pixel_together(data in (1..=6usize, 1..=6usize).prop_flat_map(|(h, w)| {
        (proptest::collection::vec(any::<u8>(), 3 * h * w), Just((h, w)))
    })) {
        let (image, (h, w)) = data;
        let out = to_hwc(&image, (h, w));
        prop_assert_eq!(out.len(), image.len(), "HWC has as many bytes as CHW");
        for (y, x, ch) in (0..h).flat_map(|y| (0..w).flat_map(move |x| (0..3).map(move |ch| (y, x, ch)))) {
            prop_assert_eq!(out[3 * (y * w + x) + ch], image[(ch * h + y) * w + x], "pixel ({}, {}) channel {} of a {}×{} image", y, x, ch, h, w);
        }
    }
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's reader
    support::assert_own_work("data", lab_source!("data"), &["cifar::", "Dataset"]);
}
