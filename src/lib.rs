//! cnnlab: a from-scratch tensor and reverse-mode autodiff engine for learning how CNNs see.
//!
//! ```
//! use cnnlab::Tensor;
//!
//! // y = Σ relu(w·x): the gradient store answers for every tensor of the graph
//! let x = Tensor::from_vec(vec![1.0, -2.0, 3.0], &[3]).with_grad();
//! let w = Tensor::from_vec(vec![2.0, 2.0, -1.0], &[3]).with_grad();
//! let hidden = w.mul(&x);
//! let y = hidden.relu().sum();
//! let grads = y.backward();
//! assert_eq!(grads.wrt(&x).data(), &[2.0, 0.0, 0.0]);   // w where w·x > 0
//! assert_eq!(grads.wrt(&hidden).data(), &[1.0, 0.0, 0.0]); // an inner activation
//! ```
#![warn(missing_docs)]

pub mod autograd;
pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod eval;
pub mod explain;
pub mod gradcheck;
pub mod inspect;
pub mod io;
pub mod kernels;
pub mod localize;
pub mod lock;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod perceive;
pub mod profile;
pub mod regression;
pub mod tensor;
pub mod train;
pub mod viz;

pub use autograd::{enable_grad, is_grad_enabled, no_grad, Gradients};
pub use gradcheck::{gradcheck, GradcheckConfig};
pub use kernels::alloc;
pub use ops::conv::Conv2dConfig;
pub use ops::pool::Pool2dConfig;
pub use tensor::{Element, Tensor};
