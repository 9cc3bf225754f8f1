//! Attention separability ("sharpen focus"): the loss by hand, its gradient against finite differences, the most confusing class, and training with it.

mod common;
use cnnlab::explain::separability::{attention_separability, most_confusing};
use cnnlab::models::Arch;
use cnnlab::train::TrainConfig;
use cnnlab::Tensor;
use common::{check, tensor};
use proptest::prelude::*;

/// Two 1×2 feature maps and class weights that pick one map each (class 0:
/// map 0, class 1: map 1, class 2: both).
fn maps(values: [f64; 4]) -> Tensor<f64> {
    Tensor::from_vec(values.to_vec(), &[1, 2, 1, 2])
}

fn picker() -> Tensor<f64> {
    Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2])
}

#[test]
fn separability_by_hand() {
    let l = |f: [f64; 4], t: usize, c: usize| attention_separability(&maps(f), &picker(), &[t], &[c]).item();
    // disjoint maps: A^T = (1, 0), A^C = (0, 3) → no overlap
    assert!((l([1.0, 0.0, 0.0, 3.0], 0, 1) - 0.0).abs() < 1e-12);
    // equal maps → 1
    assert!((l([2.0, 1.0, 2.0, 1.0], 0, 1) - 1.0).abs() < 1e-12);
    // A^T = (2, 2), A^C = (1, 3): 2·(1 + 2)/(3 + 5) = 0.75
    assert!((l([2.0, 2.0, 1.0, 3.0], 0, 1) - 0.75).abs() < 1e-12);
    // the ReLU: A^C = ReLU(−1, 4) = (0, 4) against A^T = (2, 2): 2·(0 + 2)/(2 + 6) = 0.5
    assert!((l([2.0, 2.0, -1.0, 4.0], 0, 1) - 0.5).abs() < 1e-12);
    // two images average
    let f = Tensor::from_vec(vec![1.0, 0.0, 0.0, 3.0, 2.0, 1.0, 2.0, 1.0], &[2, 2, 1, 2]);
    assert!((attention_separability(&f, &picker(), &[0, 0], &[1, 1]).item() - 0.5).abs() < 1e-12);
}

#[test]
fn the_most_confusing_class_is_the_best_other_one() {
    let scores = [0.1, 0.9, 0.5, 0.7, 0.2, 0.7];
    assert_eq!(
        most_confusing(&scores, 3, &[1, 0]),
        vec![2, 2],
        "the true class is skipped; ties go to the lower index"
    );
    assert_eq!(most_confusing(&[3.0, 1.0, 2.0], 3, &[2]), vec![0]);
}

/// CAM values of `f` for `classes` of image n, as plain numbers.
fn cam(f: &Tensor<f64>, w: &Tensor<f64>, n: usize, c: usize) -> Vec<f64> {
    let (_, k, h, wd) = f.dims4("cam");
    let plane = h * wd;
    (0..plane).map(|p| (0..k).map(|m| w.data()[c * k + m] * f.data()[(n * k + m) * plane + p]).sum()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn gradient_matches_finite_differences(
        n in 1usize..=2, k in 1usize..=3, h in 1usize..=3, w in 1usize..=3, classes in 2usize..=4, seed in 0u64..1000
    ) {
        let features = tensor(&[n, k, h, w], seed, 2.0);
        let weights = tensor(&[classes, k], seed + 1, 2.0);
        let target: Vec<usize> = (0..n).map(|i| i % classes).collect();
        let confusing: Vec<usize> = target.iter().map(|t| (t + 1) % classes).collect();
        // away from the kinks of ReLU and of |a − b|, where finite differences straddle two pieces
        for i in 0..n {
            let (a, b) = (cam(&features, &weights, i, target[i]), cam(&features, &weights, i, confusing[i]));
            prop_assume!(a.iter().chain(&b).all(|v| v.abs() > 1e-2));
            prop_assume!(a.iter().zip(&b).all(|(x, y)| (x.max(0.0) - y.max(0.0)).abs() > 1e-2 || (*x < 0.0 && *y < 0.0)));
            prop_assume!(a.iter().chain(&b).any(|&v| v > 0.0));
        }
        check(|t| attention_separability(&t[0], &t[1], &target, &confusing), &[features, weights], seed);
    }
}

#[test]
fn training_with_the_term_runs_and_is_validated() {
    let dir = common::scratch("separability-train");
    let cfg =
        TrainConfig { epochs: 1, limit: Some(256), val: Some(64), attention_separability: 1.0, ..TrainConfig::demo() };
    let (model, _) = cnnlab::train::trained(&cfg, &dir).expect("trains");
    assert_eq!(model.arch, Arch::SmallCnn);
    let saved = std::fs::read_to_string(dir.join("config.json")).unwrap();
    assert!(saved.contains("\"attention_separability\": 1"), "config.json records λ: {saved}");
    let resnet = TrainConfig { model: "resnet20".into(), attention_separability: 1.0, ..TrainConfig::demo() };
    let err = resnet.validate().unwrap_err().to_string();
    assert!(err.contains("--attention-separability"), "{err}");
    let negative = TrainConfig { attention_separability: -0.5, ..TrainConfig::demo() };
    assert!(negative.validate().is_err());
}
