//! Neural-network building blocks: the `Module` trait, layers, initialisation and BatchNorm folding.
//!
//! A module owns its parameters as leaf tensors (`with_grad`). Every tensor
//! of its state — trainable parameters and buffers such as BatchNorm's
//! running averages — has a stable hierarchical name (`3.weight`,
//! `4.running_mean`) equal to the key PyTorch's `state_dict` would use for
//! the same architecture, so checkpoints can cross between the two.

mod batchnorm;
mod conv;
mod fold;
mod fuse;
pub mod init;
mod layers;
mod linear;
mod receptive_field;
mod sequential;

pub use batchnorm::BatchNorm;
pub use conv::{conv_bn_add_relu, conv_bn_relu, Conv2d, ConvTranspose2d};
pub use fold::fold_batchnorm;
pub use fuse::{fuse_for_inference, fuse_for_training, ChannelEpilogue, Fused, FusedConvBn};
pub use layers::{
    AvgPool2d, Dropout, Flatten, GlobalAvgPool, GlobalMaxPool, Identity, LeakyReLU, MaxPool2d, ReLU, Scale, Sigmoid,
    Upsample, UpsampleMode, GELU,
};
pub use linear::Linear;
pub use receptive_field::{Axis, ReceptiveField};
pub use sequential::Sequential;

use crate::Tensor;
use std::any::Any;

/// What a state tensor is, which decides who changes it and how it is saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateKind {
    /// Trained by the optimiser (weights, biases, γ, β).
    Parameter,
    /// Updated by the forward pass in training mode (running mean/variance).
    Buffer,
    /// An integer counter kept as a 0-d tensor (BatchNorm's
    /// `num_batches_tracked`, saved as int64).
    Counter,
}

/// A forward hook: sees a layer's name and output, returns what flows on.
pub type Hook<'a> = dyn FnMut(&str, Tensor) -> Tensor + 'a;

/// Sees a layer's name and its receptive field ([`Module::receptive_field`]).
pub type FieldHook<'a> = dyn FnMut(&str, ReceptiveField) + 'a;

// ANCHOR: module
/// A layer or a network of layers.
pub trait Module: Send + Sync {
    /// y = f(x). In training mode this may update buffers (BatchNorm).
    fn forward(&mut self, x: &Tensor) -> Tensor;

    /// Runs the forward pass and passes this module's output — and, for
    /// containers, every sub-module's output, under its hierarchical name
    /// (`"7"`, `"layer3.2"`) — through `hook(name, output)`; what the hook
    /// returns flows on. An observing hook returns its argument; Grad-CAM's
    /// returns a detached copy that requires gradients, so that backward
    /// stops at the layer it explains (PyTorch's forward hooks do the same).
    fn forward_inspect(&mut self, x: &Tensor, name: &str, hook: &mut Hook) -> Tensor {
        let y = self.forward(x);
        hook(name, y)
    }

    /// Calls `f(name, tensor, kind)` for every state tensor, names prefixed
    /// with `prefix` (e.g. `"features.3."`). Layers without state keep the default.
    fn visit_state(&mut self, _prefix: &str, _f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {}

    /// The receptive field of this module's output given its input's.
    /// Containers pass each sub-module's field to `record` under the name
    /// [`Module::forward_inspect`] gives its output. Layers that work pixel by
    /// pixel (batch norm, activations, dropout) keep this default: unchanged.
    fn receptive_field(&self, input: ReceptiveField, name: &str, record: &mut FieldHook) -> ReceptiveField {
        record(name, input);
        input
    }

    /// Switches between training (batch statistics, dropout on) and
    /// evaluation (running statistics, dropout off).
    fn set_training(&mut self, _training: bool) {}

    /// A one-line description, e.g. `Conv2d(3→32, 3x3, pad 1)`.
    fn describe(&self) -> String;

    /// For inspection and surgery (BatchNorm folding) on concrete layer types.
    fn as_any_mut(&mut self) -> &mut dyn Any;

    /// This module as a chain of layers, if it is one (a model that wraps
    /// one answers for it): what [`fuse_for_inference`] looks into.
    fn as_sequential(&mut self) -> Option<&mut Sequential> {
        None
    }
}
// ANCHOR_END: module

/// Joins a parent's name and a child's name with a dot (`"" + "3"` is `"3"`).
pub fn child_name(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else {
        format!("{parent}.{child}")
    }
}

/// Every state tensor of a module with its full name and kind (cheap clones).
pub fn state_tensors(module: &mut dyn Module) -> Vec<(String, Tensor, StateKind)> {
    let mut out = Vec::new();
    module.visit_state("", &mut |name, t, kind| out.push((name.to_string(), t.clone(), kind)));
    out
}

/// The trainable parameters with their names.
pub fn parameters(module: &mut dyn Module) -> Vec<(String, Tensor)> {
    let all = state_tensors(module).into_iter();
    all.filter(|(_, _, k)| *k == StateKind::Parameter).map(|(n, t, _)| (n, t)).collect()
}

/// Number of trainable scalars.
pub fn parameter_count(module: &mut dyn Module) -> usize {
    parameters(module).iter().map(|(_, t)| t.numel()).sum()
}
