//! cnnlab: a from-scratch tensor and reverse-mode autodiff engine for learning how CNNs see.
#![warn(missing_docs)]

pub mod autograd;
pub mod gradcheck;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod tensor;

pub use autograd::{enable_grad, is_grad_enabled, no_grad, Gradients};
pub use gradcheck::{gradcheck, GradcheckConfig};
pub use ops::conv::Conv2dConfig;
pub use tensor::{Element, Tensor};
