//! Checks of the lab "Batch normalization": forward and statistics against cnnlab's op, the backward pass against cnnlab's and against finite differences, the running averages against the BatchNorm layer, evaluation mode.

#[path = "../check_support.rs"]
mod support;

use cnnlab::nn::{BatchNorm, Module};
use cnnlab::Tensor;
use cnnlab_labs::batchnorm::{backward, forward_eval, forward_train, update_running};
use proptest::prelude::*;
use support::{assert_close, assert_gradients, values};

const EPS: f64 = 1e-5;

/// A batch `[n, c, l]` (n ≥ 2) whose channels have different offsets and
/// spreads, with γ, β and an output gradient.
#[derive(Clone, Debug)]
struct Batch {
    dims: (usize, usize, usize),
    x: Vec<f64>,
    gamma: Vec<f64>,
    beta: Vec<f64>,
    grad_y: Vec<f64>,
}

fn batch() -> impl Strategy<Value = Batch> {
    (2..=4usize, 1..=3usize, 1..=6usize).prop_flat_map(|dims @ (n, c, l)| {
        let len = n * c * l;
        (values(len, 1.0), values(c, 3.0), values(c, 2.0), values(c, 1.0), values(len, 1.0)).prop_map(
            move |(noise, offset, spread, beta, grad_y)| {
                // channel ch: offset + (1.2 + spread)·noise, so no channel is constant
                let x = noise.iter().enumerate().map(|(k, v)| {
                    let ch = (k / l) % c;
                    offset[ch] + (1.2 + spread[ch].abs()) * v
                });
                let gamma = spread.iter().map(|s| 0.5 + s).collect();
                Batch { dims, x: x.collect(), gamma, beta, grad_y }
            },
        )
    })
}

fn tensor(values: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(values.to_vec(), shape)
}

/// The batch as cnnlab tensors x `[n, c, l]`, γ, β.
fn tensors(b: &Batch) -> (Tensor<f64>, Tensor<f64>, Tensor<f64>) {
    let (n, c, l) = b.dims;
    (tensor(&b.x, &[n, c, l]), tensor(&b.gamma, &[c]), tensor(&b.beta, &[c]))
}

proptest! {
    #![proptest_config(support::config(64))]

    #[test]
    fn forward_and_statistics_match_cnnlab(b in batch()) {
        let (y, mean, var) = forward_train(&b.x, b.dims, &b.gamma, &b.beta, EPS);
        let (x, gamma, beta) = tensors(&b);
        let (expected, stats) = x.batch_norm_train(&gamma, &beta, EPS);
        assert_close("μ per channel", &mean, &stats.mean, 1e-10);
        assert_close("σ² per channel (biased: divide by m)", &var, &stats.var, 1e-10);
        assert_close("y", &y, expected.data(), 1e-10);
    }

    #[test]
    fn backward_matches_cnnlab(b in batch()) {
        let (dx, d_gamma, d_beta) = backward(&b.x, b.dims, &b.gamma, EPS, &b.grad_y);
        let (x, gamma, beta) = tensors(&b);
        let (x, gamma, beta) = (x.with_grad(), gamma.with_grad(), beta.with_grad());
        let (y, _) = x.batch_norm_train(&gamma, &beta, EPS);
        let grads = y.backward_with(&tensor(&b.grad_y, y.shape()));
        assert_close("∂L/∂β", &d_beta, grads.wrt(&beta).data(), 1e-9);
        assert_close("∂L/∂γ", &d_gamma, grads.wrt(&gamma).data(), 1e-9);
        assert_close("∂L/∂x", &dx, grads.wrt(&x).data(), 1e-9);
    }

    #[test]
    fn backward_matches_finite_differences_of_your_forward(b in batch()) {
        // your forward and backward as one graph node, checked like every cnnlab op
        let dims @ (n, c, l) = b.dims;
        let op = move |t: &[Tensor<f64>]| {
            let (x, gamma, beta) = (t[0].detach(), t[1].detach(), t[2].detach());
            let (y, _, _) = forward_train(x.data(), dims, gamma.data(), beta.data(), EPS);
            Tensor::from_op("lab_batch_norm", y, &[n, c, l], &[&t[0], &t[1], &t[2]], move |g| {
                let (dx, d_gamma, d_beta) = backward(x.data(), dims, gamma.data(), EPS, g.data());
                vec![Some(tensor(&dx, &[n, c, l])), Some(tensor(&d_gamma, &[c])), Some(tensor(&d_beta, &[c]))]
            })
        };
        let (x, gamma, beta) = tensors(&b);
        assert_gradients("your batch norm", op, &[x, gamma, beta]);
    }

    #[test]
    fn input_gradient_has_no_component_along_mean_or_normalised_input(b in batch()) {
        // with ε = 0, y does not change when x shifts or scales within a channel,
        // so per channel Σ ∂L/∂x = 0 and Σ ∂L/∂x · x̂ = 0
        let (n, c, l) = b.dims;
        let (x_hat, _, var) = forward_train(&b.x, b.dims, &vec![1.0; c], &vec![0.0; c], 0.0);
        prop_assume!(var.iter().all(|&v| v > 1e-2), "a channel is almost constant");
        let (dx, _, _) = backward(&b.x, b.dims, &b.gamma, 0.0, &b.grad_y);
        for ch in 0..c {
            let k = (0..n).flat_map(|i| (i * c + ch) * l..(i * c + ch + 1) * l);
            let (sum, along) = k.fold((0.0, 0.0), |(s, a), k| (s + dx[k], a + dx[k] * x_hat[k]));
            prop_assert!(sum.abs() < 1e-9, "channel {}: Σ ∂L/∂x = {}, should be 0", ch, sum);
            prop_assert!(along.abs() < 1e-9, "channel {}: Σ ∂L/∂x·x̂ = {}, should be 0", ch, along);
        }
    }

    #[test]
    fn evaluation_mode_matches_cnnlab(b in batch()) {
        let (_, c, _) = b.dims;
        let (running_mean, running_var): (Vec<f64>, Vec<f64>) = (0..c).map(|ch| (0.3 * ch as f64 - 0.2, 0.5 + ch as f64)).unzip();
        let y = forward_eval(&b.x, b.dims, &b.gamma, &b.beta, &running_mean, &running_var, EPS);
        let (x, gamma, beta) = tensors(&b);
        let expected = x.batch_norm_eval(&gamma, &beta, &running_mean, &running_var, EPS);
        assert_close("y in evaluation mode", &y, expected.data(), 1e-10);
    }
}

#[test]
fn running_averages_follow_the_batchnorm_layer() {
    // three training batches through cnnlab's BatchNorm2d and through yours
    let (n, c, h, w) = (4, 3, 2, 3);
    let mut layer = BatchNorm::new_2d(c);
    let (mut running_mean, mut running_var) = (vec![0.0; c], vec![1.0; c]);
    for step in 0..3 {
        let x: Vec<f64> = (0..n * c * h * w).map(|k| ((k * 7 + step * 13) % 11) as f64 * 0.3 - step as f64).collect();
        layer.forward(&Tensor::from_vec(x.iter().map(|&v| v as f32).collect(), &[n, c, h, w]));
        let (_, mean, var) = forward_train(&x, (n, c, h * w), &vec![1.0; c], &vec![0.0; c], EPS);
        update_running(&mut running_mean, &mut running_var, &mean, &var, n * h * w, layer.momentum);
    }
    let f64s = |t: &Tensor| t.data().iter().map(|&v| v as f64).collect::<Vec<f64>>();
    assert_close("running mean after three batches", &running_mean, &f64s(&layer.running_mean), 1e-5);
    assert_close("running variance after three batches (unbiased)", &running_var, &f64s(&layer.running_var), 1e-5);
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's batch norm
    support::assert_own_work("batchnorm", lab_source!("batchnorm"), &["batch_norm_", "BatchNorm", ".backward"]);
}
