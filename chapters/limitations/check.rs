//! Checks of the lab "Limitations of saliency": the top two classes and the most ambiguous images at random (ties included), the correlation against cnnlab's and its identities, and the contrast map against the logit difference of real GAP networks.

#[path = "../check_support.rs"]
mod support;

use cnnlab::explain::cam::{cam_head, class_activation_map};
use cnnlab::explain::capture::capture;
use cnnlab::explain::Map;
use cnnlab::models::{Arch, Model};
use cnnlab::Tensor;
use cnnlab_labs::limitations::{contrast_map, correlation, most_ambiguous, top_two};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use support::assert_close;

/// Probabilities from a coarse grid, so that ties happen.
fn coarse(len: usize) -> impl Strategy<Value = Vec<f32>> {
    proptest::collection::vec((0u8..=8).prop_map(|v| f32::from(v) / 8.0), len)
}

/// The check's own ranking: by value, largest first, ties by index.
fn ranking(values: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].partial_cmp(&values[a]).unwrap().then(a.cmp(&b)));
    order
}

proptest! {
    #![proptest_config(support::config(96))]

    #[test]
    fn top_two_in_order_ties_by_index(p in (2..=10usize).prop_flat_map(coarse)) {
        let order = ranking(&p);
        prop_assert_eq!(top_two(&p), (order[0], order[1]), "probabilities {:?}", p);
    }

    #[test]
    fn most_ambiguous_ranks_by_the_runner_up(data in (1..=12usize, 2..=5usize).prop_flat_map(|(n, classes)| {
        (coarse(n * classes), Just(classes), 1..=n)
    })) {
        let (p, classes, count) = data;
        let runner_up: Vec<f32> = p.chunks_exact(classes).map(|row| row[ranking(row)[1]]).collect();
        let mut expected = ranking(&runner_up);
        expected.truncate(count);
        prop_assert_eq!(most_ambiguous(&p, classes, count), expected, "probabilities {:?}", p);
    }

    #[test]
    fn correlation_matches_cnnlab(data in (2..=40usize).prop_flat_map(|n| {
        (proptest::collection::vec(-3f32..3.0, n), proptest::collection::vec(-3f32..3.0, n))
    })) {
        let (a, b) = data;
        let expected = Map::new(1, a.len(), a.clone()).correlation(&Map::new(1, b.len(), b.clone()));
        assert_close("r(a, b)", &[correlation(&a, &b)], &[expected], 1e-4);
        let affine: Vec<f32> = a.iter().map(|v| 2.5 * v - 1.0).collect();
        let spread = a.iter().copied().fold(f32::MIN, f32::max) - a.iter().copied().fold(f32::MAX, f32::min);
        if spread > 1e-2 {
            assert_close("r(a, 2.5a − 1) = 1", &[correlation(&a, &affine)], &[1.0], 1e-4);
            let negated: Vec<f32> = a.iter().map(|v| -v).collect();
            assert_close("r(a, −a) = −1", &[correlation(&a, &negated)], &[-1.0], 1e-4);
        }
    }
}

#[test]
fn cases_by_hand() {
    assert_eq!(top_two(&[0.1, 0.5, 0.4]), (1, 2));
    assert_eq!(top_two(&[0.3, 0.3, 0.4]), (2, 0), "ties: the lower index first");
    // runner-ups 0.4, 0.45, 0.1: image 1, then image 0
    let p = [0.5, 0.4, 0.1, 0.45, 0.1, 0.45, 0.9, 0.1, 0.0];
    assert_eq!(most_ambiguous(&p, 3, 2), vec![1, 0]);
    assert_close("r of [1, 2, 3] and [1, 3, 2]", &[correlation(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0])], &[0.5], 1e-6);
    assert_close("r with a constant map", &[correlation(&[1.0, 2.0, 3.0], &[4.0; 3])], &[0.0], 0.0);
}

#[test]
fn the_contrast_map_adds_up_to_the_logit_difference() {
    // y_c1 − y_c2 = (b_c1 − b_c2) + mean(Σ_k (w_k^c1 − w_k^c2) f_k) on a GAP network,
    // and the contrast map is CAM(c1) − CAM(c2)
    for arch in [Arch::SmallCnn, Arch::ResNet20] {
        let mut model = Model::new(arch, 10, [3, 32, 32], 11).expect("a 32×32 model");
        let x = Tensor::randn(&[3, 3, 32, 32], &mut StdRng::seed_from_u64(5));
        let head = cam_head(&mut model).expect("GAP + Linear");
        let captured = capture(model.net.as_mut(), &x, arch.feature_layer()).expect("layer");
        let [n, k, h, w] = captured.feature_maps.shape().try_into().expect("[N, K, h, w]");
        let (weights, bias, logits) = (head.class_weights.data(), head.bias.data(), captured.logits.data());
        for image in 0..n {
            let a = &captured.feature_maps.data()[image * k * h * w..(image + 1) * k * h * w];
            let (c1, c2) = (image % 10, (image + 3) % 10);
            let (w1, w2) = (&weights[c1 * k..(c1 + 1) * k], &weights[c2 * k..(c2 + 1) * k]);
            let ours = contrast_map(a, w1, w2, (h, w));
            let expected: Vec<f32> = class_activation_map(a, w1, (h, w))
                .values
                .iter()
                .zip(&class_activation_map(a, w2, (h, w)).values)
                .map(|(m1, m2)| m1 - m2)
                .collect();
            assert_close(&format!("{arch}, image {image}: CAM(c1) − CAM(c2)"), &ours, &expected, 1e-4);
            let mean = ours.iter().sum::<f32>() / ours.len() as f32;
            let difference = logits[image * 10 + c1] - logits[image * 10 + c2];
            assert_close(
                &format!("{arch}, image {image}: y_c1 − y_c2"),
                &[mean + bias[c1] - bias[c2]],
                &[difference],
                1e-4,
            );
        }
    }
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's maps
    support::assert_own_work("limitations", lab_source!("limitations"), &[".correlation(", "explain::", "viz::"]);
}
