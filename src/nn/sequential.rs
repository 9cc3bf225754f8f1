//! A chain of modules, named `0`, `1`, … as in PyTorch's `nn.Sequential`.

use super::{child_name, conv_bn_relu, BatchNorm, Conv2d, FieldHook, Hook, Module, ReLU, ReceptiveField, StateKind};
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

// ANCHOR: fused
/// `layers[0..]` when they start with Conv2d → BatchNorm [→ ReLU]: run by
/// [`conv_bn_relu`], which fuses what the mode allows. Returns the output
/// and how many layers it covered.
fn fused_conv_bn_relu(layers: &mut [Box<dyn Module>], x: &Tensor) -> Option<(Tensor, usize)> {
    let [conv, bn, rest @ ..] = layers else { return None };
    let conv = conv.as_any_mut().downcast_mut::<Conv2d>()?;
    let bn = bn.as_any_mut().downcast_mut::<BatchNorm>()?;
    let relu = rest.first_mut().is_some_and(|l| l.as_any_mut().is::<ReLU>());
    Some((conv_bn_relu(conv, bn, x, relu), if relu { 3 } else { 2 }))
}

/// Training on `layers[0..]` when they start with BatchNorm (training mode)
/// → ReLU: one op ([`BatchNorm::forward_relu`]), covering two layers.
fn fused_bn_relu(layers: &mut [Box<dyn Module>], x: &Tensor) -> Option<(Tensor, usize)> {
    let [bn, relu, ..] = layers else { return None };
    let bn = bn.as_any_mut().downcast_mut::<BatchNorm>()?;
    if !bn.is_training() || !relu.as_any_mut().is::<ReLU>() {
        return None;
    }
    Some((bn.forward_relu(x), 2))
}
// ANCHOR_END: fused

impl Module for Sequential {
    /// Runs the layers in order. Without a graph (inference), a convolution
    /// followed by batch norm and ReLU runs as one fused pass; in training,
    /// batch norm followed by ReLU does. [`Sequential::forward_with`] runs
    /// every layer on its own.
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let (mut h, mut i) = (x.clone(), 0);
        while i < self.layers.len() {
            let fused =
                fused_conv_bn_relu(&mut self.layers[i..], &h).or_else(|| fused_bn_relu(&mut self.layers[i..], &h));
            if let Some((y, covered)) = fused {
                (h, i) = (y, i + covered);
            } else {
                (h, i) = (self.layers[i].forward(&h), i + 1);
            }
        }
        h
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

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
