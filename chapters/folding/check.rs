//! Checks of the lab "Where the time goes": your scale and epilogue against cnnlab's evaluation-mode batch norm (and ReLU) bit for bit, your folded convolution against convolution then batch norm to rounding, at random geometries, and both by hand.

#[path = "../check_support.rs"]
mod support;

use cnnlab::{Conv2dConfig, Tensor};
use cnnlab_labs::folding::{epilogue, eval_scale, fold_into_conv};
use proptest::prelude::*;
use support::assert_close;

/// Evaluation-mode batch norm's parameters for `c` channels: γ, β, running mean and variance, ε.
#[derive(Clone, Debug)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    mean: Vec<f64>,
    var: Vec<f64>,
    eps: f64,
}

fn norm(c: usize) -> impl Strategy<Value = Norm> {
    let v = move |lo: f64, hi: f64| proptest::collection::vec(lo..hi, c);
    let f = move || proptest::collection::vec(-2f32..2.0, c);
    (f(), f(), v(-1.0, 1.0), v(0.05, 3.0), prop_oneof![Just(1e-5), Just(1e-3)])
        .prop_map(|(gamma, beta, mean, var, eps)| Norm { gamma, beta, mean, var, eps })
}

/// cnnlab's evaluation-mode batch norm of `x` (then ReLU).
fn reference(x: &Tensor, p: &Norm, relu: bool) -> Tensor {
    let c = p.gamma.len();
    let (gamma, beta) = (Tensor::from_vec(p.gamma.clone(), &[c]), Tensor::from_vec(p.beta.clone(), &[c]));
    let y = x.batch_norm_eval(&gamma, &beta, &p.mean, &p.var, p.eps);
    if relu {
        y.relu()
    } else {
        y
    }
}

fn assert_same_bits(what: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "{what}: {} values, expected {}", actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            a.to_bits() == e.to_bits(),
            "{what}: element {i} is {a:e}, expected {e:e} bit for bit (differs by {:e})",
            a - e
        );
    }
}

proptest! {
    #![proptest_config(support::config(64))]

    #[test]
    fn the_epilogue_is_batch_norm_eval_bit_for_bit(
        data in (1..=3usize, 1..=5usize, 1..=6usize, any::<bool>()).prop_flat_map(|(n, c, hw, relu)| {
            (proptest::collection::vec(-4f32..4.0, n * c * hw), norm(c), Just((n, c, hw)), Just(relu))
        })
    ) {
        let (x, p, (n, c, hw), relu) = data;
        let expected = reference(&Tensor::from_vec(x.clone(), &[n, c, hw, 1]), &p, relu);
        let scale = eval_scale(&p.gamma, &p.var, p.eps);
        prop_assert_eq!(scale.len(), c, "one k_o per channel");
        let mut ours = x;
        for (plane_index, plane) in ours.chunks_exact_mut(hw).enumerate() {
            let o = plane_index % c;
            epilogue(plane, p.mean[o] as f32, scale[o], p.beta[o], relu);
        }
        assert_same_bits(if relu { "ReLU(BN(v))" } else { "BN(v)" }, &ours, expected.data());
    }

    #[test]
    fn the_folded_convolution_is_convolution_then_batch_norm(
        data in (1..=2usize, 1..=3usize, 3..=7usize, 1..=3usize, 1..=4usize, 1..=2usize, 0..=1usize, any::<bool>())
            .prop_flat_map(|(n, c_in, size, kernel, c_out, stride, padding, with_bias)| {
                let v = |len| proptest::collection::vec(-1f32..1.0, len);
                let geometry = Just((n, c_in, size, kernel, c_out, stride, padding, with_bias));
                (geometry, v(n * c_in * size * size), v(c_out * c_in * kernel * kernel), v(c_out), norm(c_out))
            })
    ) {
        let ((n, c_in, size, kernel, c_out, stride, padding, with_bias), x, w, b, p) = data;
        let cfg = Conv2dConfig { stride: (stride, stride), padding: (padding, padding), dilation: (1, 1), groups: 1 };
        let x = Tensor::from_vec(x, &[n, c_in, size, size]);
        let weight = Tensor::from_vec(w.clone(), &[c_out, c_in, kernel, kernel]);
        let bias = with_bias.then(|| Tensor::from_vec(b.clone(), &[c_out]));
        let expected = reference(&x.conv2d(&weight, bias.as_ref(), cfg), &p, false);

        let scale = eval_scale(&p.gamma, &p.var, p.eps);
        let (w2, b2) = fold_into_conv(&w, with_bias.then_some(b.as_slice()), &p.mean, &scale, &p.beta);
        prop_assert_eq!(b2.len(), c_out, "the folded convolution has a bias of C_out values, even without one before");
        let folded = Tensor::from_vec(w2, &[c_out, c_in, kernel, kernel]);
        let ours = x.conv2d(&folded, Some(&Tensor::from_vec(b2, &[c_out])), cfg);
        // the same value up to rounding: folding reorders the arithmetic
        assert_close("conv(x; W', b') against BN(conv(x; W, b))", ours.data(), expected.data(), 2e-5);
    }
}

#[test]
fn by_hand() {
    // γ = 3, σ² + ε = 9: k = 1; γ = 1, σ² + ε = 0.25: k = 2
    assert_close("k", &eval_scale(&[3.0, 1.0], &[8.99, 0.24], 0.01), &[1.0, 2.0], 1e-7);
    // (5 − 1.5)·2 + 0.25 = 7.25; (0 − 1.5)·2 + 0.25 = −2.75, and ReLU keeps 0
    let mut plane = [5.0, 0.0];
    epilogue(&mut plane, 1.5, 2.0, 0.25, false);
    assert_close("BN", &plane, &[7.25, -2.75], 0.0);
    let mut plane = [5.0, 0.0];
    epilogue(&mut plane, 1.5, 2.0, 0.25, true);
    assert_close("ReLU(BN)", &plane, &[7.25, 0.0], 0.0);
    // one output channel, W = [1, 2], b = 0.5, μ = 1.5, k = 2, β = 0.25
    let (w, b) = fold_into_conv(&[1.0, 2.0], Some(&[0.5]), &[1.5], &[2.0], &[0.25]);
    assert_close("W'", &w, &[2.0, 4.0], 0.0);
    assert_close("b' = (0.5 − 1.5)·2 + 0.25", &b, &[-1.75], 0.0);
    let (_, b) = fold_into_conv(&[1.0, 2.0], None, &[1.5], &[2.0], &[0.25]);
    assert_close("b' without a bias: (0 − 1.5)·2 + 0.25", &b, &[-2.75], 0.0);
    // two output channels: each scaled by its own k
    let (w, _) = fold_into_conv(&[1.0, 1.0, 1.0, 1.0], None, &[0.0, 0.0], &[2.0, 3.0], &[0.0, 0.0]);
    assert_close("W' per output channel", &w, &[2.0, 2.0, 3.0, 3.0], 0.0);
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's batch norm or fusion
    support::assert_own_work(
        "folding",
        lab_source!("folding"),
        &[
            "batch_norm_eval",
            "conv2d_fused_eval",
            "fuse_for_inference",
            "FusedConvBn",
            "ChannelEpilogue",
            "eval_affine",
        ],
    );
}
