//! Every differentiable op, one file per family, forward and backward side by side, in the form the lectures write it.
//!
//! Where speed matters an op calls a named kernel of [`crate::kernels`]
//! (parallel loops, gemm, the packed convolution); what the kernel computes
//! is always stated here, and the kernels' tests prove it equal to the plain
//! code. Nothing in this module is `unsafe` or depends on the CPU.
//!
//! | file | ops |
//! |---|---|
//! | `binary` | add, sub, mul, div (broadcasting) |
//! | `unary` | neg, exp, log, sqrt, pow, abs, relu, leaky_relu, sigmoid, tanh |
//! | `reduce` | sum, mean, max over axes; argmax |
//! | `layout` | reshape, permute, transpose, broadcast_to, narrow, cat |
//! | `matmul` | matrix product (the gemm kernel) |
//! | `conv` | conv2d (stride, padding, dilation, groups) by im2col + gemm |
//! | `conv_transpose` | transposed convolution, the adjoint of conv2d (a decoder's learned upsampling) |
//! | `pool` | max/avg pooling, global average/max pooling |
//! | `upsample` | nearest and bilinear resizing |
//! | `batchnorm` | batch normalisation, training and evaluation |
//! | `dropout` | inverted dropout |
//! | `softmax` | softmax and log-softmax |
//! | `loss` | cross-entropy, BCE with logits, MSE, L1, smooth L1 |

pub mod batchnorm;
pub mod binary;
pub mod conv;
pub mod conv_transpose;
pub mod dropout;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod pool;
pub mod reduce;
pub mod softmax;
pub mod unary;
pub mod upsample;

pub(crate) use crate::kernels::{add_assign, map, zeros, zip3_map, zip_map};
