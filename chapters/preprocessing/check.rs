//! Checks of the lab "Preprocessing": statistics and normalised images against cnnlab's, for all three modes, and what normalisation does to the training split (mean 0, and std 1 per channel).

#[path = "../check_support.rs"]
mod support;

use cnnlab::data::preprocess::Preprocessing;
use cnnlab::data::shapes::{generate, ShapesConfig};
use cnnlab::data::Dataset;
use cnnlab_labs::preprocessing::{apply, fit, Normalization};
use support::assert_close;

const MODES: [Normalization; 3] = [Normalization::MeanImage, Normalization::ChannelMean, Normalization::ChannelMeanStd];

/// A training split and a test split of the built-in shapes data, 16×16.
fn splits() -> (Dataset, Dataset) {
    let cfg = ShapesConfig { size: 16, ..ShapesConfig::default() };
    (generate(&cfg, 300, 1), generate(&cfg, 50, 2))
}

fn dims(data: &Dataset) -> (usize, usize, usize) {
    let [c, h, w] = data.shape;
    (c, h, w)
}

#[test]
fn statistics_match_cnnlab() {
    let (train, _) = splits();
    for mode in MODES {
        let ours = fit(mode, &train.images, dims(&train));
        let expected = Preprocessing::fit(mode, &train);
        assert_close(&format!("{mode:?}: means"), &ours.mean, &expected.mean, 1e-5);
        assert_close(&format!("{mode:?}: standard deviations"), &ours.std, &expected.std, 1e-5);
    }
}

#[test]
fn normalised_test_images_match_cnnlab() {
    // fitted on the training split, applied unchanged to the test split
    let (train, test) = splits();
    for mode in MODES {
        let (stats, expected) = (fit(mode, &train.images, dims(&train)), Preprocessing::fit(mode, &train));
        for i in [0, 17, 49] {
            let mut want = vec![0f32; test.image_len()];
            expected.apply(test.image(i), &mut want);
            assert_close(
                &format!("{mode:?}: test image {i}"),
                &apply(mode, &stats, test.image(i), dims(&test)),
                &want,
                1e-5,
            );
        }
    }
}

#[test]
fn the_training_split_comes_out_centred_and_scaled() {
    // mean image: every pixel averages to 0 over the training images;
    // per-channel mean and std: every channel has mean 0 and std 1
    let (train, _) = splits();
    let (c, h, w) = dims(&train);
    let normalised = |mode| {
        let stats = fit(mode, &train.images, dims(&train));
        train.images.chunks_exact(c * h * w).flat_map(|img| apply(mode, &stats, img, (c, h, w))).collect::<Vec<f32>>()
    };
    let values = normalised(Normalization::MeanImage);
    let n = train.len() as f64;
    let pixel_means: Vec<f64> =
        (0..c * h * w).map(|k| values.iter().skip(k).step_by(c * h * w).map(|&v| v as f64).sum::<f64>() / n).collect();
    assert_close("mean image: per-pixel means after normalising", &pixel_means, &vec![0.0; c * h * w], 1e-5);
    let values = normalised(Normalization::ChannelMeanStd);
    for ch in 0..c {
        let channel: Vec<f64> = values
            .chunks_exact(h * w)
            .enumerate()
            .filter(|(k, _)| k % c == ch)
            .flat_map(|(_, plane)| plane.iter().map(|&v| v as f64))
            .collect();
        let mean = channel.iter().sum::<f64>() / channel.len() as f64;
        let std = (channel.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / channel.len() as f64).sqrt();
        assert_close(&format!("channel {ch}: mean and std after normalising"), &[mean, std], &[0.0, 1.0], 1e-4);
    }
}

#[test]
fn a_tiny_split_by_hand() {
    // two 1×1×2 "images": bytes [0, 255] and [255, 255]
    let images = [0u8, 255, 255, 255];
    let stats = fit(Normalization::MeanImage, &images, (1, 1, 2));
    assert_close("mean image of [0, 1] and [1, 1]", &stats.mean, &[0.5, 1.0], 1e-6);
    let stats = fit(Normalization::ChannelMeanStd, &images, (1, 1, 2));
    // values 0, 1, 1, 1: mean ¾, population std √(3/16) = √3/4
    assert_close(
        "channel mean and std of 0, 1, 1, 1",
        &[stats.mean[0], stats.std[0]],
        &[0.75, 3f32.sqrt() / 4.0],
        1e-6,
    );
    assert_close(
        "(0 − ¾)/(√3/4)",
        &apply(Normalization::ChannelMeanStd, &stats, &[0, 255], (1, 1, 2)),
        &[-3f32.sqrt(), 1.0 / 3f32.sqrt()],
        1e-5,
    );
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's preprocessing
    support::assert_own_work("preprocessing", lab_source!("preprocessing"), &["Preprocessing", "::fit(", ".apply("]);
}
