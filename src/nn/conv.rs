//! A 2-D convolution layer (weights OIHW, optional bias).

use super::{init, BatchNorm, FieldHook, Module, ReceptiveField, StateKind};
use crate::{Conv2dConfig, Tensor};
use rand::Rng;
use std::any::Any;

/// Convolution layer; Kaiming-normal weights.
///
/// # Shapes
/// input `[N, C_in, H, W]`, weight `[C_out, C_in/groups, kh, kw]`, output `[N, C_out, H', W']`.
#[derive(Clone)]
pub struct Conv2d {
    /// The kernels, OIHW.
    pub weight: Tensor,
    /// One bias per output channel (none when followed by BatchNorm).
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation, groups.
    pub cfg: Conv2dConfig,
}

impl Conv2d {
    /// A `k×k` convolution from `c_in` to `c_out` channels, with or without bias.
    pub fn new(c_in: usize, c_out: usize, k: usize, cfg: Conv2dConfig, bias: bool, rng: &mut impl Rng) -> Self {
        assert!(
            cfg.groups > 0 && c_in.is_multiple_of(cfg.groups),
            "Conv2d: {c_in} channels do not split into {} groups",
            cfg.groups
        );
        let shape = [c_out, c_in / cfg.groups, k, k];
        let fan_in = init::fans(&shape).0;
        Conv2d {
            weight: init::kaiming_normal(&shape, rng).with_grad(),
            bias: bias.then(|| init::bias_uniform(c_out, fan_in, rng).with_grad()),
            cfg,
        }
    }
}

// ANCHOR: conv_bn_relu
/// Conv2d → BatchNorm2d [→ ReLU]. During inference (no graph, batch norm in
/// evaluation mode) the three run as one pass over the output
/// ([`Tensor::conv2d_fused_eval`]); in training, batch norm and ReLU run as
/// one op ([`BatchNorm::forward_relu`]). The same values either way.
pub fn conv_bn_relu(conv: &mut Conv2d, bn: &mut BatchNorm, x: &Tensor, relu: bool) -> Tensor {
    if !crate::is_grad_enabled() {
        if let Some(epilogue) = bn.eval_epilogue(relu) {
            return x.conv2d_fused_eval(&conv.weight, conv.bias.as_ref(), conv.cfg, &epilogue, None);
        }
    }
    let y = conv.forward(x);
    if relu {
        bn.forward_relu(&y)
    } else {
        bn.forward(&y)
    }
}
// ANCHOR_END: conv_bn_relu

// ANCHOR: conv_bn_add_relu
/// Conv2d → BatchNorm2d → + shortcut → ReLU, the second half of a residual
/// block. During inference the four run as one pass over the output
/// ([`Tensor::conv2d_fused_eval`]); in training, batch norm, the
/// addition and ReLU run as one op ([`BatchNorm::forward_add_relu`]).
pub fn conv_bn_add_relu(conv: &mut Conv2d, bn: &mut BatchNorm, x: &Tensor, shortcut: &Tensor) -> Tensor {
    if !crate::is_grad_enabled() {
        if let Some(epilogue) = bn.eval_epilogue(true) {
            return x.conv2d_fused_eval(&conv.weight, conv.bias.as_ref(), conv.cfg, &epilogue, Some(shortcut));
        }
    }
    let y = conv.forward(x);
    bn.forward_add_relu(&y, shortcut)
}
// ANCHOR_END: conv_bn_add_relu

/// `weight` and, if any, `bias` under PyTorch's names (shared by both convolution layers).
fn visit_weight_and_bias(
    prefix: &str,
    weight: &mut Tensor,
    bias: &mut Option<Tensor>,
    f: &mut dyn FnMut(&str, &mut Tensor, StateKind),
) {
    f(&format!("{prefix}weight"), weight, StateKind::Parameter);
    if let Some(b) = bias {
        f(&format!("{prefix}bias"), b, StateKind::Parameter);
    }
}

impl Module for Conv2d {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.conv2d(&self.weight, self.bias.as_ref(), self.cfg)
    }

    fn receptive_field(&self, input: ReceptiveField, name: &str, record: &mut FieldHook) -> ReceptiveField {
        let s = self.weight.shape();
        let out = input.window((s[2], s[3]), self.cfg.stride, self.cfg.padding, self.cfg.dilation);
        record(name, out);
        out
    }

    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        visit_weight_and_bias(prefix, &mut self.weight, &mut self.bias, f);
    }

    fn describe(&self) -> String {
        let s = self.weight.shape();
        let c = self.cfg;
        format!(
            "Conv2d({}→{}, {}x{}, stride {}, pad {}{})",
            s[1] * c.groups,
            s[0],
            s[2],
            s[3],
            c.stride.0,
            c.padding.0,
            if self.bias.is_some() { ", bias" } else { "" }
        )
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Transposed convolution layer (PyTorch's `ConvTranspose2d`): the learned
/// upsampling of a decoder. Kaiming-normal weights with PyTorch's fan
/// convention for this layer (fan_in from the weight's second axis, C_out·kh·kw).
///
/// # Shapes
/// input `[N, C_in, H, W]`, weight `[C_in, C_out/groups, kh, kw]`,
/// output `[N, C_out, (H−1)·s − 2p + d·(kh−1) + output_padding + 1, …]`.
#[derive(Clone)]
pub struct ConvTranspose2d {
    /// The kernels, `[C_in, C_out/groups, kh, kw]`.
    pub weight: Tensor,
    /// One bias per output channel.
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation, groups (of the convolution it transposes).
    pub cfg: Conv2dConfig,
    /// Extra rows and columns on the bottom and right of the output (< stride).
    pub output_padding: (usize, usize),
}

impl ConvTranspose2d {
    /// A `k×k` transposed convolution from `c_in` to `c_out` channels.
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        (cfg, output_padding): (Conv2dConfig, usize),
        bias: bool,
        rng: &mut impl Rng,
    ) -> Self {
        let shape = [c_in, c_out / cfg.groups.max(1), k, k];
        let fan_in = init::fans(&shape).0;
        ConvTranspose2d {
            weight: init::kaiming_normal(&shape, rng).with_grad(),
            bias: bias.then(|| init::bias_uniform(c_out, fan_in, rng).with_grad()),
            cfg,
            output_padding: (output_padding, output_padding),
        }
    }
}

impl Module for ConvTranspose2d {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        x.conv_transpose2d(&self.weight, self.bias.as_ref(), self.cfg, self.output_padding)
    }

    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        visit_weight_and_bias(prefix, &mut self.weight, &mut self.bias, f);
    }

    fn describe(&self) -> String {
        let s = self.weight.shape();
        format!(
            "ConvTranspose2d({}→{}, {}x{}, stride {}, pad {}, output pad {}{})",
            s[0],
            s[1] * self.cfg.groups,
            s[2],
            s[3],
            self.cfg.stride.0,
            self.cfg.padding.0,
            self.output_padding.0,
            if self.bias.is_some() { ", bias" } else { "" }
        )
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
