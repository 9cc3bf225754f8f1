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

/// U(−bound, bound): PyTorch's default for `nn.Conv2d` and `nn.Linear`
/// weights is bound = 1/√fan_in (its `kaiming_uniform_` with a = √5).
pub fn uniform(shape: &[usize], bound: f64, rng: &mut impl Rng) -> Tensor {
    Tensor::rand_uniform(shape, -bound, bound, rng)
}

// ANCHOR: dirac
/// Partial identity ("Dirac") initialisation of a conv weight `[O, C, kh, kw]`:
/// the first min(O, C) filters become the identity — filter i is zero except
/// a 1 at the kernel's centre of input channel i — so at the start the layer
/// passes its input on (PyTorch's `dirac_` applied to `weight[:C]`); the
/// other filters keep their values.
pub fn dirac(weight: &mut Tensor) {
    let shape = weight.shape().to_vec();
    let (o, c, kh, kw) = (shape[0], shape[1], shape[2], shape[3]);
    let data = weight.data_mut();
    for i in 0..o.min(c) {
        let filter = &mut data[i * c * kh * kw..(i + 1) * c * kh * kw];
        filter.fill(0.0);
        filter[(i * kh + kh / 2) * kw + kw / 2] = 1.0;
    }
}
// ANCHOR_END: dirac
