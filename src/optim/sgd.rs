//! Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay (PyTorch's update).

use super::{for_each_param, Optimizer};
use crate::nn::Module;
use crate::Gradients;
use std::collections::HashMap;

/// s(parameter name): a parameter's learning-rate multiplier.
type LrScale = dyn Fn(&str) -> f64 + Send + Sync;

/// SGD as in `torch.optim.SGD` (dampening 0). For each parameter p with gradient g:
///
/// ```text
/// d = g + λ·p                        (weight decay λ)
/// v ← μ·v + d   (v = d on the first step)
/// d ← d + μ·v   (Nesterov)   or   d ← v   (classical momentum)
/// p ← p − η·d
/// ```
///
/// A parameter may have its own learning rate s·η ([`Sgd::lr_scale`]); its
/// weight decay is then λ/s, so that the decay step η·λ·p stays the same
/// (the fast recipe's BatchNorm biases learn 64× faster but decay alike).
pub struct Sgd {
    /// Learning rate η.
    pub lr: f64,
    /// Momentum μ (0 for plain SGD).
    pub momentum: f64,
    /// Nesterov's look-ahead variant.
    pub nesterov: bool,
    /// L2 penalty λ, added to the gradient.
    pub weight_decay: f64,
    velocity: HashMap<String, Vec<f32>>,
    /// s(name): the learning-rate multiplier of each parameter (1 unless set).
    lr_scale: Option<Box<LrScale>>,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Sgd { lr, momentum: 0.0, nesterov: false, weight_decay: 0.0, velocity: HashMap::new(), lr_scale: None }
    }

    /// With momentum μ; `nesterov` selects the look-ahead form.
    pub fn momentum(self, momentum: f64, nesterov: bool) -> Self {
        Sgd { momentum, nesterov, ..self }
    }

    /// With L2 weight decay λ.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        Sgd { weight_decay, ..self }
    }

    /// With a learning-rate multiplier s(name) per parameter (and weight decay λ/s).
    pub fn lr_scale(self, scale: impl Fn(&str) -> f64 + Send + Sync + 'static) -> Self {
        Sgd { lr_scale: Some(Box::new(scale)), ..self }
    }
}

impl Optimizer for Sgd {
    // ANCHOR: step
    fn step(&mut self, model: &mut dyn Module, grads: &Gradients) {
        let (mu, nesterov) = (self.momentum as f32, self.nesterov);
        for_each_param(model, grads, &mut |name, p, g| {
            let s = self.lr_scale.as_ref().map_or(1.0, |scale| scale(name));
            let (lr, wd) = ((self.lr * s) as f32, (self.weight_decay / s) as f32);
            let mut first = false;
            let v = self.velocity.entry(name.to_string()).or_insert_with(|| {
                first = true;
                vec![0.0; p.len()]
            });
            for i in 0..p.len() {
                let mut d = g[i] + wd * p[i];
                if mu != 0.0 {
                    v[i] = if first { d } else { mu * v[i] + d };
                    d = if nesterov { d + mu * v[i] } else { v[i] };
                }
                p[i] -= lr * d;
            }
        });
    }
    // ANCHOR_END: step

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn state(&self) -> Vec<(String, Vec<f32>)> {
        self.velocity.iter().map(|(k, v)| (format!("velocity/{k}"), v.clone())).collect()
    }

    fn set_state(&mut self, state: Vec<(String, Vec<f32>)>) {
        for (key, values) in state {
            if let Some(name) = key.strip_prefix("velocity/") {
                self.velocity.insert(name.to_string(), values);
            }
        }
    }
}
