//! A chain of modules, named `0`, `1`, … as in PyTorch's `nn.Sequential`.

use super::{child_name, FieldHook, Hook, Module, ReceptiveField, StateKind};
use crate::Tensor;
use std::any::Any;

/// Layers applied in order. Layer i is named `"{i}"` unless given a name
/// (PyTorch's `nn.Sequential(OrderedDict(...))`); its state is `"{name}.{tensor}"`.
#[derive(Default)]
pub struct Sequential {
    /// The layers, in order.
    pub layers: Vec<Box<dyn Module>>,
    /// Their names.
    pub names: Vec<String>,
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer (builder style).
    pub fn push(self, layer: impl Module + 'static) -> Self {
        let name = self.layers.len().to_string();
        self.push_named(&name, layer)
    }

    /// Appends a layer under a given name (builder style).
    pub fn push_named(mut self, name: &str, layer: impl Module + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self.names.push(name.to_string());
        self
    }

    /// The index of the layer called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    // ANCHOR: forward_with
    /// Runs the chain and shows `inspect(i, output_of_layer_i)` every
    /// intermediate result — how Grad-CAM gets hold of a feature map.
    pub fn forward_with(&mut self, x: &Tensor, inspect: &mut dyn FnMut(usize, &Tensor)) -> Tensor {
        let mut h = x.clone();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            h = layer.forward(&h);
            inspect(i, &h);
        }
        h
    }
    // ANCHOR_END: forward_with

    /// One line per layer: index, description.
    pub fn summary(&self) -> String {
        let lines = self.layers.iter().enumerate().map(|(i, l)| format!("{i:>3}  {}", l.describe()));
        lines.collect::<Vec<_>>().join("\n")
    }
}

impl Module for Sequential {
    /// Runs the layers in order, each on its own (for inference with
    /// Conv2d → BatchNorm → ReLU fused, see [`super::fuse_for_inference`]).
    fn forward(&mut self, x: &Tensor) -> Tensor {
        self.layers.iter_mut().fold(x.clone(), |h, layer| layer.forward(&h))
    }

    fn forward_inspect(&mut self, x: &Tensor, name: &str, hook: &mut Hook) -> Tensor {
        let mut h = x.clone();
        for (layer, child) in self.layers.iter_mut().zip(&self.names) {
            h = layer.forward_inspect(&h, &child_name(name, child), hook);
        }
        if name.is_empty() {
            h
        } else {
            hook(name, h)
        }
    }

    fn receptive_field(&self, input: ReceptiveField, name: &str, record: &mut FieldHook) -> ReceptiveField {
        let mut field = input;
        for (layer, child) in self.layers.iter().zip(&self.names) {
            field = layer.receptive_field(field, &child_name(name, child), record);
        }
        if !name.is_empty() {
            record(name, field);
        }
        field
    }

    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        for (layer, name) in self.layers.iter_mut().zip(&self.names) {
            layer.visit_state(&format!("{prefix}{name}."), f);
        }
    }

    fn set_training(&mut self, training: bool) {
        self.layers.iter_mut().for_each(|l| l.set_training(training));
    }

    fn describe(&self) -> String {
        format!("Sequential({} layers)", self.layers.len())
    }

    fn as_sequential(&mut self) -> Option<&mut Sequential> {
        Some(self)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
