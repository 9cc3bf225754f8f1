//! Optimisers (SGD with momentum/Nesterov, Adam, AdamW, look-ahead averaging) and learning-rate schedules.
//!
//! An optimiser walks the model's parameters by name, looks up each one's
//! gradient in the [`Gradients`] store and updates the values in place.
//! Per-parameter state (momentum buffers, Adam moments) is keyed by name, so
//! it survives the parameter tensors being replaced (folding, loading).

mod adam;
mod lookahead;
mod schedule;
mod sgd;

pub use adam::Adam;
pub use lookahead::Lookahead;
pub use schedule::LrSchedule;
pub use sgd::Sgd;

use crate::nn::{Module, StateKind};
use crate::{Gradients, Tensor};

/// Updates a model's parameters from their gradients.
pub trait Optimizer {
    /// One update of every parameter that received a gradient.
    fn step(&mut self, model: &mut dyn Module, grads: &Gradients);
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (schedules call this every step).
    fn set_lr(&mut self, lr: f64);
    /// The per-parameter state (momentum buffers, moments) as named vectors,
    /// for saving a run so that `--resume` continues exactly.
    fn state(&self) -> Vec<(String, Vec<f32>)>;
    /// Restores what [`Optimizer::state`] returned.
    fn set_state(&mut self, state: Vec<(String, Vec<f32>)>);
}

/// An update rule applied to one parameter: `(name, values, gradient)`.
pub(crate) type ParamUpdate<'a> = dyn FnMut(&str, &mut [f32], &[f32]) + 'a;

/// Calls `f(name, parameter values, gradient)` for each parameter with a gradient.
pub(crate) fn for_each_param(model: &mut dyn Module, grads: &Gradients, f: &mut ParamUpdate) {
    model.visit_state("", &mut |name, tensor: &mut Tensor, kind| {
        if kind != StateKind::Parameter {
            return;
        }
        if let Some(g) = grads.get(tensor) {
            let g = g.clone();
            f(name, tensor.data_mut(), g.data());
        }
    });
}
