//! Weight initialisation: Kaiming (He et al. 2015) for ReLU networks and Xavier (Glorot & Bengio 2010).
//!
//! Both choose the spread of the initial weights so that activations (or
//! gradients) keep their variance from layer to layer. With fan_in the number
//! of inputs of one output unit (C·kh·kw for a conv) and fan_out the number of
//! outputs fed by one input:
//!
//! * Kaiming normal: w ~ N(0, 2/fan_in) — ReLU halves the variance, the 2 restores it;
//! * Xavier uniform: w ~ U(−a, a), a = √(6/(fan_in + fan_out)).

use crate::Tensor;
use rand::Rng;

/// fan_in and fan_out of a weight of shape `[out, in, …kernel]`.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    let receptive: usize = shape[2..].iter().product();
    (shape[1] * receptive, shape[0] * receptive)
}

/// Kaiming/He normal initialisation: N(0, 2/fan_in).
pub fn kaiming_normal(shape: &[usize], rng: &mut impl Rng) -> Tensor {
    let std = (2.0 / fans(shape).0 as f64).sqrt();
    Tensor::<f32>::randn(shape, rng).mul_scalar(std)
}

/// Xavier/Glorot uniform initialisation: U(−a, a), a = √(6/(fan_in + fan_out)).
pub fn xavier_uniform(shape: &[usize], rng: &mut impl Rng) -> Tensor {
    let (fan_in, fan_out) = fans(shape);
    let a = (6.0 / (fan_in + fan_out) as f64).sqrt();
    Tensor::rand_uniform(shape, -a, a, rng)
}

/// PyTorch's default bias initialisation: U(−1/√fan_in, 1/√fan_in).
pub fn bias_uniform(len: usize, fan_in: usize, rng: &mut impl Rng) -> Tensor {
    let a = 1.0 / (fan_in.max(1) as f64).sqrt();
    Tensor::rand_uniform(&[len], -a, a, rng)
}
