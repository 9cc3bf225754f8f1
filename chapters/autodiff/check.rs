//! Checks of the lab "Reverse-mode autodiff": values against the closed forms, one graph node per op, and every gradient against finite differences at random shapes and values.

#[path = "../check_support.rs"]
mod support;

use cnnlab::Tensor;
use cnnlab_labs::autodiff::{scale_rows, silu};
use proptest::prelude::*;
use support::{assert_close, assert_gradients, shape, values};

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// A random tensor of 1 to 3 axes with values in ±8.
fn any_tensor() -> impl Strategy<Value = Tensor<f64>> {
    shape(1..=3, 5).prop_flat_map(|s| {
        let len = s.iter().product();
        values(len, 8.0).prop_map(move |v| Tensor::from_vec(v, &s))
    })
}

/// A random `[n, d]` matrix and `[n]` row factors.
fn matrix_and_factors() -> impl Strategy<Value = (Tensor<f64>, Tensor<f64>)> {
    (1..=5usize, 1..=6usize).prop_flat_map(|(n, d)| {
        (values(n * d, 4.0), values(n, 4.0))
            .prop_map(move |(x, s)| (Tensor::from_vec(x, &[n, d]), Tensor::from_vec(s, &[n])))
    })
}

proptest! {
    #![proptest_config(support::config(64))]

    #[test]
    fn silu_values_are_x_times_sigmoid(x in any_tensor()) {
        let y = silu(&x);
        assert_eq!(y.shape(), x.shape(), "silu must keep the shape");
        let expected: Vec<f64> = x.data().iter().map(|&v| v * sigmoid(v)).collect();
        assert_close("silu(x)", y.data(), &expected, 1e-12);
    }

    #[test]
    fn silu_gradient_matches_finite_differences(x in any_tensor()) {
        assert_gradients("silu", |t| silu(&t[0]), &[x]);
    }

    #[test]
    fn scale_rows_values(pair in matrix_and_factors()) {
        let (x, s) = pair;
        let d = x.shape()[1];
        let y = scale_rows(&x, &s);
        assert_eq!(y.shape(), x.shape(), "scale_rows must keep the shape of x");
        let expected: Vec<f64> = x.data().iter().enumerate().map(|(k, &v)| s.data()[k / d] * v).collect();
        assert_close("scale_rows(x, s)", y.data(), &expected, 1e-12);
    }

    #[test]
    fn scale_rows_gradients_match_finite_differences(pair in matrix_and_factors()) {
        let (x, s) = pair;
        assert_gradients("scale_rows (both inputs)", |t| scale_rows(&t[0], &t[1]), &[x, s]);
    }
}

#[test]
fn each_op_is_one_graph_node_with_its_own_backward() {
    let x = Tensor::from_vec(vec![-1.0, 0.0, 0.5, 1.0, 2.0, -3.0], &[2, 3]).with_grad();
    let s = Tensor::from_vec(vec![2.0, -0.5], &[2]).with_grad();
    assert_eq!(silu(&x).op_name(), "silu", "build silu with Tensor::from_op(\"silu\", …), not from other ops");
    assert_eq!(
        scale_rows(&x, &s).op_name(),
        "scale_rows",
        "build scale_rows with Tensor::from_op(\"scale_rows\", …), not from other ops"
    );
}

#[test]
fn silu_derivative_at_landmarks() {
    // silu′(0) = ½; its minimum, at x ≈ −1.27846, has slope 0; far right the
    // slope is 1, far left 0.
    let points = [0.0, -1.278_464_542_761_074, 30.0, -40.0];
    let x = Tensor::from_vec(points.to_vec(), &[4]).with_grad();
    let grads = silu(&x).sum().backward();
    assert_close("silu′ at 0, −1.27846, 30 and −40", grads.wrt(&x).data(), &[0.5, 0.0, 1.0, 0.0], 1e-9);
}

#[test]
fn scale_rows_gradients_in_closed_form() {
    // L = Σ_ij y_ij: ∂L/∂x_ij = s_i and ∂L/∂s_i = Σ_j x_ij
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, -1.0, 0.5, 4.0], &[2, 3]).with_grad();
    let s = Tensor::from_vec(vec![2.0, -0.5], &[2]).with_grad();
    let grads = scale_rows(&x, &s).sum().backward();
    assert_close("∂L/∂x", grads.wrt(&x).data(), &[2.0, 2.0, 2.0, -0.5, -0.5, -0.5], 1e-12);
    assert_close("∂L/∂s", grads.wrt(&s).data(), &[6.0, 3.5], 1e-12);
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from autodiff of other ops inside your backward
    support::assert_own_work("autodiff", lab_source!("autodiff"), &[".backward", "gradcheck"]);
}
