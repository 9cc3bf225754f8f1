//! Closed-form checks of the ops' forward values and of the autodiff semantics.

mod common;
use cnnlab::ops::pool::Pool2dConfig;
use cnnlab::{no_grad, Conv2dConfig, Tensor};
use common::tensor;
use proptest::prelude::*;

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
}

/// Direct convolution by its definition, seven nested loops, no cleverness.
fn conv_by_definition(x: &Tensor<f64>, w: &Tensor<f64>, cfg: Conv2dConfig) -> Vec<f64> {
    let (n, c, h, wd) = x.dims4("ref");
    let (o, cg, kh, kw) = w.dims4("ref");
    let (s, p, d, g) = (cfg.stride, cfg.padding, cfg.dilation, cfg.groups);
    let oh = (h + 2 * p.0 - d.0 * (kh - 1) - 1) / s.0 + 1;
    let ow = (wd + 2 * p.1 - d.1 * (kw - 1) - 1) / s.1 + 1;
    let (xd, wdat) = (x.data(), w.data());
    let mut out = vec![0.0; n * o * oh * ow];
    for b in 0..n {
        for oc in 0..o {
            let group = oc / (o / g);
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = 0.0;
                    for ic in 0..cg {
                        let ci = group * cg + ic;
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (oy * s.0 + i * d.0) as isize - p.0 as isize;
                                let ix = (ox * s.1 + j * d.1) as isize - p.1 as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < wd {
                                    acc += xd[((b * c + ci) * h + iy as usize) * wd + ix as usize]
                                        * wdat[((oc * cg + ic) * kh + i) * kw + j];
                                }
                            }
                        }
                    }
                    out[((b * o + oc) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn conv2d_matches_the_definition(
        n in 1usize..3, cg in 1usize..4, og in 1usize..4, g in 1usize..3, k in 1usize..4,
        h in 3usize..9, s in 1usize..4, d in 1usize..3, pad in any::<bool>(), seed in any::<u64>(),
    ) {
        let cfg = Conv2dConfig { stride: (s, s), padding: if pad { (k / 2, k / 2) } else { (0, 0) }, dilation: (d, d), groups: g };
        prop_assume!(h + 2 * cfg.padding.0 > d * (k - 1));
        let x = tensor(&[n, cg * g, h, h + 1], seed, 1.0);
        let w = tensor(&[og * g, cg, k, k], seed ^ 1, 1.0);
        let y = x.conv2d(&w, None, cfg);
        prop_assert!(close(y.data(), &conv_by_definition(&x, &w, cfg), 1e-12));
    }
}

/// Every small edge geometry, deterministically: widths of 1–4 pixels with
/// padding, stride and dilation large enough that whole kernel columns fall
/// into the padding (the im2col slice copies must handle empty ranges).
/// Forward against the definition; backward through the adjoint identity
/// ⟨conv(x), g⟩ = ⟨x, ∂x⟩ and ⟨conv(x), g⟩ = ⟨w, ∂w⟩ (conv is linear in each).
#[test]
fn conv2d_edge_geometries_forward_and_adjoint() {
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut checked = 0;
    for (width, kw, stride, pad, dil) in edge_geometries() {
        if width + 2 * pad <= dil * (kw - 1) {
            continue; // no output column
        }
        let cfg = Conv2dConfig { stride: (1, stride), padding: (pad.min(1), pad), dilation: (1, dil), groups: 1 };
        let seed = (width * 1000 + kw * 100 + stride * 10 + pad + dil * 7) as u64;
        let x = tensor(&[2, 2, 3, width], seed, 1.0).with_grad();
        let w = tensor(&[3, 2, 2, kw], seed ^ 5, 1.0).with_grad();
        let y = x.conv2d(&w, None, cfg);
        assert!(close(y.data(), &conv_by_definition(&x, &w, cfg), 1e-12), "forward {cfg:?} width {width} kw {kw}");
        let g = tensor(y.shape(), seed ^ 9, 1.0);
        let grads = y.mul(&g).sum().backward();
        let lhs = dot(y.data(), g.data());
        for (name, t) in [("dx", &x), ("dw", &w)] {
            let rhs = dot(t.data(), grads.wrt(t).data());
            assert!(
                (lhs - rhs).abs() <= 1e-10 * (1.0 + lhs.abs()),
                "{name} {cfg:?} width {width} kw {kw}: {lhs} vs {rhs}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 180, "only {checked} geometries checked");
}

/// (width, kernel width, stride, padding, dilation) over small ranges.
fn edge_geometries() -> impl Iterator<Item = (usize, usize, usize, usize, usize)> {
    (1..=4).flat_map(|w| {
        (1..=3).flat_map(move |k| {
            (1..=3).flat_map(move |s| (0..=2).flat_map(move |p| (1..=2).map(move |d| (w, k, s, p, d))))
        })
    })
}

/// Max pooling by its definition over every small geometry (padding up to
/// half the window, strides larger than the window), on inputs full of ties:
/// values and the winner that receives the gradient (the first maximum in
/// row-major window order, as PyTorch) must match a direct loop.
#[test]
fn max_pool_matches_the_definition_with_ties_and_padding() {
    for (h, w, k, s, p) in (1..=5).flat_map(|h| {
        (1..=5).flat_map(move |w| {
            (1..=3).flat_map(move |k| (1..=3).flat_map(move |s| (0..=k / 2).map(move |p| (h, w, k, s, p))))
        })
    }) {
        if h + 2 * p < k || w + 2 * p < k {
            continue;
        }
        let values: Vec<f64> = (0..2 * h * w).map(|i| ((i * 7 + h + w) % 3) as f64).collect();
        let x = Tensor::from_vec(values.clone(), &[1, 2, h, w]).with_grad();
        let cfg = Pool2dConfig::new(k).stride(s).padding(p);
        let y = x.max_pool2d(cfg);
        let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
        let g: Vec<f64> = (0..2 * oh * ow).map(|i| 1.0 + i as f64).collect();
        let dx = y.mul(&Tensor::from_vec(g.clone(), y.shape())).sum().backward().wrt(&x).to_vec();
        let (mut want_y, mut want_dx) = (vec![], vec![0.0; values.len()]);
        for c in 0..2 {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut best: Option<(f64, usize)> = None;
                    for iy in (oy * s).saturating_sub(p)..(oy * s + k).saturating_sub(p).min(h) {
                        for ix in (ox * s).saturating_sub(p)..(ox * s + k).saturating_sub(p).min(w) {
                            let i = c * h * w + iy * w + ix;
                            if best.is_none_or(|(b, _)| values[i] > b) {
                                best = Some((values[i], i));
                            }
                        }
                    }
                    let (b, i) = best.unwrap();
                    want_y.push(b);
                    want_dx[i] += g[(c * oh + oy) * ow + ox];
                }
            }
        }
        assert_eq!(y.data(), &want_y[..], "values h={h} w={w} k={k} s={s} p={p}");
        assert_eq!(dx, want_dx, "winners h={h} w={w} k={k} s={s} p={p}");
    }
}

#[test]
fn bilinear_matches_pytorch_align_corners_false() {
    // torch.nn.functional.interpolate(x, size=(4, 4), mode="bilinear", align_corners=False)
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
    let y = x.upsample_bilinear((4, 4));
    #[rustfmt::skip]
    let expected = [1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0];
    assert!(close(y.data(), &expected, 1e-12), "{:?}", y.data());
    let z = x.upsample_nearest((4, 3));
    assert_eq!(z.data(), &[1.0, 1.0, 2.0, 1.0, 1.0, 2.0, 3.0, 3.0, 4.0, 3.0, 3.0, 4.0]);
}

#[test]
fn pooling_known_values() {
    let x = Tensor::<f64>::from_vec((0..16).map(|v| v as f64).collect(), &[1, 1, 4, 4]);
    assert_eq!(x.max_pool2d(Pool2dConfig::new(2)).data(), &[5.0, 7.0, 13.0, 15.0]);
    assert_eq!(x.avg_pool2d(Pool2dConfig::new(2)).data(), &[2.5, 4.5, 10.5, 12.5]);
    // padding counts as zeros in the average, never wins the max
    let neg = x.mul_scalar(-1.0).add_scalar(-1.0);
    let padded = Pool2dConfig::new(3).stride(3).padding(1);
    assert_eq!(neg.max_pool2d(padded).data(), &[-1.0, -3.0, -9.0, -11.0]);
    assert_eq!(x.global_avg_pool2d().data(), &[7.5]);
    assert_eq!(x.global_max_pool2d().data(), &[15.0]);
}

#[test]
fn softmax_and_cross_entropy_are_stable_at_extreme_logits() {
    let logits = Tensor::<f32>::from_vec(vec![1e4, -1e4, 0.0, -1e4, 1e4, 1e4], &[2, 3]).with_grad();
    let p = logits.softmax(1);
    assert!(p.data().iter().all(|v| v.is_finite()));
    assert!(close(&p.cast::<f64>().to_vec(), &[1.0, 0.0, 0.0, 0.0, 0.5, 0.5], 1e-6));
    let loss = logits.cross_entropy(&[0, 0], 0.0);
    // row 0 is certain and right (0); row 1 splits its mass over classes 1, 2: −log p₀ = 2e4 + ln 2
    let expected = (0.0 + 2e4 + 2f64.ln()) / 2.0;
    assert!((loss.item() as f64 - expected).abs() < 1e-2, "{}", loss.item());
    let grads = loss.backward();
    assert!(grads.wrt(&logits).data().iter().all(|v| v.is_finite()));
    let bce = logits.bce_with_logits(&Tensor::ones(&[2, 3]));
    assert!(bce.item().is_finite() && bce.item() > 0.0);
}

#[test]
fn fused_softmax_equals_composed() {
    let z = tensor(&[3, 5], 7, 4.0);
    let composed = z.exp().div(&z.exp().sum_axes(&[1], true));
    assert!(close(z.softmax(1).data(), composed.data(), 1e-12));
    assert!(close(z.log_softmax(1).data(), composed.log().data(), 1e-12));
}

#[test]
fn label_smoothing_matches_its_definition() {
    let z = tensor(&[2, 4], 3, 2.0);
    let eps = 0.2;
    let log_p = z.log_softmax(1).to_vec();
    let q = |row: usize, c: usize| eps / 4.0 + if c == [1, 3][row] { 1.0 - eps } else { 0.0 };
    let expected: f64 = (0..8).map(|i| -q(i / 4, i % 4) * log_p[i]).sum::<f64>() / 2.0;
    assert!((z.cross_entropy(&[1, 3], eps).item() - expected).abs() < 1e-12);
}

#[test]
fn batch_norm_train_normalises_and_eval_uses_running_statistics() {
    let x = tensor(&[4, 2, 3, 3], 11, 3.0).add_scalar(5.0);
    let (gamma, beta) = (Tensor::ones(&[2]), Tensor::zeros(&[2]));
    let (y, stats) = x.batch_norm_train(&gamma, &beta, 1e-5);
    for c in 0..2 {
        let ch = y.narrow(1, c, 1);
        assert!(ch.mean().item().abs() < 1e-12);
        assert!((ch.pow(2.0).mean().item() - 1.0).abs() < 1e-4);
        assert!((stats.mean[c] - x.narrow(1, c, 1).mean().item()).abs() < 1e-12);
    }
    // evaluation with the batch's own statistics reproduces training mode …
    let same = x.batch_norm_eval(&gamma, &beta, &stats.mean, &stats.var, 1e-5);
    assert!(close(same.data(), y.data(), 1e-12));
    // … and with other statistics it does not depend on the batch at all
    let one_image = x.narrow(0, 0, 1).batch_norm_eval(&gamma, &beta, &[1.0, 2.0], &[4.0, 9.0], 0.0);
    let expected: Vec<f64> = x
        .narrow(0, 0, 1)
        .to_vec()
        .iter()
        .enumerate()
        .map(|(i, v)| if i < 9 { (v - 1.0) / 2.0 } else { (v - 2.0) / 3.0 })
        .collect();
    assert!(close(one_image.data(), &expected, 1e-12));
}

/// The one-pass batch statistics keep σ² exact when the mean is far larger
/// than the spread: values 10⁹ + {−1, 0, 1, 2} have μ = 10⁹ + 0.5 and
/// σ² = 1.25, where E[x²] − μ² in f64 (x² ≈ 10¹⁸, spacing 128) is garbage.
#[test]
fn batch_norm_variance_survives_a_large_mean() {
    let data: Vec<f64> = [-1.0, 0.0, 1.0, 2.0].iter().cycle().take(2 * 2 * 16).map(|d| 1e9 + d).collect();
    let x = Tensor::<f64>::from_vec(data, &[2, 2, 4, 4]);
    let (y, stats) = x.batch_norm_train(&Tensor::ones(&[2]), &Tensor::zeros(&[2]), 0.0);
    for c in 0..2 {
        assert_eq!((stats.mean[c], stats.var[c]), (1e9 + 0.5, 1.25), "channel {c}");
    }
    let expected: Vec<f64> = [-1.5, -0.5, 0.5, 1.5].iter().map(|d| d / 1.25f64.sqrt()).collect();
    assert!(close(y.data(), &expected.repeat(16), 1e-9));
}

#[test]
fn gradients_of_inner_tensors_and_reuse() {
    let x = Tensor::<f64>::from_vec(vec![1.0, -2.0, 3.0], &[3]).with_grad();
    let hidden = x.mul(&x); // x used twice: ∂/∂x (x·x) = 2x
    let loss = hidden.mul_scalar(3.0).sum();
    let grads = loss.backward();
    assert_eq!(grads.wrt(&x).data(), &[6.0, -12.0, 18.0]);
    assert_eq!(grads.wrt(&hidden).data(), &[3.0, 3.0, 3.0]); // an inner activation
}

/// Where gradients meet, the sum goes into a buffer only when nothing else
/// holds it: the seed, an inner tensor's gradient passed through by `add`
/// and the gradients the caller reads keep their values. (Large enough for
/// the parallel in-place addition.)
#[test]
fn gradient_sums_never_write_into_shared_buffers() {
    let n = 70_000;
    let x = Tensor::<f32>::ones(&[n]).with_grad();
    let seed = Tensor::<f32>::full(&[n], 0.5);
    // add passes the seed itself to both of its inputs: x's two gradients share one buffer
    let grads = x.add(&x).backward_with(&seed);
    assert!(grads.wrt(&x).data().iter().all(|&g| g == 1.0));
    assert!(seed.data().iter().all(|&s| s == 0.5));
    // x gets ∂L/∂inner (held by the store too) and two fresh gradients, 2 and 3
    let inner = x.mul_scalar(2.0).add(&x.mul_scalar(3.0));
    let grads = inner.add(&x).sum().backward();
    assert!(grads.wrt(&x).data().iter().all(|&g| g == 6.0));
    assert!(grads.wrt(&inner).data().iter().all(|&g| g == 1.0));
}

#[test]
fn detach_and_no_grad_stop_gradients() {
    let x = Tensor::<f64>::from_vec(vec![2.0], &[1]).with_grad();
    let grads = x.mul(&x.detach()).sum().backward();
    assert_eq!(grads.wrt(&x).data(), &[2.0]); // only one path carries a gradient
    let y = no_grad(|| x.mul(&x));
    assert!(!y.requires_grad());
    assert_eq!(y.op_name(), "constant");
    assert!(y.sum().backward().is_empty());
}

#[test]
fn argmax_sum_max_values() {
    let x = Tensor::<f32>::from_vec(vec![1.0, 5.0, 2.0, 7.0, 0.0, 3.0], &[2, 3]);
    assert_eq!(x.argmax(1), vec![1, 0]);
    assert_eq!(x.argmax(0), vec![1, 0, 1]);
    assert_eq!(x.sum_axes(&[0], false).data(), &[8.0, 5.0, 5.0]);
    assert_eq!(x.max_axes(&[1], true).data(), &[5.0, 7.0]);
    assert_eq!(x.max_axes(&[1], true).shape(), &[2, 1]);
    assert_eq!(x.transpose(0, 1).data(), &[1.0, 7.0, 5.0, 0.0, 2.0, 3.0]);
}

/// Small maps put several images side by side in one gemm (3×3 outputs: 29
/// images per gemm, so 37 images make a full and a partial gemm): the batch's
/// forward pass equals the definition and, bit for bit, each image's own
/// forward pass; the backward pass meets the adjoint identities
/// ⟨conv(x), g⟩ = ⟨x, ∂x⟩ = ⟨w, ∂w⟩.
#[test]
fn conv2d_side_by_side_images_match_image_by_image() {
    let cfg = Conv2dConfig::default().stride(2).padding(1).groups(2);
    let x = tensor(&[37, 4, 6, 6], 11, 1.0);
    let w = tensor(&[6, 2, 3, 3], 12, 1.0);
    let y = x.conv2d(&w, None, cfg);
    assert_eq!(y.shape(), &[37, 6, 3, 3]);
    assert!(close(y.data(), &conv_by_definition(&x, &w, cfg), 1e-12));
    let (x32, w32) = (x.cast::<f32>(), w.cast::<f32>());
    let batch = x32.conv2d(&w32, None, cfg);
    for n in 0..37 {
        let image = Tensor::from_vec(x32.data()[n * 144..(n + 1) * 144].to_vec(), &[1, 4, 6, 6]);
        assert_eq!(image.conv2d(&w32, None, cfg).data(), &batch.data()[n * 54..(n + 1) * 54], "image {n}");
    }
    let (xg, wg) = (x.clone().with_grad(), w.clone().with_grad());
    let seed = tensor(&[37, 6, 3, 3], 13, 1.0);
    let y = xg.conv2d(&wg, None, cfg);
    let grads = y.backward_with(&seed);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let lhs = dot(y.data(), seed.data());
    assert!((lhs - dot(x.data(), grads.wrt(&xg).data())).abs() < 1e-9 * lhs.abs().max(1.0));
    assert!((lhs - dot(w.data(), grads.wrt(&wg).data())).abs() < 1e-9 * lhs.abs().max(1.0));
}

#[test]
fn conv_backward_is_bit_identical_on_one_and_two_threads() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            let x = tensor(&[19, 3, 9, 9], 1, 1.0).cast::<f32>().with_grad();
            let w = tensor(&[8, 3, 3, 3], 2, 1.0).cast::<f32>().with_grad();
            let y = x.conv2d(&w, None, Conv2dConfig::default().padding(1));
            let grads = y.relu().sum().backward();
            (grads.wrt(&w).to_vec(), grads.wrt(&x).to_vec())
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
#[should_panic(expected = "conv2d: input [1, 3, 8, 8] and weight [4, 2, 3, 3] do not match with groups=1")]
fn shape_errors_name_the_op_and_shapes() {
    Tensor::<f32>::zeros(&[1, 3, 8, 8]).conv2d(&Tensor::zeros(&[4, 2, 3, 3]), None, Conv2dConfig::default());
}

#[test]
#[should_panic(
    expected = "batch_norm+add+relu: the residual [2, 3, 4, 4] must have the shape of the input [2, 3, 5, 5]"
)]
fn residual_shape_errors_name_the_op_and_shapes() {
    let (gamma, beta) = (Tensor::<f32>::ones(&[3]), Tensor::<f32>::zeros(&[3]));
    Tensor::<f32>::zeros(&[2, 3, 5, 5]).batch_norm_add_relu_train(&gamma, &beta, &Tensor::zeros(&[2, 3, 4, 4]), 1e-5);
}

/// broadcast_to repeats each value over the new axes, on the trailing-axes
/// fast path ([N, C, 1, 1] → [N, C, H, W], as global average pooling's
/// backward uses it) and on the general path.
#[test]
fn broadcast_to_repeats_values_over_new_axes() {
    let x = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3, 1, 1]);
    let y = x.broadcast_to(&[2, 3, 2, 2]);
    let expected: Vec<f64> = (1..=6).flat_map(|v| [v as f64; 4]).collect();
    assert_eq!(y.data(), &expected[..]);
    let row = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[1, 3]);
    assert_eq!(row.broadcast_to(&[2, 3]).data(), &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    let column = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2, 1, 1]);
    assert_eq!(column.broadcast_to(&[2, 2, 2]).data(), &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0]);
    let middle = Tensor::<f64>::from_vec(vec![1.0, 2.0], &[2, 1, 1]).broadcast_to(&[2, 3, 1]);
    assert_eq!(middle.data(), &[1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
}
