//! The fast CIFAR-10 recipe: fastcnn's layout, whitening, Dirac starts, the optimiser's pieces, and whole runs that resume exactly.

mod common;
use cnnlab::eval::TestTimeAugmentation;
use cnnlab::models::{whitening, Arch, Model};
use cnnlab::nn::{self, Conv2d, Module, Sequential, StateKind};
use cnnlab::optim::{Lookahead, LrSchedule, Optimizer, Sgd};
use cnnlab::train::fast::{is_norm_bias, recipe_config, FastRecipe};
use cnnlab::train::{self, Outcome, RunDir, TrainConfig};
use cnnlab::{Conv2dConfig, Tensor};
use common::{cli, scratch};
use rand::SeedableRng;
use std::sync::atomic::AtomicBool;

/// The state_dict of book/reference/torch_fast94.py's network: (name, shape).
fn pytorch_fast94_state_dict() -> Vec<(String, Vec<usize>)> {
    let mut out = vec![("0.weight".to_string(), vec![24, 3, 2, 2]), ("0.bias".to_string(), vec![24])];
    for (i, c_in, c_out) in [(2, 24, 64), (3, 64, 256), (4, 256, 256)] {
        for (conv, norm, from) in [("conv1", "norm1", c_in), ("conv2", "norm2", c_out)] {
            out.push((format!("{i}.{conv}.weight"), vec![c_out, from, 3, 3]));
            for p in ["weight", "bias", "running_mean", "running_var"] {
                out.push((format!("{i}.{norm}.{p}"), vec![c_out]));
            }
            out.push((format!("{i}.{norm}.num_batches_tracked"), vec![]));
        }
    }
    out.push(("7.weight".to_string(), vec![10, 256]));
    out
}

#[test]
fn fastcnn_has_the_reference_state_and_frozen_batch_norm_scales() {
    let mut model = Model::new(Arch::FastCnn, 10, [3, 32, 32], 0).unwrap();
    let mut state: Vec<(String, Vec<usize>)> =
        nn::state_tensors(&mut model).into_iter().map(|(n, t, _)| (n, t.shape().to_vec())).collect();
    let mut expected = pytorch_fast94_state_dict();
    state.sort();
    expected.sort();
    assert_eq!(state, expected);
    for (name, t, kind) in nn::state_tensors(&mut model) {
        let trains = t.requires_grad();
        match kind {
            StateKind::Parameter if name.contains(".norm") && name.ends_with("weight") => {
                assert!(!trains, "{name}: BatchNorm's γ is frozen at 1");
                assert!(t.data().iter().all(|&v| v == 1.0));
            }
            StateKind::Parameter => assert!(trains, "{name} trains"),
            _ => assert!(!trains, "{name} is a buffer"),
        }
    }
    let x = Tensor::randn(&[2, 3, 32, 32], &mut rand::rngs::StdRng::seed_from_u64(1));
    assert_eq!(model.forward(&x).shape(), &[2, 10]);
    assert!(Model::new(Arch::FastCnn, 10, [3, 8, 8], 0).is_err(), "8x8 leaves nothing after three poolings");
}

fn group_conv(model: &mut Model, group: usize, conv: &str) -> Conv2d {
    let net = model.net.as_any_mut().downcast_mut::<Sequential>().unwrap();
    let inner = net.layers[group].as_any_mut().downcast_mut::<Sequential>().unwrap();
    let i = inner.position(conv).unwrap();
    inner.layers[i].as_any_mut().downcast_mut::<Conv2d>().unwrap().clone()
}

#[test]
fn dirac_convolutions_start_as_identities() {
    let mut model = Model::new(Arch::FastCnn, 10, [3, 32, 32], 4).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    // conv2 of each group maps C channels to C: all of it the identity
    for (group, c) in [(2, 64), (3, 256)] {
        let conv = group_conv(&mut model, group, "conv2");
        let x = Tensor::randn(&[2, c, 5, 5], &mut rng);
        let y = x.conv2d(&conv.weight, None, Conv2dConfig::default().padding(1));
        assert_eq!(y.data(), x.data(), "group {group}");
    }
    // conv1 of group 3 maps 64 to 256: its first 64 filters pass channels 0..64 on, the rest are random
    let conv = group_conv(&mut model, 3, "conv1");
    let x = Tensor::randn(&[1, 64, 4, 4], &mut rng);
    let y = x.conv2d(&conv.weight, None, Conv2dConfig::default().padding(1));
    assert_eq!(&y.data()[..64 * 16], x.data());
    assert!(y.data()[64 * 16..].iter().any(|&v| v != 0.0));
    // without Dirac (the ablation), no filter is the identity
    let cfg = TrainConfig { limit: Some(300), ..recipe_config("shapes", 0) };
    let fast = FastRecipe { dirac: false, ..FastRecipe::default() };
    let data = train::prepare(&cfg).unwrap();
    fast.prepare(&mut model, &data.train, &data.preprocessing, 0).unwrap();
    let conv = group_conv(&mut model, 2, "conv2");
    let x = Tensor::randn(&[1, 64, 4, 4], &mut rng);
    assert_ne!(x.conv2d(&conv.weight, None, Conv2dConfig::default().padding(1)).data(), x.data());
}

#[test]
fn the_whitening_layer_decorrelates_the_training_patches_and_is_frozen() {
    let cfg = TrainConfig { limit: Some(400), ..recipe_config("shapes", 0) };
    let data = train::prepare(&cfg).unwrap();
    let mut model = Model::new(Arch::FastCnn, 10, [3, 32, 32], 0).unwrap();
    let fast = FastRecipe::default();
    fast.prepare(&mut model, &data.train, &data.preprocessing, 0).unwrap();
    let net = model.net.as_any_mut().downcast_mut::<Sequential>().unwrap();
    let whiten = net.layers[0].as_any_mut().downcast_mut::<Conv2d>().unwrap().clone();
    assert!(!whiten.weight.requires_grad(), "the whitening filters are frozen");
    // W Σ Wᵀ = diag(λ/(λ + ε)) on the patches it was computed from
    let idx: Vec<usize> = (0..data.train.len()).collect();
    let (x, _) = cnnlab::data::batches::make_batch(&data.train, &idx, &data.preprocessing, None);
    let cov = whitening::patch_covariance(x.data(), [idx.len(), 3, 32, 32], 2);
    let (values, _) = whitening::symmetric_eigen(&cov, 12);
    let w = whiten.weight.data();
    for i in 0..12 {
        for j in 0..12 {
            let wsw: f64 = (0..144).map(|ab| w[i * 12 + ab / 12] as f64 * cov[ab] * w[j * 12 + ab % 12] as f64).sum();
            let want = if i == j { values[i] / (values[i] + 5e-4) } else { 0.0 };
            assert!((wsw - want).abs() < 1e-3, "({i}, {j}): {wsw} vs {want}");
        }
    }
    assert!(w[..144].iter().zip(&w[144..]).all(|(a, b)| *a == -*b), "filters 12..24 are the negatives");
    // its bias trains in the first epochs only
    for (epoch, trains) in [(0, true), (2, true), (3, false), (5, false)] {
        fast.start_epoch(&mut model, epoch).unwrap();
        let bias = nn::state_tensors(&mut model).into_iter().find(|(n, _, _)| n == "0.bias").unwrap().1;
        assert_eq!(bias.requires_grad(), trains, "epoch {epoch}");
    }
}

/// One parameter named as a fastcnn BatchNorm bias, one as a conv weight; L = ½Σp².
struct TwoParams(Tensor, Tensor);
impl Module for TwoParams {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.clone()
    }
    fn visit_state(&mut self, _: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        f("2.norm1.bias", &mut self.0, StateKind::Parameter);
        f("2.conv1.weight", &mut self.1, StateKind::Parameter);
    }
    fn describe(&self) -> String {
        "TwoParams".into()
    }
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

fn step(model: &mut TwoParams, opt: &mut dyn Optimizer) {
    let loss = model.0.pow(2.0).sum().add(&model.1.pow(2.0).sum()).mul_scalar(0.5);
    let grads = loss.backward();
    opt.step(model, &grads);
}

#[test]
fn batch_norm_biases_learn_faster_but_decay_alike() {
    let (lr, wd, s) = (0.01f32, 0.5f32, 64.0f32);
    let mut model =
        TwoParams(Tensor::from_vec(vec![1.0], &[1]).with_grad(), Tensor::from_vec(vec![1.0], &[1]).with_grad());
    let mut opt =
        Sgd::new(lr as f64).weight_decay(wd as f64).lr_scale(move |n| if is_norm_bias(n) { s as f64 } else { 1.0 });
    step(&mut model, &mut opt);
    // g = p = 1: the bias moves s·lr·(g + λ/s·p), the weight lr·(g + λ·p)
    assert!((model.0.item() - (1.0 - s * lr * (1.0 + wd / s))).abs() < 1e-6);
    assert!((model.1.item() - (1.0 - lr * (1.0 + wd))).abs() < 1e-6);
    assert!(is_norm_bias("4.norm2.bias") && !is_norm_bias("4.norm2.weight") && !is_norm_bias("0.bias"));
}

#[test]
fn the_schedule_warms_up_then_decays_linearly() {
    let sched = LrSchedule::WarmupLinear { warmup: 0.23, start: 0.2, end: 0.07 };
    let (base, total) = (2.0, 480);
    let rise = (0.23f64 * 480.0) as usize; // 110
    assert!((sched.lr_at(base, 0, total) - 0.4).abs() < 1e-12);
    assert!((sched.lr_at(base, rise / 2, total) - base * 0.6).abs() < 1e-12);
    assert!((sched.lr_at(base, rise, total) - base).abs() < 1e-12);
    let mid = rise + (total - rise) / 2;
    assert!((sched.lr_at(base, mid, total) - base * (0.5 + 0.07 * 0.5)).abs() < 1e-12);
    assert!((sched.lr_at(base, total, total) - base * 0.07).abs() < 1e-12);
}

fn scalar_model() -> TwoParams {
    TwoParams(Tensor::from_vec(vec![1.0], &[1]).with_grad(), Tensor::from_vec(vec![-2.0], &[1]).with_grad())
}

#[test]
fn lookahead_averages_every_k_steps_and_ends_on_the_average() {
    let (total, every, lr) = (12, 5, 0.1f32);
    let mut opt = Lookahead::new(Box::new(Sgd::new(lr as f64)), every, total);
    let mut model = scalar_model();
    // by hand: p ← p − lr·p each step; every 5 steps a ← α·a + (1 − α)·p, p ← a
    let (mut p, mut a) = (1.0f32, None::<f32>);
    for t in 1..=total {
        step(&mut model, &mut opt);
        p -= lr * p;
        if t % every == 0 {
            let alpha = Lookahead::decay(t, total) as f32;
            let avg = alpha * a.unwrap_or(p) + (1.0 - alpha) * p;
            (a, p) = (Some(avg), avg);
        }
        if t == total {
            p = a.unwrap();
        }
        assert!((model.0.item() - p).abs() < 1e-6, "step {t}: {} vs {p}", model.0.item());
    }
}

#[test]
fn lookahead_resumes_exactly_from_its_state() {
    let run = |split: Option<usize>| {
        let mut model = scalar_model();
        let new = || Lookahead::new(Box::new(Sgd::new(0.05).momentum(0.85, true)), 5, 13);
        let mut opt = new();
        for t in 0..13 {
            if Some(t) == split {
                let state = opt.state();
                opt = new();
                opt.set_state(state);
            }
            step(&mut model, &mut opt);
        }
        (model.0.item(), model.1.item())
    };
    assert_eq!(run(None), run(Some(7)));
}

fn tiny_fast_config() -> TrainConfig {
    let mut cfg = recipe_config("shapes", 5);
    cfg.epochs = 2;
    cfg.batch = 96;
    cfg.limit = Some(300); // 3 full batches per epoch; the last 12 images are dropped
    cfg.val = Some(64);
    cfg.fast.as_mut().unwrap().whiten_bias_epochs = 1;
    cfg.fast.as_mut().unwrap().tta = TestTimeAugmentation::Flip;
    cfg
}

#[test]
fn a_fast_run_measures_at_the_end_and_resumes_exactly() {
    let dir = scratch("fast-resume");
    let cfg = tiny_fast_config();
    let straight = RunDir::new(dir.join("straight"));
    assert_eq!(train::train(&cfg, &straight, false, &AtomicBool::new(false)).unwrap(), Outcome::Finished);
    let metrics = straight.metrics().unwrap();
    assert_eq!(metrics.len(), 2);
    assert!(metrics[0].val_accuracy.is_nan(), "no validation before the last epoch");
    assert!(metrics[1].val_accuracy.is_finite());
    let saved: TrainConfig = straight.config().unwrap();
    assert_eq!(saved, cfg, "config.json holds the recipe");

    let broken = RunDir::new(dir.join("broken"));
    assert_eq!(train::train(&cfg, &broken, false, &AtomicBool::new(true)).unwrap(), Outcome::Interrupted(0));
    assert_eq!(train::train(&cfg, &broken, true, &AtomicBool::new(false)).unwrap(), Outcome::Finished);
    let weights = |run: &RunDir| common::checkpoint_weights(&run.path.join("last.safetensors"));
    assert_eq!(weights(&straight), weights(&broken));
    assert_eq!(broken.metrics().unwrap()[1].val_accuracy, metrics[1].val_accuracy);
}

#[test]
fn recipe_options_are_refused_without_the_recipe_and_the_recipe_trains_fastcnn_only() {
    let dir = scratch("fast-cli");
    let out = dir.join("run");
    let out = out.to_str().unwrap();
    let (code, _, stderr) = cli(&["train", "--no-lookahead", "--out", out]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--no-lookahead belongs to a recipe: add --recipe fast94"), "{stderr}");
    let (code, _, stderr) =
        cli(&["train", "--recipe", "fast94", "--data", "shapes", "--model", "smallcnn", "--out", out]);
    assert_ne!(code, 0);
    assert!(stderr.contains("--recipe fast94 trains fastcnn, not smallcnn"), "{stderr}");
    let (code, _, stderr) = cli(&["train", "--recipe", "fast95", "--out", out]);
    assert_ne!(code, 0);
    assert!(stderr.contains("fast95"), "{stderr}");
}
