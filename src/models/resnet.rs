//! ResNet-20 for CIFAR (He et al. 2016, §4.2): residual blocks y = ReLU(F(x) + shortcut(x)).

use crate::nn::{
    child_name, conv_bn_add_relu, conv_bn_relu, BatchNorm, Conv2d, FieldHook, Hook, Linear, Module, ReceptiveField,
    Sequential, StateKind,
};
use crate::{Conv2dConfig, Pool2dConfig, Tensor};
use rand::Rng;
use std::any::Any;

/// Two 3x3 conv-BN layers with an identity shortcut.
///
/// When the block halves the resolution and doubles the channels, the
/// shortcut is He et al.'s *option A*: subsample x by 2 and pad the new
/// channels with zeros (no parameters).
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: BatchNorm,
    conv2: Conv2d,
    bn2: BatchNorm,
    /// Channels of zeros added on each side by the shortcut (0 = plain identity).
    pad_channels: usize,
    stride: usize,
}

impl BasicBlock {
    fn new(c_in: usize, c_out: usize, stride: usize, rng: &mut impl Rng) -> Self {
        let cfg = Conv2dConfig::default().padding(1);
        BasicBlock {
            conv1: Conv2d::new(c_in, c_out, 3, cfg.stride(stride), false, rng),
            bn1: BatchNorm::new_2d(c_out),
            conv2: Conv2d::new(c_out, c_out, 3, cfg, false, rng),
            bn2: BatchNorm::new_2d(c_out),
            pad_channels: (c_out - c_in) / 2,
            stride,
        }
    }

    // ANCHOR: shortcut
    /// Option A: x[:, :, ::s, ::s] with zero channels padded on both sides.
    fn shortcut(&self, x: &Tensor) -> Tensor {
        if self.stride == 1 && self.pad_channels == 0 {
            return x.clone();
        }
        // a 1x1 max-pool with stride s is exactly the subsampling x[::s, ::s]
        let sub = x.max_pool2d(Pool2dConfig::new(1).stride(self.stride));
        let (n, _, h, w) = sub.dims4("resnet shortcut");
        let zeros = Tensor::zeros(&[n, self.pad_channels, h, w]);
        Tensor::cat(&[&zeros, &sub, &zeros], 1)
    }
    // ANCHOR_END: shortcut
}

impl Module for BasicBlock {
    // ANCHOR: block
    fn forward(&mut self, x: &Tensor) -> Tensor {
        // F(x) = BN(conv2(ReLU(BN(conv1(x))))); y = ReLU(F(x) + shortcut(x))
        let hidden = conv_bn_relu(&mut self.conv1, &mut self.bn1, x, true);
        let shortcut = self.shortcut(x);
        conv_bn_add_relu(&mut self.conv2, &mut self.bn2, &hidden, &shortcut)
    }
    // ANCHOR_END: block

    /// The union of the two paths is the main path's field: the shortcut
    /// (x subsampled at the block's stride) sees the centre of that window.
    fn receptive_field(&self, input: ReceptiveField, name: &str, record: &mut FieldHook) -> ReceptiveField {
        let hidden = self.conv1.receptive_field(input, "", &mut |_, _| {});
        let out = self.conv2.receptive_field(hidden, "", &mut |_, _| {});
        record(name, out);
        out
    }

    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        self.conv1.visit_state(&format!("{prefix}conv1."), f);
        self.bn1.visit_state(&format!("{prefix}bn1."), f);
        self.conv2.visit_state(&format!("{prefix}conv2."), f);
        self.bn2.visit_state(&format!("{prefix}bn2."), f);
    }

    fn set_training(&mut self, training: bool) {
        self.bn1.set_training(training);
        self.bn2.set_training(training);
    }

    fn describe(&self) -> String {
        format!("BasicBlock({}, stride {})", self.conv1.describe(), self.stride)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// CIFAR ResNet: a 3x3 stem, three stages of residual blocks (16, 32, 64
/// channels; the 2nd and 3rd start with stride 2), GAP, Linear. State names
/// follow the usual PyTorch definition: `conv1`, `bn1`, `layer1.0.conv1`, …, `linear`.
pub struct ResNet {
    conv1: Conv2d,
    bn1: BatchNorm,
    layers: [Sequential; 3],
    linear: Linear,
}

impl ResNet {
    /// ResNet-20: 3 blocks per stage (6n + 2 layers with n = 3).
    pub fn resnet20(c_in: usize, classes: usize, rng: &mut impl Rng) -> Self {
        Self::new(c_in, classes, 3, rng)
    }

    /// ResNet-(6n + 2).
    pub fn new(c_in: usize, classes: usize, blocks: usize, rng: &mut impl Rng) -> Self {
        let mut stage = |c_in: usize, c_out: usize, stride: usize| {
            (0..blocks).fold(Sequential::new(), |s, i| {
                let (ci, st) = if i == 0 { (c_in, stride) } else { (c_out, 1) };
                s.push(BasicBlock::new(ci, c_out, st, rng))
            })
        };
        let layers = [stage(16, 16, 1), stage(16, 32, 2), stage(32, 64, 2)];
        ResNet {
            conv1: Conv2d::new(c_in, 16, 3, Conv2dConfig::default().padding(1), false, rng),
            bn1: BatchNorm::new_2d(16),
            layers,
            linear: Linear::new(64, classes, rng),
        }
    }

    /// The classifier after global average pooling (its rows are CAM's class weights).
    pub fn linear(&self) -> &Linear {
        &self.linear
    }
}

const STAGES: [&str; 3] = ["layer1", "layer2", "layer3"];

impl Module for ResNet {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        self.forward_inspect(x, "", &mut |_, y| y)
    }

    fn forward_inspect(&mut self, x: &Tensor, name: &str, hook: &mut Hook) -> Tensor {
        let stem = conv_bn_relu(&mut self.conv1, &mut self.bn1, x, true);
        let mut h = hook(&child_name(name, "stem"), stem);
        for (stage, stage_name) in self.layers.iter_mut().zip(STAGES) {
            h = stage.forward_inspect(&h, &child_name(name, stage_name), hook);
        }
        let pooled = hook(&child_name(name, "pool"), h.global_avg_pool2d().flatten(1));
        let logits = self.linear.forward(&pooled);
        hook(&child_name(name, "linear"), logits)
    }

    fn receptive_field(&self, input: ReceptiveField, name: &str, record: &mut FieldHook) -> ReceptiveField {
        let mut field = self.conv1.receptive_field(input, &child_name(name, "stem"), record);
        for (stage, stage_name) in self.layers.iter().zip(STAGES) {
            field = stage.receptive_field(field, &child_name(name, stage_name), record);
        }
        record(&child_name(name, "pool"), field.whole_image());
        record(&child_name(name, "linear"), field.whole_image());
        field.whole_image()
    }

    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        self.conv1.visit_state(&format!("{prefix}conv1."), f);
        self.bn1.visit_state(&format!("{prefix}bn1."), f);
        for (stage, name) in self.layers.iter_mut().zip(STAGES) {
            stage.visit_state(&format!("{prefix}{name}."), f);
        }
        self.linear.visit_state(&format!("{prefix}linear."), f);
    }

    fn set_training(&mut self, training: bool) {
        self.bn1.set_training(training);
        self.layers.iter_mut().for_each(|s| s.set_training(training));
    }

    fn describe(&self) -> String {
        format!("ResNet-{}", 6 * self.layers[0].len() + 2)
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
