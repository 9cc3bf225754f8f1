//! Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019, decoupled weight decay).

use super::{for_each_param, Optimizer};
use crate::nn::Module;
use crate::Gradients;
use std::collections::HashMap;

/// Adam, or AdamW when `decoupled` is set. For each parameter p with gradient g, at step t:
///
/// ```text
/// Adam:  g ← g + λ·p                     AdamW: p ← p − η·λ·p
/// m ← β₁·m + (1 − β₁)·g                  v ← β₂·v + (1 − β₂)·g²
/// m̂ = m / (1 − β₁ᵗ)                      v̂ = v / (1 − β₂ᵗ)
/// p ← p − η · m̂ / (√v̂ + ε)
/// ```
pub struct Adam {
    /// Learning rate η.
    pub lr: f64,
    /// β₁, β₂: decay rates of the first and second moments.
    pub betas: (f64, f64),
    /// ε in the denominator.
    pub eps: f64,
    /// Weight decay λ.
    pub weight_decay: f64,
    /// AdamW: decay the weights directly instead of adding λp to the gradient.
    pub decoupled: bool,
    moments: HashMap<String, (Vec<f32>, Vec<f32>, u64)>,
}

impl Adam {
    /// Adam with β = (0.9, 0.999), ε = 1e-8, no weight decay.
    pub fn new(lr: f64) -> Self {
        Adam { lr, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, decoupled: false, moments: HashMap::new() }
    }

    /// AdamW with decoupled weight decay λ (PyTorch's default λ is 0.01).
    pub fn adamw(lr: f64, weight_decay: f64) -> Self {
        Adam { weight_decay, decoupled: true, ..Self::new(lr) }
    }

    /// Adam with L2 weight decay λ added to the gradient.
    pub fn weight_decay(self, weight_decay: f64) -> Self {
        Adam { weight_decay, decoupled: false, ..self }
    }
}

impl Optimizer for Adam {
    // ANCHOR: step
    fn step(&mut self, model: &mut dyn Module, grads: &Gradients) {
        let (lr, wd, eps) = (self.lr, self.weight_decay, self.eps);
        let (b1, b2) = self.betas;
        let decoupled = self.decoupled;
        for_each_param(model, grads, &mut |name, p, g| {
            let (m, v, t) =
                self.moments.entry(name.to_string()).or_insert_with(|| (vec![0.0; p.len()], vec![0.0; p.len()], 0));
            *t += 1;
            let (c1, c2) = (1.0 - b1.powi(*t as i32), 1.0 - b2.powi(*t as i32));
            for i in 0..p.len() {
                let mut gi = g[i] as f64;
                if decoupled {
                    p[i] -= (lr * wd * p[i] as f64) as f32;
                } else {
                    gi += wd * p[i] as f64;
                }
                m[i] = (b1 * m[i] as f64 + (1.0 - b1) * gi) as f32;
                v[i] = (b2 * v[i] as f64 + (1.0 - b2) * gi * gi) as f32;
                let (m_hat, v_hat) = (m[i] as f64 / c1, v[i] as f64 / c2);
                p[i] -= (lr * m_hat / (v_hat.sqrt() + eps)) as f32;
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
        let moments = self.moments.iter();
        moments
            .flat_map(|(k, (m, v, t))| {
                [(format!("m/{k}"), m.clone()), (format!("v/{k}"), v.clone()), (format!("t/{k}"), vec![*t as f32])]
            })
            .collect()
    }

    fn set_state(&mut self, state: Vec<(String, Vec<f32>)>) {
        for (key, values) in state {
            let Some((part, name)) = key.split_once('/') else {
                continue;
            };
            let entry = self.moments.entry(name.to_string()).or_insert_with(|| (vec![], vec![], 0));
            match part {
                "m" => entry.0 = values,
                "v" => entry.1 = values,
                "t" => entry.2 = values.first().copied().unwrap_or(0.0) as u64,
                _ => {}
            }
        }
    }
}
