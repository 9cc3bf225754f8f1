//! Layers, state names, BatchNorm train/eval behaviour and folding, optimisers, schedules, and overfitting a batch.

use cnnlab::nn::{self, BatchNorm, Conv2d, Flatten, GlobalAvgPool, Linear, MaxPool2d, Module, ReLU, Sequential};
use cnnlab::ops::pool::Pool2dConfig;
use cnnlab::optim::{Adam, LrSchedule, Optimizer, Sgd};
use cnnlab::{no_grad, Conv2dConfig, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// conv-BN-ReLU blocks, GAP, Linear: the CAM architecture in miniature.
fn tiny_cnn(rng: &mut StdRng) -> Sequential {
    let pad = Conv2dConfig::default().padding(1);
    Sequential::new()
        .push(Conv2d::new(3, 8, 3, pad, false, rng))
        .push(BatchNorm::new_2d(8))
        .push(ReLU)
        .push(MaxPool2d(Pool2dConfig::new(2)))
        .push(Conv2d::new(8, 16, 3, pad, false, rng))
        .push(BatchNorm::new_2d(16))
        .push(ReLU)
        .push(GlobalAvgPool)
        .push(Flatten)
        .push(Linear::new(16, 4, rng))
}

#[test]
fn state_names_follow_pytorch_state_dict() {
    let mut model = tiny_cnn(&mut StdRng::seed_from_u64(0));
    let names: Vec<String> = nn::state_tensors(&mut model).into_iter().map(|(n, _, _)| n).collect();
    let bn =
        |i: usize| ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"].map(|s| format!("{i}.{s}"));
    let mut expected = vec!["0.weight".to_string()];
    expected.extend(bn(1));
    expected.push("4.weight".into());
    expected.extend(bn(5));
    expected.extend(["9.weight".to_string(), "9.bias".to_string()]);
    assert_eq!(names, expected);
    assert_eq!(nn::parameter_count(&mut model), 8 * 27 + 16 + 16 * 72 + 32 + 16 * 4 + 4);
}

#[test]
fn batchnorm_running_averages_follow_pytorch() {
    let mut bn = BatchNorm::new_1d(1);
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[4, 1]);
    bn.forward(&x);
    // batch mean 3, unbiased variance 14/3; momentum 0.1 from (0, 1)
    assert!((bn.running_mean.item() - 0.3).abs() < 1e-6);
    assert!((bn.running_var.item() - (0.9 + 0.1 * 14.0 / 3.0)).abs() < 1e-6);
    assert_eq!(bn.num_batches_tracked.item(), 1.0);
}

#[test]
fn batchnorm_train_and_eval_differ_as_they_should() {
    let mut bn = BatchNorm::new_2d(2);
    let mut rng = StdRng::seed_from_u64(1);
    let batch = Tensor::<f32>::randn(&[8, 2, 3, 3], &mut rng).mul_scalar(3.0).add_scalar(2.0);
    // training: an image's output depends on the other images of the batch
    let full = bn.forward(&batch);
    let half = bn.forward(&batch.narrow(0, 0, 4));
    assert!(full.narrow(0, 0, 1).data() != half.narrow(0, 0, 1).data());
    // evaluation: it does not, and the running averages stay put
    bn.set_training(false);
    let before = bn.running_mean.to_vec();
    let full = bn.forward(&batch);
    let alone = bn.forward(&batch.narrow(0, 0, 1));
    assert_eq!(full.narrow(0, 0, 1).data(), alone.data());
    assert_eq!(bn.running_mean.to_vec(), before);
}

#[test]
fn folded_batchnorm_gives_the_same_eval_outputs() {
    let mut rng = StdRng::seed_from_u64(2);
    let mut model = tiny_cnn(&mut rng);
    let mut opt = Sgd::new(0.1).momentum(0.9, true);
    for _ in 0..5 {
        // a few training steps so γ, β and the running statistics are not trivial
        let x = Tensor::randn(&[8, 3, 8, 8], &mut rng).add_scalar(0.5);
        let grads = model.forward(&x).cross_entropy(&[0, 1, 2, 3, 0, 1, 2, 3], 0.0).backward();
        opt.step(&mut model, &grads);
    }
    model.set_training(false);
    let x = Tensor::randn(&[4, 3, 8, 8], &mut rng);
    let unfolded = no_grad(|| model.forward(&x));
    assert_eq!(nn::fold_batchnorm(&mut model), 2);
    let folded = no_grad(|| model.forward(&x));
    let max_diff = unfolded.data().iter().zip(folded.data()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(max_diff < 1e-4, "folded and unfolded outputs differ by {max_diff}");
    assert!(model.summary().contains("Identity"));
}

/// A one-parameter "model" to check optimisers against hand-computed updates.
struct Scalar(Tensor);
impl Module for Scalar {
    fn forward(&mut self, _: &Tensor) -> Tensor {
        self.0.clone()
    }
    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, nn::StateKind)) {
        f(&format!("{prefix}p"), &mut self.0, nn::StateKind::Parameter);
    }
    fn describe(&self) -> String {
        "Scalar".into()
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

/// Runs `steps` updates on L = ½p² (so g = p) from p = 1 and returns p after each.
fn trajectory(opt: &mut dyn Optimizer, steps: usize) -> Vec<f32> {
    let mut model = Scalar(Tensor::from_vec(vec![1.0], &[1]).with_grad());
    (0..steps)
        .map(|_| {
            let grads = model.0.pow(2.0).mul_scalar(0.5).sum().backward();
            opt.step(&mut model, &grads);
            model.0.item()
        })
        .collect()
}

#[test]
fn sgd_nesterov_with_weight_decay_matches_hand_computation() {
    let (lr, mu, wd) = (0.1f32, 0.9f32, 0.01f32);
    let got = trajectory(&mut Sgd::new(lr as f64).momentum(mu as f64, true).weight_decay(wd as f64), 3);
    let (mut p, mut v) = (1.0f32, 0.0f32);
    for (step, &g) in got.iter().enumerate() {
        let d = p + wd * p;
        v = if step == 0 { d } else { mu * v + d };
        p -= lr * (d + mu * v);
        assert!((g - p).abs() < 1e-6, "step {step}: {g} vs {p}");
    }
}

#[test]
fn adam_first_step_is_lr_times_sign_and_adamw_decays_directly() {
    let got = trajectory(&mut Adam::new(0.01), 1);
    assert!((got[0] - 0.99).abs() < 1e-6); // m̂/√v̂ = g/|g| = 1 on the first step
    let got = trajectory(&mut Adam::adamw(0.01, 0.5), 1);
    assert!((got[0] - (1.0 - 0.01 * 0.5 - 0.01)).abs() < 1e-6);
}

#[test]
fn schedules_hit_their_closed_forms() {
    let base = 0.1;
    assert_eq!(LrSchedule::Constant.lr_at(base, 50, 100), base);
    assert!((LrSchedule::Step { every: 10, gamma: 0.5 }.lr_at(base, 25, 100) - 0.025).abs() < 1e-12);
    let cos = LrSchedule::Cosine { min_factor: 0.0 };
    assert!((cos.lr_at(base, 0, 100) - base).abs() < 1e-12);
    assert!((cos.lr_at(base, 50, 100) - base / 2.0).abs() < 1e-12);
    assert!(cos.lr_at(base, 100, 100).abs() < 1e-12);
    let warm = LrSchedule::WarmupCosine { warmup: 10, min_factor: 0.0 };
    assert!((warm.lr_at(base, 4, 100) - base * 0.5).abs() < 1e-12);
    assert!((warm.lr_at(base, 10, 100) - base).abs() < 1e-12);
    let one = LrSchedule::OneCycle { pct_start: 0.3 };
    assert!((one.lr_at(base, 0, 100) - base / 25.0).abs() < 1e-12);
    assert!((one.lr_at(base, 30, 100) - base).abs() < 1e-12);
    assert!(one.lr_at(base, 100, 100) < base / 25.0 / 1e3);
}

#[test]
fn small_cnn_overfits_a_tiny_batch() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut model = tiny_cnn(&mut rng);
    let x = Tensor::randn(&[8, 3, 8, 8], &mut rng);
    let labels = [0, 1, 2, 3, 3, 2, 1, 0];
    let mut opt = Adam::new(0.01);
    let mut loss = f32::INFINITY;
    for _ in 0..150 {
        let out = model.forward(&x).cross_entropy(&labels, 0.0);
        loss = out.item();
        let grads = out.backward();
        opt.step(&mut model, &grads);
    }
    assert!(loss < 0.01, "training loss after 150 steps: {loss}");
    model.set_training(false);
    let predictions = no_grad(|| model.forward(&x)).argmax(1);
    assert_eq!(predictions, labels);
}
