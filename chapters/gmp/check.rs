//! Checks of the lab "GAP and CAM" (part two): global max pooling against cnnlab's (values and gradients, ties included) and finite differences, the peaks by hand, and the GMP class score against a real GMP network's.

#[path = "../check_support.rs"]
mod support;

use cnnlab::explain::cam::cam_head;
use cnnlab::explain::capture::capture;
use cnnlab::models::{Arch, Model};
use cnnlab::Tensor;
use cnnlab_labs::gmp::{global_max_pool, gmp_score, peak_positions};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use support::{assert_close, assert_gradients};

/// `[N, C, H, W]` with values from `values` and a random ∂L/∂F.
fn maps(values: impl Strategy<Value = f64> + Clone) -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    (1..=2usize, 1..=3usize, 1..=4usize, 1..=4usize).prop_flat_map(move |(n, c, h, w)| {
        let x = proptest::collection::vec(values.clone(), n * c * h * w);
        let seed = proptest::collection::vec(-2f64..2.0, n * c);
        (x, seed).prop_map(move |(x, seed)| (Tensor::from_vec(x, &[n, c, h, w]), Tensor::from_vec(seed, &[n, c, 1, 1])))
    })
}

/// Small integers: many ties, so the first-maximum rule is exercised.
fn tied() -> impl Strategy<Value = f64> + Clone {
    (-2i32..=2).prop_map(f64::from)
}

proptest! {
    #![proptest_config(support::config(96))]

    #[test]
    fn values_and_gradients_match_cnnlab_ties_included(data in maps(tied())) {
        let (x, seed) = data;
        let (ours_x, theirs_x) = (x.detach().with_grad(), x.detach().with_grad());
        let ours = global_max_pool(&ours_x);
        let theirs = theirs_x.global_max_pool2d();
        prop_assert_eq!(ours.shape(), theirs.shape(), "F is [N, C, 1, 1]");
        assert_close("F = max_xy f", ours.data(), theirs.data(), 0.0);
        let (g_ours, g_theirs) = (ours.backward_with(&seed), theirs.backward_with(&seed));
        assert_close("∂L/∂x (to the first maximum)", g_ours.wrt(&ours_x).data(), g_theirs.wrt(&theirs_x).data(), 0.0);
    }

    #[test]
    fn gradient_matches_finite_differences(data in maps(-3f64..3.0)) {
        assert_gradients("global_max_pool", |t| global_max_pool(&t[0]), &[data.0]);
    }

    #[test]
    fn peaks_are_the_first_maxima(data in (1..=4usize, 1..=4usize, 1..=4usize).prop_flat_map(|(k, h, w)| {
        (proptest::collection::vec((-2i32..=2).prop_map(|v| v as f32), k * h * w), Just((h, w)))
    })) {
        let (a, (h, w)) = data;
        let expected: Vec<usize> = a
            .chunks_exact(h * w)
            .map(|m| m.iter().position(|&v| v == m.iter().copied().fold(f32::MIN, f32::max)).unwrap())
            .collect();
        prop_assert_eq!(peak_positions(&a, (h, w)), expected);
    }
}

#[test]
fn one_graph_node_and_cases_by_hand() {
    // two maps of 2×2: maxima 4 (at 1) and 7 (at 0 and 3: the first wins)
    let x = Tensor::from_vec(vec![1.0, 4.0, -2.0, 0.0, 7.0, 5.0, 6.0, 7.0], &[1, 2, 2, 2]).with_grad();
    let f = global_max_pool(&x);
    assert_eq!(f.op_name(), "global_max_pool", "build it with Tensor::from_op(\"global_max_pool\", …)");
    assert_close("F", f.data(), &[4.0, 7.0], 0.0);
    let grads = f.backward_with(&Tensor::from_vec(vec![10.0, -1.0], &[1, 2, 1, 1]));
    assert_close("∂L/∂x", grads.wrt(&x).data(), &[0.0, 10.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0], 0.0);
    let a = [1.0, 4.0, -2.0, 0.0, 7.0, 5.0, 6.0, 7.0];
    assert_eq!(peak_positions(&a, (2, 2)), vec![1, 0], "peaks: the first maximum of each map");
    // S = 0.5 + 2·4 + (−1)·7
    assert_close("S_c", &[gmp_score(&a, &[2.0, -1.0], 0.5, (2, 2))], &[1.5], 1e-7);
}

#[test]
fn the_score_of_a_real_gmp_network() {
    // smallcnn with global max pooling: your S_c from the last conv layer's
    // maps and the Linear layer must be the network's own score, for every
    // image and class — while b_c + mean(M_c), CAM's identity, is not
    let mut model = Model::new(Arch::SmallCnnGmp, 10, [3, 32, 32], 11).expect("a 32×32 model");
    let x = Tensor::randn(&[3, 3, 32, 32], &mut StdRng::seed_from_u64(5));
    let head = cam_head(&mut model).expect("GMP + Linear");
    let captured = capture(model.net.as_mut(), &x, Arch::SmallCnnGmp.feature_layer()).expect("layer");
    let [n, k, h, w] = captured.feature_maps.shape().try_into().expect("[N, K, h, w]");
    let classes = head.bias.shape()[0];
    for image in 0..n {
        let a = &captured.feature_maps.data()[image * k * h * w..(image + 1) * k * h * w];
        let ours: Vec<f32> = (0..classes)
            .map(|c| gmp_score(a, &head.class_weights.data()[c * k..(c + 1) * k], head.bias.data()[c], (h, w)))
            .collect();
        let theirs = &captured.logits.data()[image * classes..(image + 1) * classes];
        assert_close(&format!("S_c of image {image}, every class"), &ours, theirs, 1e-4);
    }
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's pooling
    support::assert_own_work("gmp", lab_source!("gmp"), &["global_max_pool2d", "max_axes", "GlobalMaxPool", "argmax"]);
}
