//! Fusion as an explicit pass over a model: `fuse_for_inference` and `fuse_for_training` return the model with some runs of layers done as one op.
//!
//! * **Inference**: in evaluation mode batch norm is an affine map per
//!   channel, so it (and a ReLU after it) can be applied to each output
//!   plane while the convolution has just written it and it is still in
//!   cache, instead of in two more passes over memory: Conv2d → BatchNorm
//!   [→ ReLU [→ 2×2 max pooling]] becomes one [`FusedConvBn`].
//! * **Training**: BatchNorm → ReLU becomes one op
//!   ([`BatchNorm::forward_relu`]) that clamps as it writes and keeps one
//!   tensor for the backward pass instead of two.
//!
//! The values are bit for bit those of the layers one after the other (the
//! same expression, `normalize`, in both; `tests/fast_paths.rs` checks it).
//! A model's own `forward` never fuses: what it computes is what its
//! layers say, and Grad-CAM's hooks see every layer's output.

use super::{BatchNorm, Conv2d, MaxPool2d, Module, ReLU};
use crate::ops::batchnorm::{normalize, BatchStats, Normalization};
use crate::ops::conv::conv2d_forward;
use crate::ops::pool::Pool2dConfig;
use crate::ops::unary::relu;
use crate::tensor::conv_shape::Geometry;
use crate::tensor::{Element, Tensor};
use crate::Conv2dConfig;
use std::any::Any;

// ANCHOR: epilogue
/// What inference does to each output channel o right after the
/// convolution computed it, while it is still in cache: evaluation-mode
/// batch norm y = (v − μ_o)·k_o + β_o, then (in a residual block) the
/// shortcut's value, then optionally ReLU.
pub struct ChannelEpilogue<E> {
    /// μ_o, the running means.
    pub mean: Vec<E>,
    /// k_o = γ_o/√(σ²_o + ε).
    pub scale: Vec<E>,
    /// β_o.
    pub shift: Vec<E>,
    /// Whether ReLU follows.
    pub relu: bool,
}

impl<E: Element> ChannelEpilogue<E> {
    /// Applies the epilogue to the plane of output channel `o` (adding the
    /// matching plane of the shortcut, if any), with the same arithmetic as
    /// `batch_norm_eval`, `add` and `relu`, so the bits agree. (`vectorized`
    /// compiles the loops for the CPU's widest vectors: same operations,
    /// several values at a time.)
    fn apply(&self, o: usize, plane: &mut [E], shortcut: Option<&[E]>) {
        let (mu, k, b) = (self.mean[o], self.scale[o], self.shift[o]);
        let normalized = |v: E| normalize(v, mu, k, b);
        let out = |y: E| if self.relu { relu(y) } else { y };
        crate::kernels::vectorized(
            #[inline(always)]
            || match shortcut {
                None => plane.iter_mut().for_each(|v| *v = out(normalized(*v))),
                Some(r) => plane.iter_mut().zip(r).for_each(|(v, &r)| *v = out(normalized(*v) + r)),
            },
        )
    }
}
// ANCHOR_END: epilogue

impl<E: Element> Tensor<E> {
    /// Inference only: the convolution followed by `epilogue` (batch norm in
    /// evaluation mode, optionally ReLU) in one pass over the output — bit
    /// for bit `conv2d`, then `batch_norm_eval`, then `relu`. With a
    /// `shortcut` (a residual block's), it is added between batch norm and
    /// ReLU: ReLU(BN(conv(x)) + shortcut), bit for bit the four ops.
    ///
    /// # Panics
    /// When gradients are being recorded (this op has no backward pass), or
    /// when the shapes do not fit together.
    pub fn conv2d_fused_eval(
        &self,
        weight: &Tensor<E>,
        bias: Option<&Tensor<E>>,
        cfg: Conv2dConfig,
        epilogue: &ChannelEpilogue<E>,
        shortcut: Option<&Tensor<E>>,
    ) -> Tensor<E> {
        let g = self.fused_eval_geometry("conv2d_fused_eval", weight, cfg, epilogue);
        let out_shape = [g.n, g.c_out, g.oh, g.ow];
        if let Some(r) = shortcut {
            assert_eq!(
                r.shape, out_shape,
                "conv2d_fused_eval: shortcut shape {:?}, output shape {out_shape:?}",
                r.shape
            );
        }
        let shortcut = shortcut.map(|r| r.data.as_slice());
        let y = conv2d_forward(&self.data, weight, bias, &g, |n, y_n| {
            for (o, plane) in y_n.chunks_exact_mut(g.out_pixels()).enumerate() {
                let plane_range = (n * g.c_out + o) * g.out_pixels()..(n * g.c_out + o + 1) * g.out_pixels();
                epilogue.apply(o, plane, shortcut.map(|r| &r[plane_range]));
            }
        });
        let name = if shortcut.is_some() { "conv2d+bn+add+relu" } else { "conv2d+bn+relu" };
        Tensor::from_op(name, y, &out_shape, &[], |_| vec![])
    }

    /// Inference only: [`Tensor::conv2d_fused_eval`] without a shortcut,
    /// then 2×2 max pooling with stride 2, each image pooled right after its
    /// epilogue while it is in cache — bit for bit the ops one after the
    /// other (a maximum is exact; ties and NaN as `max_pool2d`).
    ///
    /// # Panics
    /// As [`Tensor::conv2d_fused_eval`]; also when the output is smaller than 2×2.
    pub fn conv2d_fused_eval_max_pool(
        &self,
        weight: &Tensor<E>,
        bias: Option<&Tensor<E>>,
        cfg: Conv2dConfig,
        epilogue: &ChannelEpilogue<E>,
    ) -> Tensor<E> {
        let g = self.fused_eval_geometry("conv2d_fused_eval_max_pool", weight, cfg, epilogue);
        assert!(
            g.oh >= 2 && g.ow >= 2,
            "conv2d_fused_eval_max_pool: output {}×{} is smaller than the 2×2 window",
            g.oh,
            g.ow
        );
        let pooled = (g.oh / 2) * (g.ow / 2);
        let mut y = conv2d_forward(&self.data, weight, bias, &g, |_, y_n| {
            for (o, plane) in y_n.chunks_exact_mut(g.out_pixels()).enumerate() {
                epilogue.apply(o, plane, None);
            }
            max_pool_2x2_to_front(y_n, g.c_out, g.oh, g.ow);
        });
        // each image's pooled planes are at the front of its slot: close the gaps
        for n in 1..g.n {
            y.copy_within(n * g.out_image()..n * g.out_image() + g.c_out * pooled, n * g.c_out * pooled);
        }
        y.truncate(g.n * g.c_out * pooled);
        let shape = [g.n, g.c_out, g.oh / 2, g.ow / 2];
        Tensor::from_op("conv2d+bn+relu+max_pool2d", y, &shape, &[], |_| vec![])
    }

    /// The checks both fused inference ops start with (no graph is being
    /// recorded, the epilogue has a value per output channel) and the
    /// convolution's geometry; `op` names the op in the panic messages.
    fn fused_eval_geometry(
        &self,
        op: &str,
        weight: &Tensor<E>,
        cfg: Conv2dConfig,
        epilogue: &ChannelEpilogue<E>,
    ) -> Geometry {
        assert!(!crate::is_grad_enabled(), "{op}: inference only; call it inside no_grad");
        let g = Geometry::new(&self.shape, &weight.shape, cfg);
        assert_eq!(epilogue.mean.len(), g.c_out, "{op}: epilogue must have {} channels", g.c_out);
        g
    }
}

/// 2×2 max pooling (stride 2) of `channels` planes of h × w values, the
/// pooled planes written one after the other from the front of `planes`,
/// over the values they were computed from. Safe in place: output k of
/// plane o goes to o·(h/2)(w/2) + k, never past an input still to be read.
/// Taps in row-major order with a strict `>`, as `max_pool2d`.
fn max_pool_2x2_to_front<E: Element>(planes: &mut [E], channels: usize, h: usize, w: usize) {
    let (ph, pw) = (h / 2, w / 2);
    for o in 0..channels {
        for oy in 0..ph {
            for ox in 0..pw {
                let top = o * h * w + 2 * oy * w + 2 * ox;
                let taps = [planes[top], planes[top + 1], planes[top + w], planes[top + w + 1]];
                let mut best = taps[0];
                for &v in &taps[1..] {
                    best = if v > best { v } else { best };
                }
                planes[(o * ph + oy) * pw + ox] = best;
            }
        }
    }
}

/// The fused training ops: batch norm then ReLU, and a residual block's tail.
impl<E: Element> Tensor<E> {
    // ANCHOR: train_relu
    /// Training-mode batch norm followed by ReLU, in the passes of batch norm
    /// alone: the forward pass clamps as it writes y, the backward pass reads
    /// ∂L/∂y only where y > 0 (recomputing y's sign from x exactly as the
    /// forward pass computed y). The same values as `batch_norm_train` then
    /// `relu`, one pass over the batch fewer each way and one tensor fewer kept.
    pub fn batch_norm_relu_train(&self, gamma: &Tensor<E>, beta: &Tensor<E>, eps: f64) -> (Tensor<E>, BatchStats) {
        let name = "batch_norm+relu";
        let norm = Normalization::of_batch(name, self, gamma, beta, eps);
        let x = self.data.clone();
        let y = norm.apply(&x, |v, _| relu(v));
        let stats = norm.stats();
        let out = Tensor::from_op(name, y, &self.shape, &[self, gamma, beta], move |dy| {
            norm.backward(&x, &dy.data, |[mu, k, b], x, d| {
                std::hint::select_unpredictable(normalize(x, mu, k, b) > E::ZERO, d, E::ZERO)
            })
        });
        (out, stats)
    }
    // ANCHOR_END: train_relu

    // ANCHOR: train_add_relu
    /// The tail of a residual block, y = ReLU(BN(x) + r), as one op:
    /// training-mode batch norm of x, plus the shortcut r, clamped as it is
    /// written. Going back, ∂L/∂r = ∂L/∂y · 𝟙(y > 0), and batch norm's output
    /// gets that same gradient. The same values as `batch_norm_train`, `add`
    /// and `relu` one after the other, without the two middle tensors.
    ///
    /// # Panics
    /// When x is not `[N, C, …]`, γ and β are not `[C]`, or the residual's
    /// shape is not x's; the message names the op and the shapes.
    pub fn batch_norm_add_relu_train(
        &self,
        gamma: &Tensor<E>,
        beta: &Tensor<E>,
        residual: &Tensor<E>,
        eps: f64,
    ) -> (Tensor<E>, BatchStats) {
        let name = "batch_norm+add+relu";
        assert!(
            residual.shape == self.shape,
            "{name}: the residual {:?} must have the shape of the input {:?}",
            residual.shape,
            self.shape
        );
        let norm = Normalization::of_batch(name, self, gamma, beta, eps);
        let (x, r) = (self.data.clone(), residual.data.clone());
        let y = Tensor::from_vec(norm.apply(&x, |v, i| relu(v + r[i])), &self.shape);
        let (stats, y_saved, shape) = (norm.stats(), y.data.clone(), self.shape.clone());
        let out = y.recorded(name, &[self, gamma, beta, residual], move |dy| {
            // y is the next layer's input, kept alive anyway: its sign is the mask
            let d_sum = crate::kernels::zip_map(&dy.data, &y_saved, |d, y| {
                std::hint::select_unpredictable(y > E::ZERO, d, E::ZERO)
            });
            let mut grads = norm.backward(&x, &d_sum, |_, _, d| d);
            grads.push(Some(Tensor::from_vec(d_sum, &shape)));
            grads
        });
        (out, stats)
    }
    // ANCHOR_END: train_add_relu
}

/// Conv2d → BatchNorm in evaluation mode [→ ReLU] as one layer, for
/// inference only (see [`fuse_for_inference`]).
pub struct FusedConvBn {
    conv: Conv2d,
    epilogue: ChannelEpilogue<f32>,
    /// Whether a 2×2 max pooling with stride 2 follows (after the ReLU).
    max_pool: bool,
}

impl Module for FusedConvBn {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        let (conv, epilogue) = (&self.conv, &self.epilogue);
        match self.max_pool {
            true => x.conv2d_fused_eval_max_pool(&conv.weight, conv.bias.as_ref(), conv.cfg, epilogue),
            false => x.conv2d_fused_eval(&conv.weight, conv.bias.as_ref(), conv.cfg, epilogue, None),
        }
    }

    fn describe(&self) -> String {
        let relu = if self.epilogue.relu { " → ReLU" } else { "" };
        let pool = if self.max_pool { " → MaxPool2d(2x2)" } else { "" };
        format!("{} → BatchNorm{relu}{pool} (fused)", self.conv.describe())
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

// ANCHOR: fuse
/// A model prepared by [`fuse_for_inference`] or [`fuse_for_training`]: its
/// steps in order, each a layer of the original model (borrowed), a fused
/// run of layers, or a nested chain prepared the same way.
pub struct Fused<'a> {
    steps: Vec<Step<'a>>,
    purpose: Purpose,
}

enum Step<'a> {
    Layer(&'a mut dyn Module),
    ConvBn(Box<FusedConvBn>),
    BnRelu(&'a mut BatchNorm),
    Chain(Fused<'a>),
}

/// What a [`Fused`] model is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Inference,
    Training,
}

/// `net` prepared for inference: in every [`Sequential`](super::Sequential) (nested ones
/// too), each Conv2d followed by a BatchNorm in evaluation mode (and
/// possibly a ReLU, and after it possibly a 2×2 max pooling with stride 2)
/// becomes one [`FusedConvBn`]; every other layer is used as it is. Its
/// `forward` runs without a graph.
pub fn fuse_for_inference(net: &mut dyn Module) -> Fused<'_> {
    fuse(net, Purpose::Inference)
}

/// `net` prepared for a training step: in every [`Sequential`](super::Sequential), each
/// BatchNorm (in training mode) followed by a ReLU runs as one op.
pub fn fuse_for_training(net: &mut dyn Module) -> Fused<'_> {
    fuse(net, Purpose::Training)
}

fn fuse(net: &mut dyn Module, purpose: Purpose) -> Fused<'_> {
    if net.as_sequential().is_none() {
        return Fused { steps: vec![Step::Layer(net)], purpose };
    }
    let seq = net.as_sequential().expect("checked just above");
    let mut steps = vec![];
    let mut rest = &mut seq.layers[..];
    while !rest.is_empty() {
        if purpose == Purpose::Inference {
            if let Some((fused, covered)) = conv_bn_relu(rest) {
                steps.push(Step::ConvBn(Box::new(fused)));
                rest = &mut rest[covered..];
                continue;
            }
        } else if starts_with_bn_relu(rest) {
            let (pair, tail) = rest.split_at_mut(2);
            steps.push(Step::BnRelu(pair[0].as_any_mut().downcast_mut::<BatchNorm>().expect("checked")));
            rest = tail;
            continue;
        }
        let (first, tail) = rest.split_first_mut().expect("not empty");
        let nested = first.as_sequential().is_some();
        steps.push(if nested { Step::Chain(fuse(first.as_mut(), purpose)) } else { Step::Layer(first.as_mut()) });
        rest = tail;
    }
    Fused { steps, purpose }
}

/// The fused layer for `layers[0..]` when they start with Conv2d →
/// BatchNorm (evaluation mode, 2-D) [→ ReLU [→ MaxPool2d 2×2, stride 2]],
/// and how many layers it covers.
fn conv_bn_relu(layers: &mut [Box<dyn Module>]) -> Option<(FusedConvBn, usize)> {
    let [conv, bn, rest @ ..] = layers else { return None };
    let conv = conv.as_any_mut().downcast_mut::<Conv2d>()?.clone();
    let relu = rest.first_mut().is_some_and(|l| l.as_any_mut().is::<ReLU>());
    let epilogue = bn.as_any_mut().downcast_mut::<BatchNorm>()?.eval_epilogue(relu)?;
    let pool_2x2 = |l: &mut Box<dyn Module>| {
        l.as_any_mut().downcast_mut::<MaxPool2d>().is_some_and(|p| p.0 == Pool2dConfig::new(2))
    };
    let max_pool = relu && rest.get_mut(1).is_some_and(pool_2x2);
    Some((FusedConvBn { conv, epilogue, max_pool }, 2 + usize::from(relu) + usize::from(max_pool)))
}

/// Whether `layers[0..]` start with BatchNorm in training mode → ReLU.
fn starts_with_bn_relu(layers: &mut [Box<dyn Module>]) -> bool {
    let [bn, relu, ..] = layers else { return false };
    let training = bn.as_any_mut().downcast_mut::<BatchNorm>().is_some_and(|bn| bn.is_training());
    training && relu.as_any_mut().is::<ReLU>()
}

impl Fused<'_> {
    /// How many runs of layers are fused (in nested chains too).
    pub fn fused_runs(&self) -> usize {
        let count = |step: &Step| match step {
            Step::Layer(_) => 0,
            Step::ConvBn(_) | Step::BnRelu(_) => 1,
            Step::Chain(chain) => chain.fused_runs(),
        };
        self.steps.iter().map(count).sum()
    }

    /// The model's output for `x` (for inference, without a graph).
    pub fn forward(&mut self, x: &Tensor) -> Tensor {
        let mut run = || {
            let mut h = x.clone();
            for step in &mut self.steps {
                h = match step {
                    Step::Layer(layer) => layer.forward(&h),
                    Step::ConvBn(fused) => fused.forward(&h),
                    Step::BnRelu(bn) => bn.forward_relu(&h),
                    Step::Chain(chain) => chain.forward(&h),
                };
            }
            h
        };
        match self.purpose {
            Purpose::Inference => crate::no_grad(run),
            Purpose::Training => run(),
        }
    }
}
// ANCHOR_END: fuse
