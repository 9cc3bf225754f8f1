//! Element-wise functions y = f(x), each written next to its derivative f'(x).
//!
//! The chain rule for an element-wise op is ∂L/∂x = ∂L/∂y · f'(x), so each op
//! below is a pair: the function, and its derivative expressed in x and y
//! (whichever is cheaper: for exp and sigmoid the output y is already at hand).

use super::{map, zip3_map, zip_map};
use crate::tensor::{Element, Tensor};
use std::sync::Arc;

impl<E: Element> Tensor<E> {
    // ANCHOR: unary
    /// Applies y = f(x) element-wise and records ∂L/∂x = ∂L/∂y · f'(x, y).
    pub fn unary(
        &self,
        op: &'static str,
        f: impl Fn(E) -> E + Send + Sync,
        derivative: impl Fn(E, E) -> E + Send + Sync + 'static,
    ) -> Tensor<E> {
        let y = Tensor::from_vec(map(&self.data, f), &self.shape);
        let (x_saved, y_saved) = (Arc::clone(&self.data), Arc::clone(&y.data));
        y.recorded(op, &[self], move |g| {
            let dx = zip3_map(&g.data, &x_saved, &y_saved, |g, x, y| g * derivative(x, y));
            vec![Some(Tensor::from_vec(dx, &g.shape))]
        })
    }
    // ANCHOR_END: unary

    /// −x.  d/dx = −1.
    pub fn neg(&self) -> Tensor<E> {
        self.unary("neg", |x| -x, |_, _| -E::ONE)
    }

    // ANCHOR: exp_log
    /// eˣ.  d/dx eˣ = eˣ = y.
    pub fn exp(&self) -> Tensor<E> {
        self.unary("exp", |x| x.exp(), |_x, y| y)
    }

    /// ln x.  d/dx ln x = 1/x.
    pub fn log(&self) -> Tensor<E> {
        self.unary("log", |x| x.ln(), |x, _y| E::ONE / x)
    }
    // ANCHOR_END: exp_log

    /// √x.  d/dx √x = 1/(2√x) = 1/(2y).
    pub fn sqrt(&self) -> Tensor<E> {
        self.unary("sqrt", |x| x.sqrt(), |_x, y| E::ONE / (y + y))
    }

    /// xᵖ for a constant p.  d/dx xᵖ = p·xᵖ⁻¹.
    pub fn pow(&self, p: f64) -> Tensor<E> {
        let p = E::from_f64(p);
        self.unary("pow", move |x| x.powf(p), move |x, _y| p * x.powf(p - E::ONE))
    }

    /// |x|.  d/dx |x| = sign(x) (0 at the kink x = 0).
    pub fn abs(&self) -> Tensor<E> {
        self.unary("abs", |x| x.abs(), |x, _y| sign(x))
    }

    // ANCHOR: relu
    /// max(0, x).  d/dx = 1 for x > 0, else 0.
    pub fn relu(&self) -> Tensor<E> {
        self.unary("relu", relu, |x, _y| step(x))
    }
    // ANCHOR_END: relu

    /// x for x > 0, αx otherwise.  d/dx = 1 for x > 0, else α.
    pub fn leaky_relu(&self, alpha: f64) -> Tensor<E> {
        let a = E::from_f64(alpha);
        let f = move |x: E| if x > E::ZERO { x } else { a * x };
        self.unary("leaky_relu", f, move |x, _y| if x > E::ZERO { E::ONE } else { a })
    }

    /// σ(x) = 1 / (1 + e⁻ˣ).  dσ/dx = σ(1 − σ) = y(1 − y).
    pub fn sigmoid(&self) -> Tensor<E> {
        self.unary("sigmoid", sigmoid, |_x, y| y * (E::ONE - y))
    }

    /// tanh x.  d/dx tanh x = 1 − tanh² x = 1 − y².
    pub fn tanh(&self) -> Tensor<E> {
        self.unary("tanh", |x| x.tanh(), |_x, y| E::ONE - y * y)
    }

    // ANCHOR: gelu
    /// GELU(x) = x·Φ(x), Φ the standard normal CDF: Φ(x) = ½(1 + erf(x/√2))
    /// (Hendrycks & Gimpel 2016; PyTorch's `nn.GELU()`, the exact form).
    /// d/dx = Φ(x) + x·φ(x), with the density φ(x) = e^(−x²/2)/√(2π).
    /// The backward pass computes Φ(x) again rather than keeping it: one
    /// more erf per value is cheaper than writing and rereading a tensor.
    pub fn gelu(&self) -> Tensor<E> {
        let y = Tensor::from_vec(map(&self.data, |x| x * normal_cdf(x)), &self.shape);
        let x_saved = Arc::clone(&self.data);
        y.recorded("gelu", &[self], move |g| {
            let dx = zip_map(&g.data, &x_saved, |g, x| g * (normal_cdf(x) + x * normal_pdf(x)));
            vec![Some(Tensor::from_vec(dx, &g.shape))]
        })
    }
    // ANCHOR_END: gelu

    /// x + c for a constant c.  d/dx = 1.
    pub fn add_scalar(&self, c: f64) -> Tensor<E> {
        let c = E::from_f64(c);
        self.unary("add_scalar", move |x| x + c, |_, _| E::ONE)
    }

    /// c·x for a constant c.  d/dx = c.
    pub fn mul_scalar(&self, c: f64) -> Tensor<E> {
        let c = E::from_f64(c);
        self.unary("mul_scalar", move |x| c * x, move |_, _| c)
    }
}

/// Φ(x) = ½(1 + erf(x/√2)), the standard normal CDF.
fn normal_cdf<E: Element>(x: E) -> E {
    let half = E::from_f64(0.5);
    half * (E::ONE + (x * E::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf())
}

/// φ(x) = e^(−x²/2)/√(2π) = e^(−(x/√2)²)/√(2π), the standard normal density.
fn normal_pdf<E: Element>(x: E) -> E {
    let inv_sqrt_2pi = E::from_f64(1.0 / (2.0 * std::f64::consts::PI).sqrt());
    inv_sqrt_2pi * (x * E::from_f64(std::f64::consts::FRAC_1_SQRT_2)).gauss()
}

/// The logistic function, computed without overflow for large |x|.
pub fn sigmoid<E: Element>(x: E) -> E {
    if x >= E::ZERO {
        E::ONE / (E::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (E::ONE + e)
    }
}

// ANCHOR: relu_scalar
/// max(0, x) for one value: the relu op's function, and what every fused
/// path (batch norm + ReLU, the convolution's epilogue) writes, so all agree bit for bit.
#[inline]
pub(crate) fn relu<E: Element>(x: E) -> E {
    if x > E::ZERO {
        x
    } else {
        E::ZERO
    }
}

/// 1 for x > 0, else 0: the derivative of ReLU.
fn step<E: Element>(x: E) -> E {
    if x > E::ZERO {
        E::ONE
    } else {
        E::ZERO
    }
}
// ANCHOR_END: relu_scalar

/// sign(x) ∈ {−1, 0, 1}.
fn sign<E: Element>(x: E) -> E {
    if x > E::ZERO {
        E::ONE
    } else if x < E::ZERO {
        -E::ONE
    } else {
        E::ZERO
    }
}
