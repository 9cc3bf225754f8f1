//! Transposed convolution ("deconvolution"): the adjoint of conv2d, run forward — the decoder's learned upsampling.
//!
//! A convolution with weight W is a linear map x ↦ C_W x. Its transpose C_Wᵀ
//! is what conv2d's backward pass applies to ∂L/∂Y to get ∂L/∂x: every input
//! pixel spreads its value, weighted by the kernel, over the k×k output
//! pixels it would have been read by. With stride s it spreads onto every
//! s-th pixel, so the output is s times larger — a learned upsampling:
//!
//!   y[n, o, s·i − p + d·a, s·j − p + d·b] += Σ_c x[n, c, i, j] · w[c, o, a, b]
//!
//! Its output size is (H − 1)·s − 2p + d·(k − 1) + output_padding + 1, and
//! its weight has PyTorch's shape `[C_in, C_out/groups, kh, kw]` — the shape of
//! the convolution it transposes, which maps C_out channels back to C_in.
//!
//! Since Y = C_Wᵀ x, the three passes are conv2d's own, exchanged:
//!
//! * forward:     Y = C_Wᵀ x                  (conv2d's input gradient of x)
//! * input grad:  ∂L/∂x = C_W ∂L/∂Y           (conv2d's forward pass)
//! * weight grad: ∂L/∂W = conv2d's weight gradient with input ∂L/∂Y and output gradient x
//! * bias grad:   ∂L/∂b_o = Σ over n and pixels of ∂L/∂Y[n, o]

use super::conv::{conv2d_backward, conv2d_forward, Conv2dConfig, Geometry};
use crate::tensor::{Element, Tensor};

/// Output size of a transposed convolution along one axis:
/// (input − 1)·stride − 2·pad + dil·(kernel − 1) + output_pad + 1, or
/// `None` when the padding removes everything.
pub fn conv_transpose_output_size(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dil: usize,
    output_pad: usize,
) -> Option<usize> {
    let full = (input.checked_sub(1)?) * stride + dil * (kernel.checked_sub(1)?) + output_pad + 1;
    full.checked_sub(2 * pad).filter(|&n| n > 0)
}

/// The geometry of the convolution that this transposed convolution is the
/// adjoint of: from the transposed op's output `[N, C_out, H', W']` back to its
/// input `[N, C_in, H, W]`.
fn adjoint_geometry(x: &[usize], weight: &[usize], cfg: Conv2dConfig, output_padding: (usize, usize)) -> Geometry {
    let (&[n, c_in, h, w], &[wc, c_out_g, kh, kw]) = (x, weight) else {
        panic!(
            "conv_transpose2d: input must be NCHW and weight [C_in, C_out/groups, kh, kw], got {x:?} and {weight:?}"
        );
    };
    assert!(
        wc == c_in && cfg.groups > 0 && c_in % cfg.groups == 0,
        "conv_transpose2d: input {x:?} and weight {weight:?} do not match with groups={}",
        cfg.groups
    );
    let (s, p, d, op) = (cfg.stride, cfg.padding, cfg.dilation, output_padding);
    assert!(op.0 < s.0 && op.1 < s.1, "conv_transpose2d: output_padding {op:?} must be smaller than the stride {s:?}");
    let oh = conv_transpose_output_size(h, kh, s.0, p.0, d.0, op.0);
    let ow = conv_transpose_output_size(w, kw, s.1, p.1, d.1, op.1);
    let (Some(oh), Some(ow)) = (oh, ow) else {
        panic!("conv_transpose2d: padding {p:?} leaves no output for input {x:?} and weight {weight:?}");
    };
    let g = Geometry::new(&[n, c_out_g * cfg.groups, oh, ow], weight, cfg);
    debug_assert_eq!((g.oh, g.ow, g.c_out), (h, w, c_in));
    g
}

impl<E: Element> Tensor<E> {
    // ANCHOR: conv_transpose2d
    /// Transposed convolution of an NCHW input with a `[C_in, C_out/groups, kh, kw]`
    /// weight and an optional bias `[C_out]` (PyTorch's `conv_transpose2d`):
    /// `y[n,o,s·i−p+d·a, s·j−p+d·b] += Σ_c x[n,c,i,j]·w[c,o,a,b]`, plus `b[o]`.
    /// It is the adjoint of `conv2d` with the same weight and configuration:
    /// ⟨conv2d(u), v⟩ = ⟨u, conv_transpose2d(v)⟩.
    ///
    /// # Panics
    /// When the shapes do not fit together; the message names the op and the shapes.
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor<E>,
        bias: Option<&Tensor<E>>,
        cfg: Conv2dConfig,
        output_padding: (usize, usize),
    ) -> Tensor<E> {
        let g = adjoint_geometry(&self.shape, &weight.shape, cfg, output_padding);
        let out_shape = [g.n, g.c_in, g.h, g.w];
        let plane = g.h * g.w;
        // Y = C_Wᵀ x: conv2d's input gradient, with x in the place of ∂L/∂Y
        let (y, _) = conv2d_backward(&[], &weight.data, &self.data, &g, true, false);
        let mut y = y.expect("conv2d_backward returns the input gradient it was asked for");
        if let Some(b) = bias {
            assert_eq!(b.shape, [g.c_in], "conv_transpose2d: bias shape {:?} must be [{}]", b.shape, g.c_in);
            for (i, out_plane) in y.chunks_exact_mut(plane).enumerate() {
                out_plane.iter_mut().for_each(|v| *v += b.data[i % g.c_in]);
            }
        }
        let (x, w) = (self.detach(), weight.detach());
        let (need_dx, need_dw, has_bias) = (self.requires_grad(), weight.requires_grad(), bias.is_some());
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        Tensor::from_op("conv_transpose2d", y, &out_shape, &inputs, move |dy| {
            // ∂L/∂x = C_W ∂L/∂Y: the convolution itself
            let dx = need_dx.then(|| Tensor::from_vec(conv2d_forward(&dy.data, &w, None, &g, |_, _| {}), &x.shape));
            // ∂L/∂W: conv2d's weight gradient, input ∂L/∂Y, output gradient x
            let dw = if need_dw { conv2d_backward(&dy.data, &w.data, &x.data, &g, false, true).1 } else { None };
            let mut grads = vec![dx, dw.map(|dw| Tensor::from_vec(dw, &w.shape))];
            if has_bias {
                let mut db = vec![E::ZERO; g.c_in];
                for (i, out_plane) in dy.data.chunks_exact(plane).enumerate() {
                    db[i % g.c_in] += out_plane.iter().copied().sum::<E>();
                }
                grads.push(Some(Tensor::from_vec(db, &[g.c_in])));
            }
            grads
        })
    }
    // ANCHOR_END: conv_transpose2d
}
