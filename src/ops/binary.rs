//! Element-wise binary ops with NumPy broadcasting: add, sub, mul, div.
//!
//! When an operand was broadcast in the forward pass (a bias `[1, C, 1, 1]`
//! added to `[N, C, H, W]`), each of its elements was used many times, so its
//! gradient is the *sum* of the output gradient over the broadcast axes:
//! [`Tensor::sum_to`] undoes broadcasting.

use super::zip_map;
use crate::tensor::shape::{broadcast_shapes, broadcast_strides, for_each_offset2, numel};
use crate::tensor::{Element, Tensor};

/// Computes `f(a, b)` element-wise over the broadcast shape of `a` and `b`.
fn broadcast_apply<E: Element>(
    op: &str,
    a: &Tensor<E>,
    b: &Tensor<E>,
    f: impl Fn(E, E) -> E + Sync + Send,
) -> (Vec<E>, Vec<usize>) {
    if a.shape == b.shape {
        return (zip_map(&a.data, &b.data, f), a.shape.clone());
    }
    let shape = broadcast_shapes(op, &a.shape, &b.shape);
    let (sa, sb) = (broadcast_strides(&a.shape, &shape), broadcast_strides(&b.shape, &shape));
    let mut out = Vec::with_capacity(numel(&shape));
    for_each_offset2(&shape, &sa, &sb, |ia, ib| out.push(f(a.data[ia], b.data[ib])));
    (out, shape)
}

impl<E: Element> Tensor<E> {
    // ANCHOR: add
    /// a + b (broadcasting).  ∂/∂a = 1, ∂/∂b = 1.
    pub fn add(&self, other: &Tensor<E>) -> Tensor<E> {
        let (data, shape) = broadcast_apply("add", self, other, |a, b| a + b);
        let (shape_a, shape_b) = (self.shape.clone(), other.shape.clone());
        Tensor::from_op("add", data, &shape, &[self, other], move |g| {
            vec![Some(g.sum_to(&shape_a)), Some(g.sum_to(&shape_b))]
        })
    }
    // ANCHOR_END: add

    /// a − b (broadcasting).  ∂/∂a = 1, ∂/∂b = −1.
    pub fn sub(&self, other: &Tensor<E>) -> Tensor<E> {
        let (data, shape) = broadcast_apply("sub", self, other, |a, b| a - b);
        let (shape_a, shape_b) = (self.shape.clone(), other.shape.clone());
        Tensor::from_op("sub", data, &shape, &[self, other], move |g| {
            vec![Some(g.sum_to(&shape_a)), Some(g.neg().sum_to(&shape_b))]
        })
    }

    // ANCHOR: mul
    /// a · b element-wise (broadcasting).  ∂/∂a = b, ∂/∂b = a.
    pub fn mul(&self, other: &Tensor<E>) -> Tensor<E> {
        let (data, shape) = broadcast_apply("mul", self, other, |a, b| a * b);
        let (a, b) = (self.detach(), other.detach());
        Tensor::from_op("mul", data, &shape, &[self, other], move |g| {
            vec![Some(g.mul(&b).sum_to(&a.shape)), Some(g.mul(&a).sum_to(&b.shape))]
        })
    }
    // ANCHOR_END: mul

    /// a / b element-wise (broadcasting).  ∂/∂a = 1/b, ∂/∂b = −a/b².
    pub fn div(&self, other: &Tensor<E>) -> Tensor<E> {
        let (data, shape) = broadcast_apply("div", self, other, |a, b| a / b);
        let (a, b) = (self.detach(), other.detach());
        Tensor::from_op("div", data, &shape, &[self, other], move |g| {
            let grad_a = g.div(&b);
            let grad_b = grad_a.mul(&a).div(&b).neg();
            vec![Some(grad_a.sum_to(&a.shape)), Some(grad_b.sum_to(&b.shape))]
        })
    }

    // ANCHOR: sum_to
    /// Sums this tensor down to `shape`, which it must broadcast to: the
    /// adjoint of broadcasting. Leading axes that `shape` lacks, and axes
    /// where `shape` has size 1, are summed away.
    pub fn sum_to(&self, shape: &[usize]) -> Tensor<E> {
        if self.shape == shape {
            return self.clone();
        }
        let extra = self.rank() - shape.len();
        let axes: Vec<isize> = (0..self.rank())
            .filter(|&i| i < extra || (shape[i - extra] == 1 && self.shape[i] != 1))
            .map(|i| i as isize)
            .collect();
        self.sum_axes(&axes, true).reshape(shape)
    }
    // ANCHOR_END: sum_to
}

macro_rules! operator {
    ($trait:ident, $method:ident) => {
        impl<E: Element> std::ops::$trait<&Tensor<E>> for &Tensor<E> {
            type Output = Tensor<E>;
            fn $method(self, rhs: &Tensor<E>) -> Tensor<E> {
                Tensor::$method(self, rhs)
            }
        }
    };
}
operator!(Add, add);
operator!(Sub, sub);
operator!(Mul, mul);
operator!(Div, div);

impl<E: Element> std::ops::Neg for &Tensor<E> {
    type Output = Tensor<E>;
    fn neg(self) -> Tensor<E> {
        Tensor::neg(self)
    }
}
