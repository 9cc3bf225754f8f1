//! A fully connected layer: y = x·Wᵀ + b.

use super::{init, Module, StateKind};
use crate::Tensor;
use rand::Rng;
use std::any::Any;

/// Fully connected layer with weight `[out, in]` and bias `[out]` (PyTorch's layout).
///
/// # Shapes
/// input `[N, in]`, output `[N, out]`.
#[derive(Clone)]
pub struct Linear {
    /// W, `[out, in]`; in a CAM network row c holds the class weights w_k^c.
    pub weight: Tensor,
    /// b, `[out]`.
    pub bias: Tensor,
}

impl Linear {
    /// Xavier-uniform weights, PyTorch-style uniform bias.
    pub fn new(inputs: usize, outputs: usize, rng: &mut impl Rng) -> Self {
        Linear {
            weight: init::xavier_uniform(&[outputs, inputs], rng).with_grad(),
            bias: init::bias_uniform(outputs, inputs, rng).with_grad(),
        }
    }
}

impl Module for Linear {
    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.matmul(&self.weight.transpose(0, 1)).add(&self.bias)
    }
    // ANCHOR_END: forward

    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        f(&format!("{prefix}weight"), &mut self.weight, StateKind::Parameter);
        f(&format!("{prefix}bias"), &mut self.bias, StateKind::Parameter);
    }

    fn describe(&self) -> String {
        format!("Linear({}→{})", self.weight.shape()[1], self.weight.shape()[0])
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
