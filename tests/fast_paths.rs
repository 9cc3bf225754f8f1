//! The fast paths give the answers of the plain ones: the packed f32 convolution against the f64 definition, fused inference bit for bit against layer-by-layer inference.

use cnnlab::models::{Arch, Model};
use cnnlab::nn::{fuse_for_inference, fuse_for_training, BatchNorm, Module};
use cnnlab::ops::batchnorm::BatchStats;
use cnnlab::optim::{Optimizer, Sgd};
use cnnlab::{no_grad, Conv2dConfig, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn max_rel_err(a: &[f32], b: &[f64]) -> f64 {
    let scale = b.iter().fold(1e-3f64, |m, v| m.max(v.abs()));
    a.iter().zip(b).map(|(&x, &y)| (x as f64 - y).abs() / scale).fold(0.0, f64::max)
}

/// f32 conv2d (the packed AVX-512 kernel where the CPU has it) equals the
/// f64 one (always the portable im2col + dgemm path) to f32 rounding, over
/// geometries that exercise every edge of the kernel: output channels not a
/// multiple of 8, pixel counts not a multiple of 32, more than 256 taps
/// (several tap blocks), strides, dilation, padding wider than the kernel,
/// more images than one weight-gradient chunk.
#[test]
fn f32_convolution_matches_f64_on_awkward_geometries() {
    let mut rng = StdRng::seed_from_u64(7);
    let cases = [
        // n, c_in, h, w, c_out, k, stride, pad, dil
        (3, 3, 32, 32, 32, 3, 1, 1, 1),
        (2, 5, 7, 9, 13, 3, 1, 1, 1),
        (2, 40, 6, 5, 9, 3, 1, 1, 1), // 360 taps: two blocks
        (1, 64, 8, 8, 17, 3, 1, 0, 1),
        (2, 3, 11, 13, 8, 3, 2, 1, 1),
        (2, 4, 12, 10, 7, 3, 1, 2, 2),
        (1, 6, 5, 5, 3, 1, 1, 0, 1),
        (2, 2, 4, 3, 5, 3, 1, 3, 1), // padding wider than the kernel
        (1, 3, 40, 41, 33, 5, 1, 2, 1),
        (10, 33, 6, 7, 16, 3, 1, 1, 1), // two chunks of images; 99 (j, c) pairs per kernel row
        (2, 20, 9, 9, 12, 3, 2, 1, 2),  // stride and dilation: one run of 20 channels per j
        (2, 8, 4, 3, 5, 3, 1, 3, 1),    // padding wider than the kernel, 24 pairs per kernel row
        (1, 4, 12, 13, 9, 5, 1, 2, 1),  // 5×5 kernel, 20 pairs per kernel row
    ];
    for (n, c, h, w, o, k, s, p, d) in cases {
        let x = Tensor::<f64>::randn(&[n, c, h, w], &mut rng);
        let wt = Tensor::<f64>::randn(&[o, c, k, k], &mut rng);
        let b = Tensor::<f64>::randn(&[o], &mut rng);
        let cfg = Conv2dConfig::default().stride(s).padding(p).dilation(d);
        let case = (n, c, h, w, o, k, s, p, d);
        let (x, wt) = (x.with_grad(), wt.with_grad());
        let exact = x.conv2d(&wt, Some(&b), cfg);
        let (x32, w32) = (x.detach().cast::<f32>().with_grad(), wt.detach().cast::<f32>().with_grad());
        let fast = x32.conv2d(&w32, Some(&b.cast()), cfg);
        assert_eq!(fast.shape(), exact.shape());
        let err = max_rel_err(fast.data(), exact.data());
        assert!(err < 1e-5, "case {case:?}: forward relative error {err}");
        // backward (∂L/∂x: at stride 1 a convolution with flipped kernels, at stride 2 one per phase) for a random seed
        let seed = Tensor::<f64>::randn(exact.shape(), &mut rng);
        let (g64, g32) = (exact.backward_with(&seed), fast.backward_with(&seed.cast()));
        for (name, a, e) in [("dx", g32.get(&x32), g64.get(&x)), ("dw", g32.get(&w32), g64.get(&wt))] {
            let err = max_rel_err(a.unwrap().data(), e.unwrap().data());
            assert!(err < 1e-5, "case {case:?}: {name} relative error {err}");
        }
    }
}

/// A model in evaluation mode with non-trivial running statistics.
fn trained(arch: Arch, rng: &mut StdRng) -> (Model, Tensor) {
    let mut model = Model::new(arch, 10, [3, 32, 32], 3).unwrap();
    let mut opt = Sgd::new(0.05).momentum(0.9, true);
    for _ in 0..2 {
        let x = Tensor::randn(&[8, 3, 32, 32], rng);
        let labels: Vec<usize> = (0..8).map(|_| rng.random_range(0..10)).collect();
        let grads = model.forward(&x).cross_entropy(&labels, 0.0).backward();
        opt.step(&mut model, &grads);
    }
    model.set_training(false);
    (model, Tensor::randn(&[5, 3, 32, 32], rng))
}

/// Inference through `fuse_for_inference` (conv + batch norm + ReLU, and
/// max pooling after them, fused) is bit for bit inference through the
/// inspection path (every layer on its own).
#[test]
fn fused_inference_equals_layer_by_layer_inference_bit_for_bit() {
    let mut rng = StdRng::seed_from_u64(11);
    for arch in Arch::ALL {
        let (mut model, x) = trained(arch, &mut rng);
        let mut fused_model = fuse_for_inference(&mut model);
        let fused = fused_model.forward(&x);
        // chains of layers really are fused (ResNet's blocks fuse inside, by name)
        assert!(fused_model.fused_runs() > 0 || arch.name().starts_with("resnet"), "{arch}: nothing fused");
        let mut calls = 0;
        let plain = no_grad(|| {
            model.forward_inspect(&x, "", &mut |_, y| {
                calls += 1;
                y
            })
        });
        assert!(calls > 0);
        assert_eq!(fused.data(), plain.data(), "{arch}");
    }
}

/// A fused training op against batch norm followed by `rest` (the ops it
/// fuses): the same values, statistics and gradients for x, γ, β and (when
/// `residual`) the shortcut r, which `rest` receives too.
fn fused_batch_norm_equals_op_by_op(
    rng_seed: u64,
    residual: bool,
    fused: impl Fn(&Tensor<f32>, &Tensor<f32>, &Tensor<f32>, &Tensor<f32>) -> (Tensor<f32>, BatchStats),
    rest: impl Fn(Tensor<f32>, &Tensor<f32>) -> Tensor<f32>,
) {
    let mut rng = StdRng::seed_from_u64(rng_seed);
    for shape in [[4usize, 3, 5, 7], [2, 8, 1, 1], [16, 2, 3, 3]] {
        let x = Tensor::<f32>::randn(&shape, &mut rng).with_grad();
        let gamma = Tensor::<f32>::randn(&[shape[1]], &mut rng).with_grad();
        let beta = Tensor::<f32>::randn(&[shape[1]], &mut rng).with_grad();
        let r = Tensor::<f32>::randn(&shape, &mut rng).with_grad();
        let seed = Tensor::<f32>::randn(&shape, &mut rng);
        let (fused, stats_f) = fused(&x, &gamma, &beta, &r);
        let (bn, stats_p) = x.batch_norm_train(&gamma, &beta, 1e-5);
        let plain = rest(bn, &r);
        assert_eq!(fused.data(), plain.data(), "{shape:?}");
        assert!(plain.data().contains(&0.0) && plain.data().iter().any(|&v| v > 0.0));
        assert_eq!((stats_f.mean, stats_f.var), (stats_p.mean, stats_p.var));
        let (gf, gp) = (fused.backward_with(&seed), plain.backward_with(&seed));
        let inputs = if residual { vec![&x, &gamma, &beta, &r] } else { vec![&x, &gamma, &beta] };
        for t in inputs {
            assert_eq!(gf.get(t).unwrap().data(), gp.get(t).unwrap().data(), "{shape:?}");
        }
    }
}

/// Batch norm + ReLU as one training op gives the values and gradients of
/// the two ops one after the other.
#[test]
fn fused_batch_norm_relu_equals_batch_norm_then_relu() {
    let fused =
        |x: &Tensor<f32>, g: &Tensor<f32>, b: &Tensor<f32>, _: &Tensor<f32>| x.batch_norm_relu_train(g, b, 1e-5);
    fused_batch_norm_equals_op_by_op(5, false, fused, |bn, _| bn.relu());
}

/// The tail of a residual block as one training op, ReLU(BN(x) + r), gives
/// the values, statistics and gradients (for x, γ, β and r) of batch norm,
/// add and ReLU one after the other.
#[test]
fn fused_batch_norm_add_relu_equals_the_three_ops() {
    let fused =
        |x: &Tensor<f32>, g: &Tensor<f32>, b: &Tensor<f32>, r: &Tensor<f32>| x.batch_norm_add_relu_train(g, b, r, 1e-5);
    fused_batch_norm_equals_op_by_op(6, true, fused, |bn, r| bn.add(r).relu());
}

/// A BatchNorm2d layer in evaluation mode with random γ, β and running statistics.
fn batch_norm_in_eval_mode(channels: usize, rng: &mut StdRng) -> BatchNorm {
    let mut bn = BatchNorm::new_2d(channels);
    bn.gamma = Tensor::randn(&[channels], rng);
    bn.beta = Tensor::randn(&[channels], rng);
    bn.running_mean = Tensor::from_vec((0..channels).map(|_| rng.random_range(-1.0..1.0)).collect(), &[channels]);
    bn.running_var = Tensor::from_vec((0..channels).map(|_| rng.random_range(0.1..2.0)).collect(), &[channels]);
    bn.set_training(false);
    bn
}

/// Inference with the shortcut in the convolution's epilogue is bit for
/// bit conv2d → batch_norm_eval → add → relu (the packed and the portable
/// kernel: 16 output channels and 3).
#[test]
fn fused_convolution_with_shortcut_equals_the_four_ops() {
    let mut rng = StdRng::seed_from_u64(8);
    for (c_in, c_out, stride) in [(16usize, 16usize, 1usize), (8, 16, 2), (2, 3, 1)] {
        let x = Tensor::<f32>::randn(&[3, c_in, 9, 8], &mut rng);
        let w = Tensor::<f32>::randn(&[c_out, c_in, 3, 3], &mut rng);
        let cfg = Conv2dConfig::default().padding(1).stride(stride);
        let mut bn = batch_norm_in_eval_mode(c_out, &mut rng);
        let plain_conv = x.conv2d(&w, None, cfg);
        let shortcut = Tensor::<f32>::randn(plain_conv.shape(), &mut rng);
        let plain = bn.forward(&plain_conv).add(&shortcut).relu();
        let e = bn.eval_epilogue(true).unwrap();
        let fused = no_grad(|| x.conv2d_fused_eval(&w, None, cfg, &e, Some(&shortcut)));
        assert_eq!(fused.shape(), plain.shape());
        assert_eq!(fused.data(), plain.data(), "c_in {c_in}, c_out {c_out}, stride {stride}");
        assert!(plain.data().contains(&0.0) && plain.data().iter().any(|&v| v > 0.0));
    }
}

/// Inference with 2×2 max pooling in the epilogue is bit for bit conv2d →
/// batch_norm_eval → relu → max_pool2d: odd output sizes (the last row or
/// column left out), many ties (exact zeros from the ReLU), several images
/// (the pooled images moved together), the packed and the portable kernel.
#[test]
fn fused_convolution_with_max_pooling_equals_the_four_ops() {
    let mut rng = StdRng::seed_from_u64(9);
    for (n, c_in, c_out, h, w) in [(3usize, 16usize, 16usize, 9usize, 8usize), (2, 8, 33, 7, 5), (4, 2, 3, 6, 6)] {
        let x = Tensor::<f32>::randn(&[n, c_in, h, w], &mut rng);
        let weight = Tensor::<f32>::randn(&[c_out, c_in, 3, 3], &mut rng);
        let cfg = Conv2dConfig::default().padding(1);
        let mut bn = batch_norm_in_eval_mode(c_out, &mut rng);
        let plain = bn.forward(&x.conv2d(&weight, None, cfg)).relu().max_pool2d(cnnlab::Pool2dConfig::new(2));
        let e = bn.eval_epilogue(true).unwrap();
        let fused = no_grad(|| x.conv2d_fused_eval_max_pool(&weight, None, cfg, &e));
        assert_eq!(fused.shape(), [n, c_out, h / 2, w / 2]);
        assert_eq!(fused.data(), plain.data(), "{n} images, c_in {c_in}, c_out {c_out}, {h}×{w}");
        assert!(plain.data().contains(&0.0) && plain.data().iter().any(|&v| v > 0.0));
    }
}

#[test]
#[should_panic(expected = "conv2d_fused_eval: shortcut shape [1, 1, 2, 3], output shape [1, 1, 3, 3]")]
fn fused_convolution_refuses_a_shortcut_of_another_shape() {
    let x = Tensor::<f32>::ones(&[1, 1, 3, 3]);
    let w = Tensor::<f32>::ones(&[1, 1, 1, 1]);
    let e = batch_norm_in_eval_mode(1, &mut StdRng::seed_from_u64(0)).eval_epilogue(true).unwrap();
    no_grad(|| x.conv2d_fused_eval(&w, None, Conv2dConfig::default(), &e, Some(&Tensor::ones(&[1, 1, 2, 3]))));
}

/// A training step through `fuse_for_training` (batch norm + ReLU fused)
/// computes the loss and every parameter gradient of the layer-by-layer path.
#[test]
fn fused_training_forward_equals_layer_by_layer() {
    let mut rng = StdRng::seed_from_u64(13);
    for arch in Arch::ALL {
        let x = Tensor::randn(&[6, 3, 32, 32], &mut rng);
        let labels: Vec<usize> = (0..6).map(|_| rng.random_range(0..10)).collect();
        let mut fused_model = Model::new(arch, 10, [3, 32, 32], 9).unwrap();
        let mut plain_model = Model::new(arch, 10, [3, 32, 32], 9).unwrap();
        let mut prepared = fuse_for_training(&mut fused_model);
        // (fastcnn has GELU, not ReLU, after its batch norms: nothing to fuse)
        let fuses = !arch.name().starts_with("resnet") && arch.name() != "fastcnn";
        assert_eq!(prepared.fused_runs() > 0, fuses, "{arch}");
        let fused = prepared.forward(&x).cross_entropy(&labels, 0.0);
        let plain = plain_model.forward_inspect(&x, "", &mut |_, y| y).cross_entropy(&labels, 0.0);
        assert_eq!(fused.data(), plain.data(), "{arch}");
        let (gf, gp) = (fused.backward(), plain.backward());
        let mut grads_f = vec![];
        fused_model
            .visit_state("", &mut |name, t, _| grads_f.push((name.to_string(), gf.get(t).map(|g| g.data().to_vec()))));
        let mut grads_p = vec![];
        plain_model
            .visit_state("", &mut |name, t, _| grads_p.push((name.to_string(), gp.get(t).map(|g| g.data().to_vec()))));
        assert_eq!(grads_f, grads_p, "{arch}");
    }
}

#[test]
#[should_panic(expected = "conv2d_fused_eval: inference only")]
fn fused_convolution_refuses_to_run_under_a_graph() {
    let x = Tensor::<f32>::ones(&[1, 1, 3, 3]);
    let w = Tensor::<f32>::ones(&[1, 1, 1, 1]);
    let e = batch_norm_in_eval_mode(1, &mut StdRng::seed_from_u64(0)).eval_epilogue(true).unwrap();
    x.conv2d_fused_eval(&w, None, Conv2dConfig::default(), &e, None);
}
