//! Look-ahead weight averaging: every k steps the weights move to an exponential average of their own past.

use super::Optimizer;
use crate::nn::{Module, StateKind};
use crate::Gradients;
use std::collections::HashMap;

// ANCHOR: lookahead
/// Wraps an optimiser. Every `every` steps, with t the steps done of `total`,
/// each weight and buffer (BatchNorm's running statistics too) is replaced
/// by its average
///
/// ```text
/// a ← α·a + (1 − α)·w,   w ← a,   α = 0.95^5 · (t / total)³
/// ```
///
/// so early in training (α ≈ 0) the average follows the weights and late in
/// training it smooths over their noise; after the last step the weights
/// are the average (the fast recipe, after Zhang et al. 2019's Lookahead).
pub struct Lookahead {
    /// The optimiser doing the steps.
    pub inner: Box<dyn Optimizer>,
    /// Steps between averages (5).
    pub every: usize,
    /// The run's steps in all.
    pub total: usize,
    steps: usize,
    average: HashMap<String, Vec<f32>>,
}

impl Lookahead {
    /// Averages `inner`'s weights every `every` of `total` steps.
    pub fn new(inner: Box<dyn Optimizer>, every: usize, total: usize) -> Self {
        Lookahead { inner, every: every.max(1), total, steps: 0, average: HashMap::new() }
    }

    /// α after `t` of `total` steps.
    pub fn decay(t: usize, total: usize) -> f64 {
        0.95f64.powi(5) * (t as f64 / total.max(1) as f64).powi(3)
    }

    /// a ← α·a + (1 − α)·w, then w ← a, for every weight and buffer (the
    /// average starts as the weights themselves).
    fn average_into(&mut self, model: &mut dyn Module, alpha: f64) {
        let (alpha, keep) = (alpha as f32, 1.0 - alpha as f32);
        model.visit_state("", &mut |name, tensor, kind| {
            if kind == StateKind::Counter {
                return;
            }
            let w = tensor.data_mut();
            let a = self.average.entry(name.to_string()).or_insert_with(|| w.to_vec());
            for (a, w) in a.iter_mut().zip(w.iter_mut()) {
                *a = alpha * *a + keep * *w;
                *w = *a;
            }
        });
    }
}

impl Optimizer for Lookahead {
    fn step(&mut self, model: &mut dyn Module, grads: &Gradients) {
        self.inner.step(model, grads);
        self.steps += 1;
        if self.steps.is_multiple_of(self.every) {
            self.average_into(model, Self::decay(self.steps, self.total));
        }
        if self.steps == self.total {
            self.average_into(model, 1.0); // the weights become the average
        }
    }
    // ANCHOR_END: lookahead

    fn lr(&self) -> f64 {
        self.inner.lr()
    }

    fn set_lr(&mut self, lr: f64) {
        self.inner.set_lr(lr);
    }

    fn state(&self) -> Vec<(String, Vec<f32>)> {
        let mut state = self.inner.state();
        state.extend(self.average.iter().map(|(k, v)| (format!("lookahead/{k}"), v.clone())));
        state.push(("lookahead-steps".into(), vec![self.steps as f32]));
        state
    }

    fn set_state(&mut self, state: Vec<(String, Vec<f32>)>) {
        let mut inner = Vec::new();
        for (key, values) in state {
            if let Some(name) = key.strip_prefix("lookahead/") {
                self.average.insert(name.to_string(), values);
            } else if key == "lookahead-steps" {
                self.steps = values.first().map_or(0, |&s| s as usize);
            } else {
                inner.push((key, values));
            }
        }
        self.inner.set_state(inner);
    }
}
