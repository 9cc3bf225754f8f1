//! Checks of the lab "Grad-CAM and its descendants": class gradients and maps against cnnlab's Grad-CAM on real networks and layers, the weights at random, and the identities α_k^c = w_k^c/Z and Grad-CAM = ReLU(CAM)/Z on a GAP network.

#[path = "../check_support.rs"]
mod support;

use cnnlab::explain::cam::cam_head;
use cnnlab::explain::capture::{capture, class_gradients as cnnlab_class_gradients};
use cnnlab::explain::gradcam::{gradcam, gradcam_weights as cnnlab_weights};
use cnnlab::explain::Target;
use cnnlab::models::{Arch, Model};
use cnnlab::Tensor;
use cnnlab_labs::gradcam::{class_gradients, gradcam_map, gradcam_weights};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use support::assert_close;

/// A randomly initialised 32×32 network and three random images.
fn network(arch: Arch) -> (Model, Tensor) {
    let model = Model::new(arch, 10, [3, 32, 32], 11).expect("a 32×32 model");
    (model, Tensor::randn(&[3, 3, 32, 32], &mut StdRng::seed_from_u64(5)))
}

const CLASSES: [usize; 3] = [2, 7, 0];

/// (arch, layer): the last conv layer of both GAP networks, an inner stage of
/// ResNet-20, the fully connected counter-example vgg-fc.
const LAYERS: [(Arch, &str); 4] =
    [(Arch::SmallCnn, "19"), (Arch::ResNet20, "layer3"), (Arch::ResNet20, "layer2"), (Arch::VggFc, "features.19")];

/// Your Grad-CAM of every image, from your gradients, weights and maps.
fn your_gradcam(model: &mut Model, x: &Tensor, layer: &str) -> Vec<Vec<f32>> {
    let captured = capture(model.net.as_mut(), x, layer).expect("the layer exists");
    let [_, k, h, w] = captured.feature_maps.shape().try_into().expect("[N, K, h, w]");
    let gradients = class_gradients(&captured, &CLASSES);
    assert_eq!(gradients.shape(), captured.feature_maps.shape(), "class_gradients must be shaped like A");
    let per_image = k * h * w;
    let maps = captured.feature_maps.data().chunks(per_image).zip(gradients.data().chunks(per_image));
    maps.map(|(a, g)| gradcam_map(a, &gradcam_weights(g, (h, w)), (h, w))).collect()
}

#[test]
fn class_gradients_match_cnnlab() {
    for (arch, layer) in LAYERS {
        let (mut model, x) = network(arch);
        let ours = class_gradients(&capture(model.net.as_mut(), &x, layer).expect("layer"), &CLASSES);
        let captured = capture(model.net.as_mut(), &x, layer).expect("layer");
        let expected = cnnlab_class_gradients(&captured, &CLASSES);
        assert_close(&format!("∂y^c/∂A of {arch}, layer {layer}"), ours.data(), expected.data(), 1e-5);
    }
}

#[test]
fn maps_match_cnnlab_gradcam() {
    for (arch, layer) in LAYERS {
        let (mut model, x) = network(arch);
        let ours = your_gradcam(&mut model, &x, layer);
        let (expected, _, _) =
            gradcam(model.net.as_mut(), &x, layer, &Target::PerImage(CLASSES.to_vec())).expect("gradcam");
        for (n, (a, e)) in ours.iter().zip(&expected).enumerate() {
            assert_close(&format!("Grad-CAM of {arch}, layer {layer}, image {n}"), a, &e.values, 1e-4);
        }
    }
}

#[test]
fn on_a_gap_network_the_weights_are_the_class_weights_over_z() {
    // y^c = b_c + Σ_k w_k^c (1/Z) Σ_ij A^k_ij, so ∂y^c/∂A^k_ij = w_k^c/Z everywhere,
    // α_k^c = w_k^c/Z, and Grad-CAM = ReLU(CAM)/Z
    let (mut model, x) = network(Arch::SmallCnn);
    let head = cam_head(&mut model).expect("GAP + Linear");
    let captured = capture(model.net.as_mut(), &x, Arch::SmallCnn.feature_layer()).expect("layer");
    let [_, k, h, w] = captured.feature_maps.shape().try_into().expect("[N, K, h, w]");
    let z = (h * w) as f32;
    let gradients = class_gradients(&captured, &CLASSES);
    let maps = your_gradcam(&mut model, &x, Arch::SmallCnn.feature_layer());
    for (n, &c) in CLASSES.iter().enumerate() {
        let w_c = &head.class_weights.data()[c * k..(c + 1) * k];
        let alpha = gradcam_weights(&gradients.data()[n * k * h * w..(n + 1) * k * h * w], (h, w));
        let expected: Vec<f32> = w_c.iter().map(|w| w / z).collect();
        assert_close(&format!("α^c for image {n}, class {c}"), &alpha, &expected, 1e-5);
        let a = &captured.feature_maps.data()[n * k * h * w..(n + 1) * k * h * w];
        let cam = cnnlab::explain::cam::class_activation_map(a, w_c, (h, w));
        let relu_cam_over_z: Vec<f32> = cam.values.iter().map(|m| m.max(0.0) / z).collect();
        assert_close(&format!("Grad-CAM = ReLU(CAM)/Z, image {n}"), &maps[n], &relu_cam_over_z, 1e-4);
    }
}

proptest! {
    #![proptest_config(support::config(96))]

    #[test]
    fn weights_match_cnnlab(data in (1..=5usize, 1..=6usize, 1..=6usize).prop_flat_map(|(k, h, w)| {
        (proptest::collection::vec(-2f32..2.0, k * h * w), Just((h, w)))
    })) {
        let (gradients, (h, w)) = data;
        assert_close("α_k", &gradcam_weights(&gradients, (h, w)), &cnnlab_weights(&gradients, h * w), 1e-5);
    }

    #[test]
    fn the_map_is_the_positive_part_of_the_weighted_sum(data in (1..=5usize, 1..=6usize, 1..=6usize).prop_flat_map(|(k, h, w)| {
        let v = |len| proptest::collection::vec(-2f32..2.0, len);
        (v(k * h * w), v(k), Just((h, w)))
    })) {
        let (a, alpha, hw) = data;
        let expected: Vec<f32> =
            cnnlab::explain::cam::class_activation_map(&a, &alpha, hw).values.iter().map(|m| m.max(0.0)).collect();
        assert_close("ReLU(Σ_k α_k A^k)", &gradcam_map(&a, &alpha, hw), &expected, 1e-5);
    }
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's Grad-CAM
    support::assert_own_work(
        "gradcam",
        lab_source!("gradcam"),
        &["capture::class_gradients", "gradcam::", "explain::cam", "class_activation_map", "normalized"],
    );
}
