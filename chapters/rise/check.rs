//! Checks of the lab "RISE and perturbation methods": masking and the estimator by hand and at random, and RISE through smallcnn against cnnlab's with the same masks.

#[path = "../check_support.rs"]
mod support;

use cnnlab::explain::rise::{masks as cnnlab_masks, rise as cnnlab_rise, RiseOptions};
use cnnlab::explain::Target;
use cnnlab::models::{Arch, Model};
use cnnlab::Tensor;
use cnnlab_labs::rise::{masked, rise, saliency};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use support::assert_close;

proptest! {
    #![proptest_config(support::config(96))]

    #[test]
    fn masking_multiplies_every_channel(data in (1..=3usize, 1..=20usize).prop_flat_map(|(c, plane)| {
        (proptest::collection::vec(-2f32..2.0, c * plane), proptest::collection::vec(0f32..1.0, plane), Just(c))
    })) {
        let (image, mask, c) = data;
        let plane = mask.len();
        let expected: Vec<f32> = image.iter().enumerate().map(|(k, v)| v * mask[k % plane]).collect();
        assert_close("x ⊙ M", &masked(&image, &mask, c), &expected, 1e-6);
    }

    #[test]
    fn saliency_is_a_weighted_mean_of_masks(data in (1..=8usize, 1..=12usize).prop_flat_map(|(n, plane)| {
        (proptest::collection::vec(proptest::collection::vec(0f32..1.0, plane), n), proptest::collection::vec(0f32..1.0, n), 0.1f32..0.9)
    })) {
        let (masks, scores, keep) = data;
        let plane = masks[0].len();
        let expected: Vec<f32> = (0..plane)
            .map(|k| masks.iter().zip(&scores).map(|(m, f)| f * m[k]).sum::<f32>() / (masks.len() as f32 * keep))
            .collect();
        assert_close("1/(N·p) Σ f_i M_i", &saliency(&masks, &scores, keep), &expected, 1e-5);
    }
}

#[test]
fn by_hand() {
    // two masks of two pixels, scores ¾ and ¼, p = ½: S = (¾·[1, 0] + ¼·[1, 1]) / (2·½)
    let masks = vec![vec![1.0, 0.0], vec![1.0, 1.0]];
    assert_close("S by hand", &saliency(&masks, &[0.75, 0.25], 0.5), &[1.0, 0.25], 1e-6);
    assert_close("[1, 2 | 3, 4] ⊙ [0, ½]", &masked(&[1.0, 2.0, 3.0, 4.0], &[0.0, 0.5], 2), &[0.0, 1.0, 0.0, 2.0], 0.0);
}

#[test]
fn rise_matches_cnnlab_with_the_same_masks() {
    // smallcnn with random weights, one 16×16 image, 60 masks in batches of 25 (the last one short)
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 16, 16], 3).expect("a 16×16 model");
    model.net.set_training(false);
    let x = Tensor::randn(&[1, 3, 16, 16], &mut StdRng::seed_from_u64(4));
    let opts = RiseOptions { masks: 60, grid: 4, keep: 0.5, batch: 25, seed: 9 };
    let masks: Vec<Vec<f32>> = cnnlab_masks(&opts, (16, 16)).into_iter().map(|m| m.values).collect();
    for class in [0, 6] {
        let ours = rise(model.net.as_mut(), &x, &masks, class, opts.keep, opts.batch);
        let (expected, _, _) = cnnlab_rise(model.net.as_mut(), &x, &Target::Class(class), &opts).expect("rise");
        assert_close(&format!("RISE saliency for class {class}"), &ours, &expected[0].values, 1e-4);
    }
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's RISE
    support::assert_own_work("rise", lab_source!("rise"), &["explain::rise", "rise::"]);
}
