//! Every differentiable op, one file per family, forward and backward side by side.
//!
//! | file | ops |
//! |---|---|
//! | `binary` | add, sub, mul, div (broadcasting) |
//! | `unary` | neg, exp, log, sqrt, pow, abs, relu, leaky_relu, sigmoid, tanh |
//! | `reduce` | sum, mean, max over axes; argmax |
//! | `layout` | reshape, permute, transpose, broadcast_to, narrow, cat |
//! | `matmul` | matrix product on sgemm/dgemm |
//! | `conv` | conv2d (stride, padding, dilation, groups) by im2col + gemm |
//! | `conv_packed` | conv2d forward and weight gradient for f32 on AVX-512: a channels-last copy of each image, 8×32 micro-kernels |
//! | `pool` | max/avg pooling, global average/max pooling |
//! | `upsample` | nearest and bilinear resizing |
//! | `batchnorm` | batch normalisation, training and evaluation |
//! | `dropout` | inverted dropout |
//! | `softmax` | softmax and log-softmax |
//! | `loss` | cross-entropy, BCE with logits, MSE, L1, smooth L1 |

pub mod batchnorm;
pub mod binary;
pub mod conv;
mod conv_packed;
pub mod dropout;
pub mod layout;
pub mod loss;
pub mod matmul;
pub mod pool;
pub mod reduce;
pub mod softmax;
pub mod unary;
pub mod upsample;

use crate::tensor::Element;
use rayon::prelude::*;

/// Below this many elements an element-wise loop runs on one thread.
const PARALLEL_MIN: usize = 1 << 15;

/// A buffer of `len` zeros. Large ones are zeroed by all threads at once
/// (`vec![0; len]` zeroes a recycled block on the calling thread alone while
/// the other cores wait).
pub(crate) fn zeros<E: Element>(len: usize) -> Vec<E> {
    if len < PARALLEL_MIN {
        return vec![E::ZERO; len];
    }
    let mut buffer = Vec::with_capacity(len);
    buffer.par_extend(rayon::iter::repeat_n(E::ZERO, len).with_min_len(PARALLEL_MIN / 4));
    buffer
}

/// `f` applied to every element, in parallel for large inputs.
pub(crate) fn map<E: Element>(x: &[E], f: impl Fn(E) -> E + Sync + Send) -> Vec<E> {
    if x.len() < PARALLEL_MIN {
        x.iter().map(|&v| f(v)).collect()
    } else {
        x.par_iter().with_min_len(PARALLEL_MIN / 4).map(|&v| f(v)).collect()
    }
}

/// `f` applied to matching elements of two equally long slices.
pub(crate) fn zip_map<E: Element>(a: &[E], b: &[E], f: impl Fn(E, E) -> E + Sync + Send) -> Vec<E> {
    debug_assert_eq!(a.len(), b.len());
    if a.len() < PARALLEL_MIN {
        a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect()
    } else {
        let pairs = a.par_iter().zip(b.par_iter()).with_min_len(PARALLEL_MIN / 4);
        pairs.map(|(&x, &y)| f(x, y)).collect()
    }
}

/// `f` applied to matching elements of three equally long slices.
pub(crate) fn zip3_map<E: Element>(a: &[E], b: &[E], c: &[E], f: impl Fn(E, E, E) -> E + Sync + Send) -> Vec<E> {
    debug_assert!(a.len() == b.len() && b.len() == c.len());
    if a.len() < PARALLEL_MIN {
        (0..a.len()).map(|i| f(a[i], b[i], c[i])).collect()
    } else {
        let idx = (0..a.len()).into_par_iter().with_min_len(PARALLEL_MIN / 4);
        idx.map(|i| f(a[i], b[i], c[i])).collect()
    }
}
