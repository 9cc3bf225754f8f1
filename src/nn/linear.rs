//! A fully connected layer: y = x·Wᵀ + b (or y = x·Wᵀ without a bias).

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
    /// b, `[out]`; `None` for a layer without bias (PyTorch's `bias=False`).
    pub bias: Option<Tensor>,
}

impl Linear {
    /// Xavier-uniform weights, PyTorch-style uniform bias.
    pub fn new(inputs: usize, outputs: usize, rng: &mut impl Rng) -> Self {
        Linear {
            weight: init::xavier_uniform(&[outputs, inputs], rng).with_grad(),
            bias: Some(init::bias_uniform(outputs, inputs, rng).with_grad()),
        }
    }

    /// Without a bias; weights drawn as PyTorch's `nn.Linear` draws them,
    /// uniform in ±1/√in.
    pub fn without_bias(inputs: usize, outputs: usize, rng: &mut impl Rng) -> Self {
        let bound = 1.0 / (inputs as f64).sqrt();
        Linear { weight: init::uniform(&[outputs, inputs], bound, rng).with_grad(), bias: None }
    }
}

impl Module for Linear {
    // ANCHOR: forward
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let y = x.matmul(&self.weight.transpose(0, 1));
        match &self.bias {
            Some(b) => y.add(b),
            None => y,
        }
    }
    // ANCHOR_END: forward

    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        f(&format!("{prefix}weight"), &mut self.weight, StateKind::Parameter);
        if let Some(b) = self.bias.as_mut() {
            f(&format!("{prefix}bias"), b, StateKind::Parameter);
        }
    }

    fn describe(&self) -> String {
        let no_bias = if self.bias.is_none() { ", no bias" } else { "" };
        format!("Linear({}→{}{no_bias})", self.weight.shape()[1], self.weight.shape()[0])
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
