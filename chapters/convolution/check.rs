//! Checks of the lab "Convolution and pooling": output sizes against the closed form, W·im2col(x) against cnnlab's conv2d, col2im as the adjoint of im2col and as the input gradient, at random geometries.

#[path = "../check_support.rs"]
mod support;

use cnnlab::ops::conv::conv_output_size;
use cnnlab::{Conv2dConfig, Tensor};
use cnnlab_labs::convolution::{col2im, im2col, output_size};
use proptest::prelude::*;
use support::assert_close;

/// One convolution's sizes: batch, image `[c, h, w]`, kernel, output channels, config.
#[derive(Clone, Debug)]
struct Case {
    n: usize,
    chw: (usize, usize, usize),
    kernel: (usize, usize),
    c_out: usize,
    cfg: Conv2dConfig,
}

impl Case {
    /// (out_h, out_w), or `None` when the dilated kernel does not fit on an axis.
    fn output_size(&self) -> Option<(usize, usize)> {
        let ((_, h, w), (kh, kw), c) = (self.chw, self.kernel, &self.cfg);
        let out_h = conv_output_size(h, kh, c.stride.0, c.padding.0, c.dilation.0)?;
        let out_w = conv_output_size(w, kw, c.stride.1, c.padding.1, c.dilation.1)?;
        Some((out_h, out_w))
    }

    /// Lengths of one image, its column matrix (rows × columns) and the weights.
    fn sizes(&self) -> (usize, usize, usize, usize) {
        let (c, h, w) = self.chw;
        let (out_h, out_w) = self.output_size().expect("the strategy keeps only fitting kernels");
        (c * h * w, c * self.kernel.0 * self.kernel.1, out_h * out_w, self.c_out * c * self.kernel.0 * self.kernel.1)
    }
}

/// Random geometries where the dilated kernel fits: strides 1–3, padding 0–2, dilation 1–2, per axis.
fn case() -> impl Strategy<Value = Case> {
    let pair = |r: std::ops::RangeInclusive<usize>| (r.clone(), r);
    (1..=2usize, 1..=3usize, pair(1..=8), pair(1..=4), 1..=4usize, pair(1..=3), pair(0..=2), pair(1..=2))
        .prop_map(|(n, c, (h, w), kernel, c_out, stride, padding, dilation)| Case {
            n,
            chw: (c, h, w),
            kernel,
            c_out,
            cfg: Conv2dConfig { stride, padding, dilation, groups: 1 },
        })
        .prop_filter("the kernel must fit", |k| k.output_size().is_some())
}

/// A case with random input, weights and output gradient.
fn case_with_data() -> impl Strategy<Value = (Case, Vec<f32>, Vec<f32>, Vec<f32>)> {
    case().prop_flat_map(|k| {
        let (image, _, columns, weights) = k.sizes();
        let v = |len| proptest::collection::vec(-1f32..1.0, len);
        (Just(k.clone()), v(k.n * image), v(weights), v(k.n * k.c_out * columns))
    })
}

/// a (m×k) · b (k×n), row-major, summed in f64.
fn matmul(a: &[f32], b: &[f32], (m, k, n): (usize, usize, usize)) -> Vec<f32> {
    let mut out = vec![0f32; m * n];
    for i in 0..m {
        for j in 0..n {
            out[i * n + j] = (0..k).map(|t| a[i * k + t] as f64 * b[t * n + j] as f64).sum::<f64>() as f32;
        }
    }
    out
}

/// The transpose of a row-major m×n matrix.
fn transpose(a: &[f32], (m, n): (usize, usize)) -> Vec<f32> {
    (0..n * m).map(|k| a[(k % m) * n + k / m]).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

fn im2col_checked(k: &Case, image: &[f32]) -> Vec<f32> {
    let (_, rows, columns, _) = k.sizes();
    let cols = im2col(image, k.chw, k.kernel, &k.cfg);
    assert_eq!(cols.len(), rows * columns, "im2col of {k:?}: expected {rows} rows × {columns} columns");
    cols
}

proptest! {
    #![proptest_config(support::config(96))]

    #[test]
    fn convolution_is_weights_times_im2col(data in case_with_data()) {
        let (k, x, weight, _) = data;
        let (image, rows, columns, _) = k.sizes();
        let (c, h, w) = k.chw;
        let expected = Tensor::from_vec(x.clone(), &[k.n, c, h, w])
            .conv2d(&Tensor::from_vec(weight.clone(), &[k.c_out, c, k.kernel.0, k.kernel.1]), None, k.cfg);
        let ours: Vec<f32> = x
            .chunks(image)
            .flat_map(|one| matmul(&weight, &im2col_checked(&k, one), (k.c_out, rows, columns)))
            .collect();
        assert_close(&format!("W·im2col(x) against conv2d for {k:?}"), &ours, expected.data(), 1e-4);
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col(data in case_with_data()) {
        // ⟨im2col(x), C⟩ = ⟨x, col2im(C)⟩ for every x and C
        let (k, x, _, dy) = data;
        let (image, rows, columns, _) = k.sizes();
        let x = &x[..image];
        let cols: Vec<f32> = dy.iter().cycle().take(rows * columns).copied().collect();
        let back = col2im(&cols, k.chw, k.kernel, &k.cfg);
        prop_assert_eq!(back.len(), image, "col2im must return a [c, h, w] image");
        let (lhs, rhs) = (dot(&im2col_checked(&k, x), &cols), dot(x, &back));
        prop_assert!((lhs - rhs).abs() <= 1e-4 * (1.0 + lhs.abs()), "⟨im2col(x), C⟩ = {} but ⟨x, col2im(C)⟩ = {} for {:?}", lhs, rhs, k);
    }

    #[test]
    fn col2im_of_weights_times_output_gradient_is_the_input_gradient(data in case_with_data()) {
        let (k, x, weight, dy) = data;
        let (c, h, w) = k.chw;
        let (_, rows, columns, _) = k.sizes();
        let input = Tensor::from_vec(x, &[k.n, c, h, w]).with_grad();
        let y = input.conv2d(&Tensor::from_vec(weight.clone(), &[k.c_out, c, k.kernel.0, k.kernel.1]), None, k.cfg);
        let expected = y.backward_with(&Tensor::from_vec(dy.clone(), y.shape())).wrt(&input).to_vec();
        let w_t = transpose(&weight, (k.c_out, rows));
        let ours: Vec<f32> = dy
            .chunks(k.c_out * columns)
            .flat_map(|dy_one| col2im(&matmul(&w_t, dy_one, (rows, k.c_out, columns)), k.chw, k.kernel, &k.cfg))
            .collect();
        assert_close(&format!("col2im(Wᵀ·∂L/∂Y) against conv2d's ∂L/∂x for {k:?}"), &ours, &expected, 1e-4);
    }
}

#[test]
fn output_size_is_the_closed_form() {
    for input in 1..=12 {
        for kernel in 1..=5 {
            for (stride, padding, dilation) in
                (1..=3).flat_map(|s| (0..=3).flat_map(move |p| (1..=3).map(move |d| (s, p, d))))
            {
                assert_eq!(
                    output_size(input, kernel, stride, padding, dilation),
                    conv_output_size(input, kernel, stride, padding, dilation),
                    "output_size(input {input}, kernel {kernel}, stride {stride}, padding {padding}, dilation {dilation})"
                );
            }
        }
    }
}

#[test]
fn a_small_example_by_hand() {
    // the 3×3 image 1…9 and a 2×2 kernel: four columns, one per output pixel
    let image: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let cols = im2col(&image, (1, 3, 3), (2, 2), &Conv2dConfig::default());
    #[rustfmt::skip]
    let expected = [
        1.0, 2.0, 4.0, 5.0, // tap (0, 0) at outputs (0,0) (0,1) (1,0) (1,1)
        2.0, 3.0, 5.0, 6.0, // tap (0, 1)
        4.0, 5.0, 7.0, 8.0, // tap (1, 0)
        5.0, 6.0, 8.0, 9.0, // tap (1, 1)
    ];
    assert_close("im2col of 1…9 with a 2×2 kernel", &cols, &expected, 0.0);
    // padding 1, stride 2: outputs (0,0) (0,1) (1,0) (1,1) sit at input (−1,−1) (−1,1) (1,−1) (1,1)
    let cfg = Conv2dConfig::default().padding(1).stride(2);
    let cols = im2col(&image, (1, 3, 3), (2, 2), &cfg);
    #[rustfmt::skip]
    let expected = [
        0.0, 0.0, 0.0, 5.0,
        0.0, 0.0, 4.0, 6.0,
        0.0, 2.0, 0.0, 8.0,
        1.0, 3.0, 7.0, 9.0,
    ];
    assert_close("im2col of 1…9 with a 2×2 kernel, padding 1, stride 2", &cols, &expected, 0.0);
    // every pixel read by k taps comes back k times
    let counts = col2im(&[1.0; 16], (1, 3, 3), (2, 2), &Conv2dConfig::default());
    assert_close("col2im of ones (how many taps read each pixel)", &counts, &[1., 2., 1., 2., 4., 2., 1., 2., 1.], 0.0);
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's convolution
    support::assert_own_work("convolution", lab_source!("convolution"), &["conv2d", "conv_output_size", "ops::conv"]);
}
