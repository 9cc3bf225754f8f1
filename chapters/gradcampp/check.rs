//! Checks of the lab "Grad-CAM and its descendants" (part two): the derivative terms by hand, Grad-CAM++'s weights against cnnlab's at random (zeros included) and in closed form on a GAP network, maps against cnnlab's Grad-CAM++ on real networks, and Smooth Grad-CAM++'s averages and noise.

#[path = "../check_support.rs"]
mod support;

use cnnlab::explain::cam::{cam_head, class_activation_map};
use cnnlab::explain::capture::{capture, class_gradients};
use cnnlab::explain::gradcam::{gradcam_pp, gradcam_pp_weights as cnnlab_weights};
use cnnlab::explain::Target;
use cnnlab::models::{Arch, Model};
use cnnlab::Tensor;
use cnnlab_labs::gradcampp::{averaged_powers, derivative_powers, gradcam_pp_weights, noisy_copy};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use support::assert_close;

/// A randomly initialised 32×32 network and three random images.
fn network(arch: Arch) -> (Model, Tensor) {
    let model = Model::new(arch, 10, [3, 32, 32], 11).expect("a 32×32 model");
    (model, Tensor::randn(&[3, 3, 32, 32], &mut StdRng::seed_from_u64(5)))
}

const CLASSES: [usize; 3] = [2, 7, 0];

#[test]
fn derivative_powers_by_hand() {
    let [g, g2, g3] = derivative_powers(&[2.0, -1.0, 0.0, 0.5]);
    assert_close("g", &g, &[2.0, -1.0, 0.0, 0.5], 0.0);
    assert_close("g²", &g2, &[4.0, 1.0, 0.0, 0.25], 0.0);
    assert_close("g³", &g3, &[8.0, -1.0, 0.0, 0.125], 0.0);
}

#[test]
fn averages_are_of_the_powers_not_powers_of_the_average() {
    // two copies whose gradients cancel: mean g = 0, but mean g² = 1 and 4
    let [g, g2, g3] = averaged_powers(&[vec![1.0, 2.0], vec![-1.0, -2.0]]);
    assert_close("mean g", &g, &[0.0, 0.0], 1e-7);
    assert_close("mean g²", &g2, &[1.0, 4.0], 1e-7);
    assert_close("mean g³", &g3, &[0.0, 0.0], 1e-7);
    let [g, g2, g3] = averaged_powers(&[vec![1.0, 3.0], vec![3.0, 1.0]]);
    assert_close("mean g", &g, &[2.0, 2.0], 1e-7);
    assert_close("mean g² (not (mean g)² = 4)", &g2, &[5.0, 5.0], 1e-7);
    assert_close("mean g³ (not (mean g)³ = 8)", &g3, &[14.0, 14.0], 1e-7);
}

#[test]
fn a_noisy_copy_adds_sigma_times_each_draw() {
    let x = [0.0, 1.0, 4.0, 2.0];
    let draws = [1.0, -0.5, 2.0, 0.25, 99.0];
    let mut next = 0;
    let mut source = || {
        next += 1;
        draws[next - 1]
    };
    // σ = 0.1 · (4 − 0) = 0.4
    let copy = noisy_copy(&x, 0.1, &mut source);
    assert_close("x + σ·z", &copy, &[0.4, 0.8, 4.8, 2.1], 1e-6);
    assert_eq!(next, 4, "one draw per value of x, no more");
    let flat = noisy_copy(&[3.0; 5], 0.2, &mut || 1.0);
    assert_close("a constant image has range 0, so σ = 0", &flat, &[3.0; 5], 0.0);
}

#[test]
fn zero_gradients_and_zero_denominators_give_zero_weight() {
    // map 0: Σ A = −2 and g = 1, so 2g² + ΣA·g³ = 0; map 1: g = 0 everywhere
    let a = [-1.0, -1.0, 3.0, 5.0];
    let [g, g2, g3] = [vec![1.0, 1.0, 0.0, 0.0], vec![1.0, 1.0, 0.0, 0.0], vec![1.0, 1.0, 0.0, 0.0]];
    let w = gradcam_pp_weights(&a, &g, &g2, &g3, (1, 2));
    assert_close("weights where every a_ij is 0 by convention", &w, &[0.0, 0.0], 0.0);
    // one position by hand: g = 0.5, ΣA = 2 → a = 0.25/(0.5 + 2·0.125) = 1/3, w = a·0.5
    let w = gradcam_pp_weights(&[1.5, 0.5], &[0.5, -0.5], &[0.25, 0.25], &[0.125, -0.125], (1, 2));
    assert_close("w by hand (the negative gradient adds nothing)", &w, &[1.0 / 6.0], 1e-6);
}

proptest! {
    #![proptest_config(support::config(96))]

    #[test]
    fn weights_match_cnnlab(data in (1..=4usize, 1..=5usize, 1..=5usize).prop_flat_map(|(k, h, w)| {
        let n = k * h * w;
        let v = move || proptest::collection::vec(-2f32..2.0, n);
        (v(), v(), v(), v(), proptest::collection::vec(any::<bool>(), n), Just((h, w)))
    })) {
        // independent first/second/third, as Smooth Grad-CAM++'s averages are; some gradients exactly 0
        let (a, mut g, g2, g3, zero, hw) = data;
        for (v, z) in g.iter_mut().zip(&zero) {
            if *z { *v = 0.0; }
        }
        let g2: Vec<f32> = g2.iter().map(|v| v.abs()).collect();
        // a denominator near 0 makes a_ij huge and the sum's order matter: keep away from it
        let sums: Vec<f32> = a.chunks_exact(hw.0 * hw.1).map(|a_k| a_k.iter().sum()).collect();
        let plane = hw.0 * hw.1;
        prop_assume!((0..g.len()).all(|i| (2.0 * g2[i] + sums[i / plane] * g3[i]).abs() > 0.05));
        let expected = cnnlab_weights(&a, &g, &g2, &g3, hw.0 * hw.1);
        assert_close("w_k", &gradcam_pp_weights(&a, &g, &g2, &g3, hw), &expected, 1e-4);
    }

    #[test]
    fn averaged_powers_match_by_hand(data in (1..=5usize, 1..=12usize).prop_flat_map(|(n, len)| {
        proptest::collection::vec(proptest::collection::vec(-3f32..3.0, len), n)
    })) {
        let mean = |p: i32| -> Vec<f32> {
            (0..data[0].len()).map(|i| data.iter().map(|g| g[i].powi(p)).sum::<f32>() / data.len() as f32).collect()
        };
        let [g, g2, g3] = averaged_powers(&data);
        assert_close("mean g", &g, &mean(1), 1e-5);
        assert_close("mean g²", &g2, &mean(2), 1e-5);
        assert_close("mean g³", &g3, &mean(3), 1e-5);
    }
}

#[test]
fn on_a_gap_network_the_weights_have_a_closed_form() {
    // at the last layer g = w_k^c/Z everywhere, so a = 1/(2 + S_k·w_k^c/Z) and
    // Grad-CAM++'s weight is ReLU(w_k^c)/(2 + S_k·w_k^c/Z), S_k = Σ_ij A^k_ij
    let (mut model, x) = network(Arch::SmallCnn);
    let head = cam_head(&mut model).expect("GAP + Linear");
    let captured = capture(model.net.as_mut(), &x, Arch::SmallCnn.feature_layer()).expect("layer");
    let [_, k, h, w] = captured.feature_maps.shape().try_into().expect("[N, K, h, w]");
    let (plane, z) = (h * w, (h * w) as f32);
    let gradients = class_gradients(&captured, &CLASSES);
    for (n, &c) in CLASSES.iter().enumerate() {
        let image = n * k * plane..(n + 1) * k * plane;
        let a = &captured.feature_maps.data()[image.clone()];
        let [g, g2, g3] = derivative_powers(&gradients.data()[image]);
        let ours = gradcam_pp_weights(a, &g, &g2, &g3, (h, w));
        let w_c = &head.class_weights.data()[c * k..(c + 1) * k];
        let expected: Vec<f32> = (0..k)
            .map(|m| {
                let s_k: f32 = a[m * plane..(m + 1) * plane].iter().sum();
                w_c[m].max(0.0) / (2.0 + s_k * w_c[m] / z)
            })
            .collect();
        assert_close(&format!("Grad-CAM++ weights, image {n}, class {c}"), &ours, &expected, 1e-3);
    }
}

#[test]
fn maps_match_cnnlab_gradcam_pp() {
    for (arch, layer) in
        [(Arch::SmallCnn, "19"), (Arch::SmallCnn, "16"), (Arch::ResNet20, "layer3"), (Arch::ResNet20, "layer2")]
    {
        let (mut model, x) = network(arch);
        let captured = capture(model.net.as_mut(), &x, layer).expect("layer");
        let [_, k, h, w] = captured.feature_maps.shape().try_into().expect("[N, K, h, w]");
        let gradients = class_gradients(&captured, &CLASSES);
        let (expected, _, _) =
            gradcam_pp(model.net.as_mut(), &x, layer, &Target::PerImage(CLASSES.to_vec())).expect("gradcam++");
        for (n, expected) in expected.iter().enumerate() {
            let image = n * k * h * w..(n + 1) * k * h * w;
            let a = &captured.feature_maps.data()[image.clone()];
            let [g, g2, g3] = derivative_powers(&gradients.data()[image]);
            let weights = gradcam_pp_weights(a, &g, &g2, &g3, (h, w));
            let ours = class_activation_map(a, &weights, (h, w)).relu();
            assert_close(
                &format!("Grad-CAM++ of {arch}, layer {layer}, image {n}"),
                &ours.values,
                &expected.values,
                1e-3,
            );
        }
    }
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's Grad-CAM++
    support::assert_own_work("gradcampp", lab_source!("gradcampp"), &["explain::", "smooth_gradcam"]);
}
