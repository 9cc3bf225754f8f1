//! Checks of the lab "Filters and activation maps": the symmetric scale against cnnlab's, an activation map against conv2d + ReLU and against smallcnn's first layer, and the strongest channels by hand and on smallcnn.

#[path = "../check_support.rs"]
mod support;

use cnnlab::inspect::feature_maps;
use cnnlab::inspect::filters::{find_conv, signed_bytes};
use cnnlab::models::{Arch, Model};
use cnnlab::{Conv2dConfig, Tensor};
use cnnlab_labs::filters::{activation_map, signed_grey, strongest_channels};
use proptest::prelude::*;

fn values(len: usize, seed: u64) -> Vec<f32> {
    (0..len).map(|i| ((i as u64 * 2654435761 + seed * 7919) % 2001) as f32 / 1000.0 - 1.0).collect()
}

proptest! {
    #![proptest_config(support::config(96))]

    #[test]
    fn signed_grey_matches_cnnlab(len in 1usize..40, scale in 0.0f32..5.0, seed in 0u64..1000) {
        let filter: Vec<f32> = values(len, seed).iter().map(|v| v * scale).collect();
        prop_assert_eq!(signed_grey(&filter), signed_bytes(&filter));
    }

    #[test]
    fn activation_map_matches_conv2d_and_relu(c in 1usize..4, h in 1usize..8, w in 1usize..8, kh in 1usize..4, kw in 1usize..4, pad in 0usize..3, seed in 0u64..1000) {
        prop_assume!(h + 2 * pad >= kh && w + 2 * pad >= kw);
        let (image, filter, bias) = (values(c * h * w, seed), values(c * kh * kw, seed + 1), values(1, seed + 2));
        let x = Tensor::from_vec(image.clone(), &[1, c, h, w]);
        let wt = Tensor::from_vec(filter.clone(), &[1, c, kh, kw]);
        let b = Tensor::from_vec(bias.clone(), &[1]);
        let expected = x.conv2d(&wt, Some(&b), Conv2dConfig::default().padding(pad)).relu().to_vec();
        let got = activation_map(&image, [c, h, w], &filter, (kh, kw), bias[0], pad);
        support::assert_close("ReLU(conv2d) for one filter", &got, &expected, 1e-5);
    }
}

#[test]
fn signed_grey_by_hand() {
    assert_eq!(signed_grey(&[-2.0, 0.0, 1.0, 2.0]), vec![0, 128, 191, 255]);
    assert_eq!(signed_grey(&[0.0, 0.0]), vec![128, 128], "an all-zero filter is mid-grey");
    assert_eq!(signed_grey(&[0.5, 1.0]), vec![191, 255], "positive only: zero is still grey");
}

/// smallcnn's first layer without batch norm and ReLU after it: the conv's
/// output for one filter, ReLU'd, is your map; and the strongest channels
/// of layer 2 (after batch norm and ReLU) by their means.
#[test]
fn on_smallcnn() {
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 12, 12], 5).unwrap();
    let image = values(3 * 12 * 12, 9);
    let x = Tensor::from_vec(image.clone(), &[1, 3, 12, 12]);
    let maps = feature_maps(&mut model, &x, &["0".to_string(), "2".to_string()]).unwrap();
    let (_, first) = &maps[0];
    let (_, weight) = find_conv(&mut model, Some("0")).unwrap();
    for k in [0, 7, 31] {
        let filter = &weight.data()[k * 27..(k + 1) * 27];
        let expected: Vec<f32> = first.data()[k * 144..(k + 1) * 144].iter().map(|v| v.max(0.0)).collect();
        support::assert_close(
            "filter of layer 0",
            &activation_map(&image, [3, 12, 12], filter, (3, 3), 0.0, 1),
            &expected,
            1e-4,
        );
    }
    let (_, relu) = &maps[1];
    let means: Vec<f32> = relu.data().chunks(144).map(|p| p.iter().sum::<f32>() / 144.0).collect();
    let mut order: Vec<usize> = (0..32).collect();
    order.sort_by(|&a, &b| means[b].total_cmp(&means[a]).then(a.cmp(&b)));
    assert_eq!(strongest_channels(relu.data(), [32, 12, 12], 5), order[..5].to_vec());
}

#[test]
fn strongest_channels_by_hand() {
    // three 1×2 planes with means 1, 3, 2
    let maps = [1.0, 1.0, 2.0, 4.0, 2.0, 2.0];
    assert_eq!(strongest_channels(&maps, [3, 1, 2], 2), vec![1, 2]);
    assert_eq!(strongest_channels(&maps, [3, 1, 2], 3), vec![1, 2, 0]);
    assert_eq!(strongest_channels(&[5.0, 5.0], [2, 1, 1], 2), vec![0, 1], "ties: the lower index first");
}

#[test]
fn your_own_work() {
    support::assert_own_work("filters", lab_source!("filters"), &["cnnlab::", "conv2d"]);
}
