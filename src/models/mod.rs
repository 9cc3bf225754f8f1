//! The model zoo: `smallcnn` (the reference network, GAP + Linear), `smallcnn-gmp`, `resnet20`, `vgg-fc` and `fastcnn`.

pub mod fast;
mod resnet;
mod small;
pub mod whitening;

pub use resnet::ResNet;

use crate::io::{Error, Result};
use crate::nn::{FieldHook, Hook, Module, ReceptiveField, StateKind};
use crate::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::any::Any;
use std::fmt;
use std::str::FromStr;

/// The architectures cnnlab can build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// Six conv-BN-ReLU blocks, two max-pools, GAP, Linear: the CAM architecture
    /// (exactly the reference network of the speed benchmark).
    SmallCnn,
    /// The same with global *max* pooling, to compare GMP with GAP for CAM.
    SmallCnnGmp,
    /// He et al.'s CIFAR ResNet-20 (3 stages × 3 basic blocks, option-A shortcuts).
    ResNet20,
    /// A conv stack ending in two fully connected layers and no GAP.
    VggFc,
    /// The fast CIFAR-10 recipe's network (after airbench94): a frozen 2×2
    /// whitening layer, three conv groups of widths 64/256/256 with GELU,
    /// global max-pooling, a bias-free Linear layer with a fixed scale.
    FastCnn,
}

impl Arch {
    /// Every architecture, in the order `--help` lists them.
    pub const ALL: [Arch; 5] = [Arch::SmallCnn, Arch::SmallCnnGmp, Arch::ResNet20, Arch::VggFc, Arch::FastCnn];

    /// The name used on the command line and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            Arch::SmallCnn => "smallcnn",
            Arch::SmallCnnGmp => "smallcnn-gmp",
            Arch::ResNet20 => "resnet20",
            Arch::VggFc => "vgg-fc",
            Arch::FastCnn => "fastcnn",
        }
    }

    /// True when the network ends in global pooling, so that it accepts
    /// images of any size (vgg-fc's fully connected layers fix its input size).
    pub fn ends_in_global_pooling(self) -> bool {
        self != Arch::VggFc
    }

    /// The layer whose feature maps CAM and Grad-CAM use by default (the last conv block).
    pub fn feature_layer(self) -> &'static str {
        match self {
            Arch::SmallCnn | Arch::SmallCnnGmp => "19",
            Arch::ResNet20 => "layer3",
            Arch::VggFc => "features.19",
            Arch::FastCnn => "4",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Arch::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| {
            let names: Vec<_> = Arch::ALL.iter().map(|a| a.name()).collect();
            Error::msg(format!("unknown model '{s}'; choose one of: {}", names.join(", ")))
        })
    }
}

/// A network together with what it was built for.
pub struct Model {
    /// Which architecture.
    pub arch: Arch,
    /// Number of output classes.
    pub num_classes: usize,
    /// Input shape (C, H, W) it was built for.
    pub input: [usize; 3],
    /// The layers.
    pub net: Box<dyn Module>,
}

impl Model {
    /// A freshly initialised model (weights drawn from `seed`).
    ///
    /// # Errors
    /// When the input is too small for the architecture (each needs at least
    /// 4×4 pixels per max-pool or stride-2 stage; vgg-fc needs a multiple of 8).
    pub fn new(arch: Arch, num_classes: usize, input: [usize; 3], seed: u64) -> Result<Model> {
        let [c, h, w] = input;
        if num_classes < 2 {
            return Err(Error::msg(format!("{arch}: needs at least 2 classes, got {num_classes}")));
        }
        // vgg-fc: three max-pools and fixed FC sizes; fastcnn: a 2×2 conv without padding, then three max-pools
        let min = match arch {
            Arch::VggFc => 8,
            Arch::FastCnn => 9,
            _ => 4,
        };
        if h < min || w < min || (arch == Arch::VggFc && (h % 8 != 0 || w % 8 != 0)) {
            return Err(Error::msg(format!(
                "{arch}: input {h}x{w} is too small or not divisible as the architecture needs"
            )));
        }
        let mut rng = StdRng::seed_from_u64(seed);
        let net: Box<dyn Module> = match arch {
            Arch::SmallCnn => Box::new(small::smallcnn(c, num_classes, false, &mut rng)),
            Arch::SmallCnnGmp => Box::new(small::smallcnn(c, num_classes, true, &mut rng)),
            Arch::ResNet20 => Box::new(ResNet::resnet20(c, num_classes, &mut rng)),
            Arch::VggFc => Box::new(small::vgg_fc(c, num_classes, (h, w), &mut rng)),
            Arch::FastCnn => Box::new(fast::fastcnn(c, num_classes, &mut rng)),
        };
        Ok(Model { arch, num_classes, input, net })
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Module for Model {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        self.net.forward(x)
    }
    fn as_sequential(&mut self) -> Option<&mut crate::nn::Sequential> {
        self.net.as_sequential()
    }
    fn forward_inspect(&mut self, x: &Tensor, name: &str, hook: &mut Hook) -> Tensor {
        self.net.forward_inspect(x, name, hook)
    }
    fn visit_state(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, StateKind)) {
        self.net.visit_state(prefix, f)
    }
    fn receptive_field(&self, input: ReceptiveField, name: &str, record: &mut FieldHook) -> ReceptiveField {
        self.net.receptive_field(input, name, record)
    }
    fn set_training(&mut self, training: bool) {
        self.net.set_training(training)
    }
    fn describe(&self) -> String {
        format!("{} ({} classes, input {:?})", self.arch, self.num_classes, self.input)
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
