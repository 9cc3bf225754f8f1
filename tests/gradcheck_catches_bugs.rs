//! Mutation tests for the gradient checker: each case pairs an op's real
//! forward pass with a deliberately wrong backward pass (the bugs people
//! actually write) and asserts that `gradcheck` rejects it, while the real op
//! passes on the same inputs.

mod common;
use cnnlab::gradcheck::{gradcheck, GradcheckConfig};
use cnnlab::ops::pool::Pool2dConfig;
use cnnlab::{enable_grad, no_grad, Conv2dConfig, Tensor};
use common::{positive, tensor};
use std::sync::Arc;

type T = Tensor<f64>;
type Op = Arc<dyn Fn(&[T]) -> T + Send + Sync>;
type Backward = Arc<dyn Fn(&T, &[T]) -> Vec<Option<T>> + Send + Sync>;

/// The vector–Jacobian products of `f` at `xs` for output gradient `g`,
/// computed by the real autodiff (used to build near-miss backward passes).
fn vjp(f: impl Fn(&[T]) -> T, xs: &[T], g: &T) -> Vec<T> {
    enable_grad(|| {
        let leaves: Vec<T> = xs.iter().map(|x| x.detach().with_grad()).collect();
        let grads = f(&leaves).backward_with(g);
        leaves.iter().map(|x| grads.wrt_or_zeros(x)).collect()
    })
}

/// An op with `forward`'s values and `backward`'s (wrong) gradients.
fn mutant(forward: Op, backward: Backward) -> impl Fn(&[T]) -> T {
    move |xs: &[T]| {
        let y = no_grad(|| forward(xs));
        let saved: Vec<T> = xs.iter().map(|x| x.detach()).collect();
        let refs: Vec<&T> = xs.iter().collect();
        let backward = Arc::clone(&backward);
        Tensor::from_op("mutant", y.to_vec(), y.shape(), &refs, move |g| backward(g, &saved))
    }
}

struct Case {
    name: &'static str,
    forward: Op,
    backward: Backward,
    inputs: fn(u64) -> Vec<T>,
}

fn conv_cfg() -> Conv2dConfig {
    Conv2dConfig::default().padding(1).stride(2)
}

fn cases() -> Vec<Case> {
    let conv: Op = Arc::new(|x: &[T]| x[0].conv2d(&x[1], Some(&x[2]), conv_cfg()));
    let conv_inputs: fn(u64) -> Vec<T> =
        |s| vec![tensor(&[3, 2, 5, 6], s, 1.0), tensor(&[3, 2, 3, 3], s ^ 1, 1.0), tensor(&[3], s ^ 2, 1.0)];
    let bn: Op = Arc::new(|x: &[T]| x[0].batch_norm_train(&x[1], &x[2], 1e-5).0);
    let bn_inputs: fn(u64) -> Vec<T> =
        |s| vec![tensor(&[3, 2, 2, 2], s, 2.0), positive(&[2], s ^ 1, 1.0), tensor(&[2], s ^ 2, 1.0)];
    let square: fn(u64) -> Vec<T> = |s| vec![tensor(&[4, 4], s, 2.0), tensor(&[4, 4], s ^ 1, 2.0)];
    let one: fn(u64) -> Vec<T> = |s| vec![tensor(&[3, 5], s, 2.0)];
    let pool_cfg = Pool2dConfig::new(2);
    vec![
        Case {
            name: "mul: ∂/∂a uses a instead of b",
            forward: Arc::new(|x: &[T]| x[0].mul(&x[1])),
            backward: Arc::new(|g, x| vec![Some(g.mul(&x[0])), Some(g.mul(&x[0]))]),
            inputs: square,
        },
        Case {
            name: "div: ∂/∂b with the wrong sign",
            forward: Arc::new(|x: &[T]| x[0].div(&x[1])),
            backward: Arc::new(|g, x| vec![Some(g.div(&x[1])), Some(g.mul(&x[0]).div(&x[1].pow(2.0)))]),
            inputs: |s| vec![tensor(&[4, 4], s, 2.0), positive(&[4, 4], s ^ 1, 2.0)],
        },
        Case {
            name: "pow(3): missing the factor p",
            forward: Arc::new(|x: &[T]| x[0].pow(3.0)),
            backward: Arc::new(|g, x| vec![Some(g.mul(&x[0].pow(2.0)))]),
            inputs: one,
        },
        Case {
            name: "exp: gradient off by 0.1%",
            forward: Arc::new(|x: &[T]| x[0].exp()),
            backward: Arc::new(|g, x| vec![Some(g.mul(&x[0].exp()).mul_scalar(1.001))]),
            inputs: one,
        },
        Case {
            name: "sigmoid: derivative y instead of y(1 − y)",
            forward: Arc::new(|x: &[T]| x[0].sigmoid()),
            backward: Arc::new(|g, x| vec![Some(g.mul(&x[0].sigmoid()))]),
            inputs: one,
        },
        Case {
            name: "tanh: derivative 1 − x² instead of 1 − y²",
            forward: Arc::new(|x: &[T]| x[0].tanh()),
            backward: Arc::new(|g, x| vec![Some(g.mul(&x[0].pow(2.0).neg().add_scalar(1.0)))]),
            inputs: one,
        },
        Case {
            name: "relu: gradient passed through negative inputs",
            forward: Arc::new(|x: &[T]| x[0].relu()),
            backward: Arc::new(|g, _| vec![Some(g.clone())]),
            inputs: one,
        },
        Case {
            name: "sum over axis 1: gradient broadcast along the wrong axis",
            forward: Arc::new(|x: &[T]| x[0].sum_axes(&[1], false)),
            backward: Arc::new(|g, x| vec![Some(g.reshape(&[1, 4]).broadcast_to(x[0].shape()))]),
            inputs: |s| vec![tensor(&[4, 4], s, 2.0)],
        },
        Case {
            name: "matmul: ∂/∂B = A·G instead of Aᵀ·G",
            forward: Arc::new(|x: &[T]| x[0].matmul(&x[1])),
            backward: Arc::new(|g, x| vec![Some(g.matmul(&x[1].transpose(0, 1))), Some(x[0].matmul(g))]),
            inputs: square,
        },
        Case {
            name: "conv2d: input gradient with a transposed kernel",
            forward: conv.clone(),
            backward: {
                let conv = conv.clone();
                Arc::new(move |g, x| {
                    let right = vjp(|t| conv(t), x, g);
                    let flipped = [x[0].clone(), x[1].transpose(2, 3), x[2].clone()];
                    let wrong = vjp(|t| conv(t), &flipped, g);
                    vec![Some(wrong[0].clone()), Some(right[1].clone()), Some(right[2].clone())]
                })
            },
            inputs: conv_inputs,
        },
        Case {
            name: "conv2d: weight gradient averaged over the batch instead of summed",
            forward: conv.clone(),
            backward: {
                let conv = conv.clone();
                Arc::new(move |g, x| {
                    let right = vjp(|t| conv(t), x, g);
                    vec![Some(right[0].clone()), Some(right[1].mul_scalar(1.0 / 3.0)), Some(right[2].clone())]
                })
            },
            inputs: conv_inputs,
        },
        Case {
            name: "conv2d: bias gradient from the first image only",
            forward: conv.clone(),
            backward: {
                let conv = conv.clone();
                Arc::new(move |g, x| {
                    let right = vjp(|t| conv(t), x, g);
                    let first = g.narrow(0, 0, 1).sum_axes(&[0, 2, 3], false);
                    vec![Some(right[0].clone()), Some(right[1].clone()), Some(first)]
                })
            },
            inputs: conv_inputs,
        },
        Case {
            name: "max_pool2d: gradient spread over the window instead of to the max",
            forward: Arc::new(move |x: &[T]| x[0].max_pool2d(pool_cfg)),
            backward: Arc::new(move |g, x| vec![Some(vjp(|t| t[0].avg_pool2d(pool_cfg), x, g)[0].clone())]),
            inputs: |s| vec![tensor(&[2, 2, 4, 4], s, 2.0)],
        },
        Case {
            name: "upsample_bilinear: backward of nearest",
            forward: Arc::new(|x: &[T]| x[0].upsample_bilinear((7, 5))),
            backward: Arc::new(|g, x| vec![Some(vjp(|t| t[0].upsample_nearest((7, 5)), x, g)[0].clone())]),
            inputs: |s| vec![tensor(&[1, 2, 3, 2], s, 2.0)],
        },
        Case {
            name: "batch_norm: batch statistics treated as constants",
            forward: bn.clone(),
            backward: Arc::new(|g, x| {
                let stats = no_grad(|| x[0].batch_norm_train(&x[1], &x[2], 1e-5).1);
                let eval = |t: &[T]| t[0].batch_norm_eval(&t[1], &t[2], &stats.mean, &stats.var, 1e-5);
                vjp(eval, x, g).into_iter().map(Some).collect()
            }),
            inputs: bn_inputs,
        },
        Case {
            name: "batch_norm: ∂L/∂γ uses x instead of x̂",
            forward: bn.clone(),
            backward: {
                let bn = bn.clone();
                Arc::new(move |g, x| {
                    let right = vjp(|t| bn(t), x, g);
                    let d_gamma = g.mul(&x[0]).sum_axes(&[0, 2, 3], false);
                    vec![Some(right[0].clone()), Some(d_gamma), Some(right[2].clone())]
                })
            },
            inputs: bn_inputs,
        },
        Case {
            name: "softmax: missing the −Σ g·y term",
            forward: Arc::new(|x: &[T]| x[0].softmax(1)),
            backward: Arc::new(|g, x| vec![Some(g.mul(&x[0].softmax(1)))]),
            inputs: one,
        },
        Case {
            name: "log_softmax: softmax·g instead of softmax·Σg",
            forward: Arc::new(|x: &[T]| x[0].log_softmax(1)),
            backward: Arc::new(|g, x| vec![Some(g.sub(&x[0].softmax(1).mul(g)))]),
            inputs: one,
        },
        Case {
            name: "cross_entropy: gradient not divided by the batch size",
            forward: Arc::new(|x: &[T]| x[0].cross_entropy(&[0, 2, 4], 0.0)),
            backward: Arc::new(|g, x| {
                vec![Some(vjp(|t| t[0].cross_entropy(&[0, 2, 4], 0.0), x, g)[0].mul_scalar(3.0))]
            }),
            inputs: one,
        },
    ]
}

#[test]
fn gradcheck_rejects_every_broken_backward() {
    let cfg = |seed| GradcheckConfig { seed, ..GradcheckConfig::default() };
    let cases = cases();
    let mut caught = 0;
    for case in &cases {
        for seed in 0..5 {
            let inputs = (case.inputs)(seed);
            let real = gradcheck(|x| (case.forward)(x), &inputs, &cfg(seed));
            assert!(real.is_ok(), "{}: the real op failed its check: {:?}", case.name, real.err());
            let broken = mutant(case.forward.clone(), case.backward.clone());
            let verdict = gradcheck(broken, &inputs, &cfg(seed));
            assert!(verdict.is_err(), "{}: the broken backward passed (seed {seed})", case.name);
        }
        caught += 1;
    }
    println!("gradcheck rejected {caught} of {} broken backward functions, on every seed", cases.len());
}

#[test]
fn gradcheck_directional_check_alone_catches_bugs() {
    // with element-wise checks switched off, the random direction still sees every bug
    for case in cases() {
        for seed in 0..5 {
            let cfg = GradcheckConfig { seed, elementwise_limit: 0, ..GradcheckConfig::default() };
            let broken = mutant(case.forward.clone(), case.backward.clone());
            assert!(gradcheck(broken, &(case.inputs)(seed), &cfg).is_err(), "{} slipped past (seed {seed})", case.name);
        }
    }
}
