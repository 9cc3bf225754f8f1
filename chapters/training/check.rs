//! Checks of the lab "Training a CNN": the loss and its gradient against cnnlab's cross-entropy and finite differences, stability at huge logits, closed forms, and SGD steps against cnnlab's optimiser on a Linear layer.

#[path = "../check_support.rs"]
mod support;

use cnnlab::nn::{Linear, Module, StateKind};
use cnnlab::optim::{Optimizer, Sgd};
use cnnlab::Tensor;
use cnnlab_labs::training::{cross_entropy, sgd_step, Velocity};
use proptest::prelude::*;
use rand::{rngs::StdRng, SeedableRng};
use support::{assert_close, assert_gradients, values};

/// Logits `[n, classes]` in ±`bound`, labels, a smoothing ε in [0, 0.3].
fn batch(bound: f64) -> impl Strategy<Value = (Vec<f64>, Vec<usize>, usize, f64)> {
    (1..=5usize, 2..=6usize).prop_flat_map(move |(n, classes)| {
        (values(n * classes, bound), proptest::collection::vec(0..classes, n), Just(classes), 0.0..0.3f64)
    })
}

proptest! {
    #![proptest_config(support::config(96))]

    #[test]
    fn loss_and_gradient_match_cnnlab(data in batch(6.0)) {
        let (logits, labels, classes, smoothing) = data;
        let (loss, grad) = cross_entropy(&logits, &labels, classes, smoothing);
        let z = Tensor::from_vec(logits, &[labels.len(), classes]).with_grad();
        let expected = z.cross_entropy(&labels, smoothing);
        let grads = expected.backward();
        assert_close("L", &[loss], expected.data(), 1e-10);
        assert_close("∂L/∂z", &grad, grads.wrt(&z).data(), 1e-10);
    }

    #[test]
    fn gradient_matches_finite_differences_of_your_loss(data in batch(6.0)) {
        let (logits, labels, classes, smoothing) = data;
        let n = labels.len();
        let op = |t: &[Tensor<f64>]| {
            let (loss, grad) = cross_entropy(t[0].data(), &labels, classes, smoothing);
            Tensor::from_op("lab_cross_entropy", vec![loss], &[], &[&t[0]], move |g| {
                let g = g.data()[0];
                vec![Some(Tensor::from_vec(grad.iter().map(|d| d * g).collect(), &[n, classes]))]
            })
        };
        assert_gradients("your cross-entropy", op, &[Tensor::from_vec(logits, &[n, classes])]);
    }

    #[test]
    fn huge_logits_stay_finite(data in batch(1e4)) {
        let (logits, labels, classes, smoothing) = data;
        let (loss, grad) = cross_entropy(&logits, &labels, classes, smoothing);
        prop_assert!(loss.is_finite() && loss >= 0.0, "L = {} for logits up to ±1e4", loss);
        prop_assert!(grad.iter().all(|g| g.is_finite()), "∂L/∂z is not finite for logits up to ±1e4");
        let expected = Tensor::from_vec(logits, &[labels.len(), classes]).cross_entropy(&labels, smoothing);
        assert_close("L at logits up to ±1e4", &[loss], expected.data(), 1e-9);
    }
}

#[test]
fn closed_forms() {
    // equal logits: every class has probability 1/C, so L = ln C and ∂L/∂z = (1/C − onehot)/n
    let (loss, grad) = cross_entropy(&[0.3; 8], &[1, 3], 4, 0.0);
    assert_close("L for equal logits", &[loss], &[4f64.ln()], 1e-12);
    let expected: Vec<f64> = (0..8).map(|k| (0.25 - if k == 1 || k == 7 { 1.0 } else { 0.0 }) / 2.0).collect();
    assert_close("∂L/∂z for equal logits", &grad, &expected, 1e-12);
    // with smoothing ε the best loss is not 0: a confident right answer still pays for the ε/C on the others
    let (loss, _) = cross_entropy(&[1e4, 0.0], &[0], 2, 0.2);
    assert_close("L of a confident right answer with ε = 0.2", &[loss], &[0.1 * 1e4], 1e-9);
}

/// Runs three SGD steps on a Linear(3 → 2) layer with cnnlab's optimiser and
/// with yours (on copies of the same parameters and gradients), comparing the
/// parameters after each step.
fn follow_cnnlab(momentum: f32, nesterov: bool, weight_decay: f32) {
    let mut layer = Linear::new(3, 2, &mut StdRng::seed_from_u64(1));
    let mut sgd = Sgd::new(0.1).momentum(momentum as f64, nesterov).weight_decay(weight_decay as f64);
    let x = Tensor::randn(&[4, 3], &mut StdRng::seed_from_u64(2));
    let mut ours: Vec<(Vec<f32>, Velocity)> = Vec::new();
    for step in 0..3 {
        let y = layer.forward(&x);
        let loss = y.mul(&y).sum(); // L = Σ y²
        let grads = loss.backward();
        let mut k = 0;
        layer.visit_state("", &mut |_, p, kind| {
            if kind == StateKind::Parameter {
                if ours.len() <= k {
                    ours.push((p.data().to_vec(), None));
                }
                let (params, velocity) = &mut ours[k];
                sgd_step(params, grads.wrt(p).data(), velocity, 0.1, momentum, nesterov, weight_decay);
                k += 1;
            }
        });
        sgd.step(&mut layer, &grads);
        let mut k = 0;
        layer.visit_state("", &mut |name, p, kind| {
            if kind == StateKind::Parameter {
                let what = format!(
                    "{name} after step {} (momentum {momentum}, nesterov {nesterov}, weight decay {weight_decay})",
                    step + 1
                );
                assert_close(&what, &ours[k].0, p.data(), 1e-6);
                k += 1;
            }
        });
    }
}

#[test]
fn plain_sgd_follows_cnnlab() {
    follow_cnnlab(0.0, false, 0.0);
}

#[test]
fn momentum_and_weight_decay_follow_cnnlab() {
    follow_cnnlab(0.9, false, 0.01);
}

#[test]
fn nesterov_follows_cnnlab() {
    follow_cnnlab(0.9, true, 5e-4);
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's loss or optimiser
    support::assert_own_work(
        "training",
        lab_source!("training"),
        &[".cross_entropy(", ".log_softmax(", "Sgd", ".backward"],
    );
}
