//! conv_transpose2d: against its scatter definition, as the adjoint of conv2d,
//! at hand-computed values, by gradient checks, and its shape errors.

mod common;
use cnnlab::ops::conv_transpose::conv_transpose_output_size;
use cnnlab::{Conv2dConfig, Tensor};
use common::{check, tensor};
use proptest::prelude::*;

/// The definition, loop by loop: every input pixel adds the kernel, scaled
/// by its value, at stride-spaced places of the output.
fn by_definition(x: &Tensor<f64>, w: &Tensor<f64>, cfg: Conv2dConfig, out_pad: (usize, usize)) -> Vec<f64> {
    let (n, c_in, h, wd) = x.dims4("ref");
    let (_, og, kh, kw) = w.dims4("ref");
    let (s, p, d, g) = (cfg.stride, cfg.padding, cfg.dilation, cfg.groups);
    let oh = conv_transpose_output_size(h, kh, s.0, p.0, d.0, out_pad.0).unwrap();
    let ow = conv_transpose_output_size(wd, kw, s.1, p.1, d.1, out_pad.1).unwrap();
    let o = og * g;
    let (xd, wdat) = (x.data(), w.data());
    let mut out = vec![0.0; n * o * oh * ow];
    for b in 0..n {
        for c in 0..c_in {
            let group = c / (c_in / g);
            for i in 0..h {
                for j in 0..wd {
                    for oc in 0..og {
                        for a in 0..kh {
                            for e in 0..kw {
                                let y = (i * s.0 + a * d.0) as isize - p.0 as isize;
                                let z = (j * s.1 + e * d.1) as isize - p.1 as isize;
                                if y >= 0 && z >= 0 && (y as usize) < oh && (z as usize) < ow {
                                    let o_idx = group * og + oc;
                                    out[((b * o + o_idx) * oh + y as usize) * ow + z as usize] +=
                                        xd[((b * c_in + c) * h + i) * wd + j] * wdat[((c * og + oc) * kh + a) * kw + e];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
}

fn dot(a: &Tensor<f64>, b: &Tensor<f64>) -> f64 {
    a.data().iter().zip(b.data()).map(|(x, y)| x * y).sum()
}

/// A transposed-convolution problem: input and weight shapes, configuration, output padding.
#[derive(Debug, Clone)]
struct Case {
    x: [usize; 4],
    w: [usize; 4],
    cfg: Conv2dConfig,
    out_pad: (usize, usize),
}

prop_compose! {
    fn case()(
        n in 1usize..=2, cg in 1usize..=3, og in 1usize..=3, groups in 1usize..=2,
        kh in 1usize..=4, kw in 1usize..=3, h in 1usize..=5, w in 1usize..=5,
        sh in 1usize..=3, sw in 1usize..=2, dil in 1usize..=2, ph in 0usize..=2, pw in 0usize..=1,
        oph in 0usize..=2, opw in 0usize..=1,
    ) -> Case {
        let cfg = Conv2dConfig { stride: (sh, sw), padding: (ph, pw), dilation: (dil, dil), groups };
        Case { x: [n, cg * groups, h, w], w: [cg * groups, og, kh, kw], cfg, out_pad: (oph % sh, opw % sw) }
    }
}

fn valid(c: &Case) -> bool {
    let (s, p, d) = (c.cfg.stride, c.cfg.padding, c.cfg.dilation);
    conv_transpose_output_size(c.x[2], c.w[2], s.0, p.0, d.0, c.out_pad.0).is_some()
        && conv_transpose_output_size(c.x[3], c.w[3], s.1, p.1, d.1, c.out_pad.1).is_some()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn conv_transpose2d_matches_the_definition(c in case(), seed in any::<u64>()) {
        prop_assume!(valid(&c));
        let (x, w) = (tensor(&c.x, seed, 1.0), tensor(&c.w, seed ^ 1, 1.0));
        let y = x.conv_transpose2d(&w, None, c.cfg, c.out_pad);
        prop_assert!(close(y.data(), &by_definition(&x, &w, c.cfg, c.out_pad), 1e-12));
    }

    /// ⟨conv2d(u), v⟩ = ⟨u, conv_transpose2d(v)⟩ for the same weight and configuration.
    #[test]
    fn conv_transpose2d_is_the_adjoint_of_conv2d(c in case(), seed in any::<u64>()) {
        prop_assume!(valid(&c));
        let (v, w) = (tensor(&c.x, seed, 1.0), tensor(&c.w, seed ^ 1, 1.0));
        let y = v.conv_transpose2d(&w, None, c.cfg, c.out_pad);
        let u = tensor(y.shape(), seed ^ 2, 1.0);
        let conv_u = u.conv2d(&w, None, c.cfg);
        prop_assert_eq!(conv_u.shape(), v.shape());
        let (lhs, rhs) = (dot(&conv_u, &v), dot(&u, &y));
        prop_assert!((lhs - rhs).abs() <= 1e-10 * (1.0 + lhs.abs()), "{} vs {}", lhs, rhs);
    }

    #[test]
    fn gradcheck_conv_transpose2d(c in case(), bias in any::<bool>(), seed in any::<u64>()) {
        prop_assume!(valid(&c));
        let mut inputs = vec![tensor(&c.x, seed, 1.0), tensor(&c.w, seed ^ 1, 1.0)];
        if bias {
            inputs.push(tensor(&[c.w[1] * c.cfg.groups], seed ^ 2, 1.0));
        }
        let (cfg, out_pad) = (c.cfg, c.out_pad);
        check(|t| t[0].conv_transpose2d(&t[1], t.get(2), cfg, out_pad), &inputs, seed);
    }
}

/// Stride 2 with a 2×2 kernel pastes one scaled copy of the kernel per input
/// pixel into its own 2×2 block: the textbook picture of "unpooling".
#[test]
fn stride_two_pastes_the_kernel_per_pixel() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
    let w = Tensor::from_vec(vec![1.0, 10.0, 100.0, 1000.0], &[1, 1, 2, 2]);
    let y = x.conv_transpose2d(&w, Some(&Tensor::from_vec(vec![0.5], &[1])), Conv2dConfig::default().stride(2), (0, 0));
    assert_eq!(y.shape(), [1, 1, 4, 4]);
    #[rustfmt::skip]
    let expected = [
        1.5, 10.5, 2.5, 20.5,
        100.5, 1000.5, 200.5, 2000.5,
        3.5, 30.5, 4.5, 40.5,
        300.5, 3000.5, 400.5, 4000.5,
    ];
    assert_eq!(y.data(), expected);
}

/// Stride 1, kernel 3, padding 1: the "same"-size transposed convolution is
/// the convolution with the kernel flipped in space and channels swapped.
#[test]
fn stride_one_equals_convolution_with_the_flipped_kernel() {
    let x = tensor(&[2, 3, 5, 6], 7, 1.0);
    let w = tensor(&[3, 4, 3, 3], 8, 1.0);
    let mut flipped = vec![0.0; 36 * 3];
    for c in 0..3 {
        for o in 0..4 {
            for k in 0..9 {
                flipped[(o * 3 + c) * 9 + (8 - k)] = w.data()[(c * 4 + o) * 9 + k];
            }
        }
    }
    let flipped = Tensor::from_vec(flipped, &[4, 3, 3, 3]);
    let cfg = Conv2dConfig::default().padding(1);
    assert!(close(x.conv_transpose2d(&w, None, cfg, (0, 0)).data(), x.conv2d(&flipped, None, cfg).data(), 1e-12));
}

/// Output sizes as PyTorch's `ConvTranspose2d` documents them.
#[test]
fn output_sizes() {
    assert_eq!(conv_transpose_output_size(8, 4, 2, 1, 1, 0), Some(16)); // the decoder's ×2 step
    assert_eq!(conv_transpose_output_size(8, 3, 2, 1, 1, 1), Some(16));
    assert_eq!(conv_transpose_output_size(8, 3, 2, 1, 1, 0), Some(15));
    assert_eq!(conv_transpose_output_size(1, 1, 1, 1, 1, 0), None);
}

#[test]
#[should_panic(expected = "conv_transpose2d: input [1, 3, 4, 4] and weight [4, 2, 3, 3] do not match with groups=1")]
fn shape_errors_name_the_op_and_shapes() {
    Tensor::<f32>::zeros(&[1, 3, 4, 4]).conv_transpose2d(
        &Tensor::zeros(&[4, 2, 3, 3]),
        None,
        Conv2dConfig::default(),
        (0, 0),
    );
}

#[test]
#[should_panic(expected = "conv_transpose2d: output_padding (2, 0) must be smaller than the stride (2, 2)")]
fn output_padding_must_be_below_the_stride() {
    let cfg = Conv2dConfig::default().stride(2);
    Tensor::<f32>::zeros(&[1, 1, 4, 4]).conv_transpose2d(&Tensor::zeros(&[1, 1, 3, 3]), None, cfg, (2, 0));
}
