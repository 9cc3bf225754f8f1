//! Checks of the lab "Tensors and broadcasting": broadcast shapes against cnnlab's `add`, the summed gradient against the gradients cnnlab's `add` and `mul` compute, and examples by hand.

#[path = "../check_support.rs"]
mod support;

use cnnlab::Tensor;
use cnnlab_labs::tensors::{broadcast_shape, sum_to_shape};
use proptest::prelude::*;
use support::{assert_close, values};

/// Two shapes that broadcast together: both derived from one full shape by
/// dropping leading axes and setting some axes to 1.
fn compatible_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    proptest::collection::vec(1..=4usize, 0..=4).prop_flat_map(|full| {
        let rank = full.len();
        let derived = move |full: Vec<usize>| {
            (0..=rank, proptest::collection::vec(any::<bool>(), rank)).prop_map(move |(drop, ones)| {
                full.iter().zip(&ones).skip(drop).map(|(&s, &one)| if one { 1 } else { s }).collect::<Vec<usize>>()
            })
        };
        (derived(full.clone()), derived(full))
    })
}

/// Shapes a and b, values of x (shape a) and y (shape b), and ∂L/∂(x op y).
type Operands = (Vec<usize>, Vec<usize>, Vec<f64>, Vec<f64>, Vec<f64>);

/// Compatible shapes with values for both inputs and for ∂L/∂(result).
fn shapes_and_values() -> impl Strategy<Value = Operands> {
    compatible_shapes().prop_flat_map(|(a, b)| {
        let out: usize = broadcast_len(&a, &b);
        let (na, nb) = (a.iter().product(), b.iter().product());
        (Just(a), Just(b), values(na, 2.0), values(nb, 2.0), values(out, 1.0))
    })
}

/// Number of elements of the broadcast result, by cnnlab.
fn broadcast_len(a: &[usize], b: &[usize]) -> usize {
    Tensor::<f64>::zeros(a).add(&Tensor::zeros(b)).shape().iter().product()
}

proptest! {
    #![proptest_config(support::config(128))]

    #[test]
    fn broadcast_shape_matches_cnnlab(shapes in compatible_shapes()) {
        let (a, b) = shapes;
        let expected = Tensor::<f64>::zeros(&a).add(&Tensor::zeros(&b)).shape().to_vec();
        prop_assert_eq!(broadcast_shape(&a, &b), Some(expected.clone()), "broadcast_shape({:?}, {:?})", a, b);
        prop_assert_eq!(broadcast_shape(&b, &a), Some(expected), "broadcast_shape({:?}, {:?})", b, a);
    }

    #[test]
    fn sum_to_shape_is_the_gradient_of_a_broadcast_add(data in shapes_and_values()) {
        let (a, b, xa, xb, g) = data;
        let (x, y) = (Tensor::from_vec(xa, &a).with_grad(), Tensor::from_vec(xb, &b).with_grad());
        let z = x.add(&y);
        let grads = z.backward_with(&Tensor::from_vec(g.clone(), z.shape()));
        assert_close(&format!("∂L/∂x for x {a:?} + y {b:?}"), &sum_to_shape(&g, z.shape(), &a), grads.wrt(&x).data(), 1e-12);
        assert_close(&format!("∂L/∂y for x {a:?} + y {b:?}"), &sum_to_shape(&g, z.shape(), &b), grads.wrt(&y).data(), 1e-12);
    }

    #[test]
    fn the_gradient_of_a_broadcast_mul_is_sum_to_shape_of_a_product(data in shapes_and_values()) {
        // z = x·y: ∂L/∂x = sum_to_shape(g · y broadcast), computed with cnnlab's mul for the product
        let (a, b, xa, xb, g) = data;
        let (x, y) = (Tensor::from_vec(xa, &a).with_grad(), Tensor::from_vec(xb, &b));
        let z = x.mul(&y);
        let grads = z.backward_with(&Tensor::from_vec(g.clone(), z.shape()));
        let g_times_y = Tensor::from_vec(g, z.shape()).mul(&y);
        assert_close(&format!("∂L/∂x for x {a:?} · y {b:?}"), &sum_to_shape(g_times_y.data(), z.shape(), &a), grads.wrt(&x).data(), 1e-12);
    }
}

#[test]
fn incompatible_shapes_do_not_broadcast() {
    for (a, b) in [(vec![2, 3], vec![4]), (vec![2, 3], vec![3, 2]), (vec![5, 1, 2], vec![3, 3])] {
        assert_eq!(broadcast_shape(&a, &b), None, "{a:?} and {b:?} cannot be broadcast together");
    }
    assert_eq!(broadcast_shape(&[2, 1, 4], &[3, 1]), Some(vec![2, 3, 4]), "[2, 1, 4] and [3, 1]");
    assert_eq!(broadcast_shape(&[], &[3]), Some(vec![3]), "a scalar [] and [3]");
}

#[test]
fn sums_by_hand() {
    let g = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // a [2, 3] gradient
    assert_close("[2, 3] summed to [3] (column sums)", &sum_to_shape(&g, &[2, 3], &[3]), &[5.0, 7.0, 9.0], 0.0);
    assert_close("[2, 3] summed to [2, 1] (row sums)", &sum_to_shape(&g, &[2, 3], &[2, 1]), &[6.0, 15.0], 0.0);
    assert_close("[2, 3] summed to [1, 1]", &sum_to_shape(&g, &[2, 3], &[1, 1]), &[21.0], 0.0);
    assert_close("[2, 3] summed to [2, 3] (nothing to sum)", &sum_to_shape(&g, &[2, 3], &[2, 3]), &g, 0.0);
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's broadcasting and reductions
    support::assert_own_work("tensors", lab_source!("tensors"), &["broadcast_shapes", "sum_axes", ".backward"]);
}
