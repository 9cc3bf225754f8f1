//! Checks of the lab "GAP and CAM": the map against cnnlab's, the identity S_c = b_c + mean(M_c) on real networks, normalisation.

#[path = "../check_support.rs"]
mod support;

use cnnlab::explain::cam::{cam_head, class_activation_map as cnnlab_cam};
use cnnlab::explain::capture::capture;
use cnnlab::explain::Map;
use cnnlab::models::{Arch, Model};
use cnnlab::{no_grad, Tensor};
use cnnlab_labs::cam::{class_activation_map, normalized, score_from_map};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use support::assert_close;

/// K feature maps of h×w and K class weights.
fn maps_and_weights() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, (usize, usize))> {
    (1..=6usize, 1..=6usize, 1..=6usize).prop_flat_map(|(k, h, w)| {
        let v = |len| proptest::collection::vec(-2f32..2.0, len);
        (v(k * h * w), v(k), Just((h, w)))
    })
}

proptest! {
    #![proptest_config(support::config(96))]

    #[test]
    fn the_map_matches_cnnlab(data in maps_and_weights()) {
        let (feature_maps, class_weights, hw) = data;
        let ours = class_activation_map(&feature_maps, &class_weights, hw);
        let expected = cnnlab_cam(&feature_maps, &class_weights, hw);
        assert_close(&format!("M_c for {} maps of {hw:?}", class_weights.len()), &ours, &expected.values, 1e-5);
    }

    #[test]
    fn normalized_matches_cnnlab(map in proptest::collection::vec(-5f32..5.0, 1..40)) {
        let expected = Map::new(1, map.len(), map.clone()).normalized();
        assert_close("normalized map", &normalized(&map), &expected.values, 1e-6);
    }
}

#[test]
fn a_constant_map_normalizes_to_zeros() {
    for constant in [0.0, 3.5, -1.0] {
        assert_close(&format!("normalized map of {constant}s"), &normalized(&[constant; 6]), &[0.0; 6], 0.0);
    }
}

#[test]
fn a_map_with_a_small_range_still_spans_zero_to_one() {
    // tiny differences are still differences: only max = min counts as constant
    let map = [1e-4, 0.0, 2e-4, 1.5e-4];
    assert_close("normalized map of range 2e-4", &normalized(&map), &[0.5, 0.0, 1.0, 0.75], 1e-4);
}

/// For a randomly initialised network of `arch` and two random images:
/// every class score equals b_c plus the mean of that class's map.
fn scores_add_up(arch: Arch) {
    let mut model = Model::new(arch, 10, [3, 32, 32], 7).expect("a 32×32 model");
    let x = Tensor::randn(&[2, 3, 32, 32], &mut StdRng::seed_from_u64(3));
    let head = cam_head(&mut model).expect("the network ends in GAP + Linear");
    let captured = no_grad(|| capture(model.net.as_mut(), &x, arch.feature_layer())).expect("the last conv layer");
    let [_, k, h, w] = captured.feature_maps.shape().try_into().expect("feature maps are [N, K, h, w]");
    let weights = head.class_weights.data();
    for (image, f) in captured.feature_maps.data().chunks(k * h * w).enumerate() {
        for class in 0..10 {
            let map = class_activation_map(f, &weights[class * k..(class + 1) * k], (h, w));
            let score = captured.logits.data()[image * 10 + class];
            let ours = score_from_map(&map, head.bias.data()[class]);
            assert!(
                (ours - score).abs() <= 1e-4 * (1.0 + score.abs()),
                "{arch}, image {image}, class {class}: the network's score is {score}, b_c + mean(M_c) gives {ours}"
            );
        }
    }
}

#[test]
fn class_scores_are_bias_plus_mean_of_the_map_in_smallcnn() {
    scores_add_up(Arch::SmallCnn);
}

#[test]
fn class_scores_are_bias_plus_mean_of_the_map_in_resnet20() {
    scores_add_up(Arch::ResNet20);
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's CAM and maps
    support::assert_own_work("cam", lab_source!("cam"), &["explain::", "Map"]);
}
