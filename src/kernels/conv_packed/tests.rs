//! The packed kernels against scalar loops: bit for bit against the same sums in the same order, within rounding against the definition in f64.

use super::*;

/// The kernel sets with vectors this CPU can run (AVX2 and, where present, AVX-512).
fn sets() -> Vec<KernelSet> {
    let mut sets = vec![];
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            sets.push(KernelSet::Avx2);
        }
        if is_x86_feature_detected!("avx512f") {
            sets.push(KernelSet::Avx512);
        } else {
            eprintln!("AVX-512 kernels not tested: this CPU has no AVX-512F");
        }
    }
    sets
}

/// `lanes` writes the vector widths out; they must be the kernel sets' own.
#[test]
#[cfg(target_arch = "x86_64")]
fn lanes_are_the_kernel_sets_widths() {
    assert_eq!(lanes(KernelSet::Avx512), Avx512::LANES);
    assert_eq!(lanes(KernelSet::Avx2), Avx2::LANES);
}

/// Geometries that exercise every path: channel counts below, at and past
/// the vector widths and block sizes, stride, padding, dilation, maps
/// smaller and larger than a pixel group, 1×1 kernels.
fn geometries() -> Vec<Geometry> {
    // [n, c_in, h, w, c_out, k, stride, padding, dilation]
    let cases: [[usize; 9]; 13] = [
        [2, 3, 8, 8, 5, 3, 1, 1, 1],
        [1, 16, 7, 7, 16, 3, 1, 1, 1],
        [2, 24, 9, 11, 40, 3, 1, 1, 1],
        [1, 8, 16, 16, 33, 3, 2, 1, 1],
        [1, 17, 5, 6, 7, 2, 1, 0, 1],
        [1, 5, 12, 12, 9, 3, 1, 2, 2],
        [2, 32, 4, 4, 64, 3, 1, 1, 1],
        [1, 9, 10, 10, 12, 1, 1, 0, 1],
        [1, 4, 13, 7, 17, 5, 2, 2, 1],
        [1, 64, 3, 3, 8, 3, 1, 1, 1],
        [1, 3, 32, 32, 24, 2, 1, 0, 1],
        [1, 20, 6, 6, 50, 3, 1, 0, 2],
        [1, 16, 6, 6, 24, 1, 1, 0, 1],
    ];
    let geometry = |&[n, c, h, w, o, k, s, p, d]: &[usize; 9]| {
        Geometry::new(&[n, c, h, w], &[o, c, k, k], Conv2dConfig::default().stride(s).padding(p).dilation(d))
    };
    cases.iter().map(geometry).collect()
}

/// Values with full mantissas, so that any change of order shows in the bits.
fn values(len: usize, seed: f32) -> Vec<f32> {
    (0..len).map(|i| ((i as f32 * 0.618 + seed).sin() * 1.7) - 0.2).collect()
}

/// x[n, c, r, q] with r, q relative to the padded image (zero outside).
fn padded(x: &[f32], g: &Geometry, n: usize, c: usize, r: usize, q: usize) -> f32 {
    let (r, q) = (r as isize - g.cfg.padding.0 as isize, q as isize - g.cfg.padding.1 as isize);
    if r < 0 || q < 0 || r >= g.h as isize || q >= g.w as isize {
        return 0.0;
    }
    x[((n * g.c_in + c) * g.h + r as usize) * g.w + q as usize]
}

/// The forward pass as the kernels sum it: for each output, fused
/// multiply-adds over the taps in (i, j, c) order, starting from 0.
fn forward_in_kernel_order(x: &[f32], w: &[f32], g: &Geometry) -> Vec<f32> {
    let ((s, _), (d, _)) = (g.cfg.stride, g.cfg.dilation);
    let mut y = vec![0.0; g.n * g.out_image()];
    for n in 0..g.n {
        for o in 0..g.c_out {
            for (oy, ox) in (0..g.oh).flat_map(|oy| (0..g.ow).map(move |ox| (oy, ox))) {
                let mut acc = 0.0f32;
                for (i, j, c) in
                    (0..g.kh).flat_map(|i| (0..g.kw).flat_map(move |j| (0..g.c_in).map(move |c| (i, j, c))))
                {
                    let v = padded(x, g, n, c, oy * s + i * d, ox * s + j * d);
                    acc = v.mul_add(w[((o * g.c_in + c) * g.kh + i) * g.kw + j], acc);
                }
                y[((n * g.c_out + o) * g.oh + oy) * g.ow + ox] = acc;
            }
        }
    }
    y
}

/// ∂L/∂W as the kernels sum it: per image, fused multiply-adds over the
/// output pixels in row order from 0, then added to the images before.
fn weight_grad_in_kernel_order(x: &[f32], dy: &[f32], g: &Geometry) -> Vec<f32> {
    let ((s, _), (d, _)) = (g.cfg.stride, g.cfg.dilation);
    let mut dw = vec![0.0f32; g.c_out * g.col_rows()];
    for n in 0..g.n {
        for (o, c, i, j) in (0..g.c_out).flat_map(|o| {
            (0..g.c_in).flat_map(move |c| (0..g.kh).flat_map(move |i| (0..g.kw).map(move |j| (o, c, i, j))))
        }) {
            let mut acc = 0.0f32;
            for (oy, ox) in (0..g.oh).flat_map(|oy| (0..g.ow).map(move |ox| (oy, ox))) {
                let v = padded(x, g, n, c, oy * s + i * d, ox * s + j * d);
                acc = dy[((n * g.c_out + o) * g.oh + oy) * g.ow + ox].mul_add(v, acc);
            }
            dw[((o * g.c_in + c) * g.kh + i) * g.kw + j] += acc;
        }
    }
    dw
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn packed_forward_is_bit_for_bit_the_sum_in_kernel_order_on_every_kernel_set() {
    for set in sets() {
        for g in geometries() {
            let (x, w) = (values(g.n * g.in_image(), 0.3), values(g.c_out * g.col_rows(), 1.9));
            let packed = pack(&w, &g, set);
            let mut image = ChannelsLast::new(&g);
            let mut y = vec![f32::NAN; g.n * g.out_image()];
            for (n, y_n) in y.chunks_exact_mut(g.out_image()).enumerate() {
                forward_image(&x[n * g.in_image()..(n + 1) * g.in_image()], &packed, &g, &mut image, as_slots(y_n));
            }
            assert_eq!(bits(&y), bits(&forward_in_kernel_order(&x, &w, &g)), "{set:?} {g:?}");
        }
    }
}

#[test]
fn packed_weight_gradient_is_bit_for_bit_the_sum_in_kernel_order_on_every_kernel_set() {
    for set in sets() {
        for g in geometries() {
            let (x, dy) = (values(g.n * g.in_image(), 0.7), values(g.n * g.out_image(), 2.3));
            let mut sum = WeightGrad::new(&g, set);
            for n in 0..g.n {
                let (in_img, out_img) = (g.in_image(), g.out_image());
                sum.add_image(&x[n * in_img..(n + 1) * in_img], &dy[n * out_img..(n + 1) * out_img], &g);
            }
            assert_eq!(
                bits(&in_weight_order(&sum.sum, &g)),
                bits(&weight_grad_in_kernel_order(&x, &dy, &g)),
                "{set:?} {g:?}"
            );
        }
    }
}

/// ∂L/∂x by its definition in f64: every output's gradient sent back to the
/// inputs its taps read.
fn input_grad_by_definition(dy: &[f32], w: &[f32], g: &Geometry) -> Vec<f64> {
    let ((sy, sx), (dil_y, dil_x), (pad_y, pad_x)) = (g.cfg.stride, g.cfg.dilation, g.cfg.padding);
    let mut dx = vec![0.0f64; g.n * g.in_image()];
    for (n, o, oy, ox) in (0..g.n).flat_map(|n| {
        (0..g.c_out).flat_map(move |o| (0..g.oh).flat_map(move |oy| (0..g.ow).map(move |ox| (n, o, oy, ox))))
    }) {
        let d_out = dy[((n * g.c_out + o) * g.oh + oy) * g.ow + ox] as f64;
        for (c, i, j) in (0..g.c_in).flat_map(|c| (0..g.kh).flat_map(move |i| (0..g.kw).map(move |j| (c, i, j)))) {
            let (r, q) =
                ((oy * sy + i * dil_y) as isize - pad_y as isize, (ox * sx + j * dil_x) as isize - pad_x as isize);
            if r >= 0 && q >= 0 && (r as usize) < g.h && (q as usize) < g.w {
                let weight = w[((o * g.c_in + c) * g.kh + i) * g.kw + j] as f64;
                dx[((n * g.c_in + c) * g.h + r as usize) * g.w + q as usize] += d_out * weight;
            }
        }
    }
    dx
}

#[test]
fn packed_input_gradient_matches_its_definition_at_stride_one() {
    if super::super::kernel_set() == KernelSet::Portable {
        eprintln!("skipped: no packed kernels on this CPU");
        return;
    }
    for g in geometries().into_iter().filter(|g| g.cfg.stride == (1, 1)) {
        let (dy, w) = (values(g.n * g.out_image(), 0.1), values(g.c_out * g.col_rows(), 0.5));
        let dx = input_grad(&dy, &w, &g).expect("stride 1, padding ≤ d·(k − 1): packed");
        let reference = input_grad_by_definition(&dy, &w, &g);
        let terms = (g.c_out * g.kh * g.kw) as f64;
        for (i, (&got, &want)) in dx.iter().zip(&reference).enumerate() {
            // a sum of `terms` products of values below 2 in f32: a few ulps per term at most
            assert!((got as f64 - want).abs() <= 4.0 * terms * f32::EPSILON as f64, "{g:?} at {i}: {got} vs {want}");
        }
    }
}

/// At strides above 1 the phases' convolutions add up to the definition, on
/// every kernel set and with the same bits on each: odd sizes, kernels
/// larger and smaller than the stride, padding 0 to 2, a 1 × 1 kernel
/// (whose odd phases get no tap), unequal strides.
#[test]
fn strided_input_gradient_by_phases_matches_its_definition() {
    // [n, c_in, h, w, c_out, kh, kw, stride_y, stride_x, padding]
    let cases: [[usize; 10]; 7] = [
        [2, 16, 8, 8, 32, 3, 3, 2, 2, 1],
        [1, 8, 16, 16, 33, 3, 3, 2, 2, 1],
        [1, 4, 13, 7, 17, 5, 5, 2, 2, 2],
        [1, 9, 9, 10, 20, 1, 1, 2, 2, 0],
        [1, 5, 11, 11, 6, 2, 2, 2, 2, 0],
        [1, 3, 14, 13, 24, 3, 3, 3, 3, 1],
        [1, 7, 9, 12, 10, 3, 2, 2, 3, 1],
    ];
    for [n, c, h, w, o, kh, kw, sy, sx, p] in cases {
        let cfg = Conv2dConfig { stride: (sy, sx), padding: (p, p), dilation: (1, 1), groups: 1 };
        let g = Geometry::new(&[n, c, h, w], &[o, c, kh, kw], cfg);
        let (dy, weight) = (values(g.n * g.out_image(), 0.1), values(g.c_out * g.col_rows(), 0.5));
        let reference = input_grad_by_definition(&dy, &weight, &g);
        let terms = (g.c_out * g.kh * g.kw) as f64;
        let mut by_set = sets().into_iter().map(|set| super::phases::input_grad(&dy, &weight, &g, set));
        let Some(first) = by_set.next() else {
            eprintln!("skipped: no packed kernels on this CPU");
            return;
        };
        for (i, (&got, &want)) in first.iter().zip(&reference).enumerate() {
            assert!((got as f64 - want).abs() <= 4.0 * terms * f32::EPSILON as f64, "{g:?} at {i}: {got} vs {want}");
        }
        by_set.for_each(|other| assert_eq!(bits(&other), bits(&first), "{g:?}"));
    }
}

/// The channels-last copy holds x[c, r − p, q − p] inside and zeros in the border.
#[test]
fn channels_last_copy_is_the_padded_image() {
    for set in sets() {
        for (c_in, h, w, pad) in
            [(1, 1, 1, 0), (3, 4, 5, 1), (5, 3, 2, 3), (16, 8, 8, 2), (35, 5, 7, 1), (32, 32, 32, 0)]
        {
            let g = Geometry::new(&[1, c_in, h, w], &[1, c_in, 1, 1], Conv2dConfig::default().padding(pad));
            let x: Vec<f32> = (0..c_in * h * w).map(|i| i as f32 + 1.0).collect();
            let mut image = ChannelsLast::new(&g);
            fill(&mut image, &x, &g, set);
            fill(&mut image, &x, &g, set); // filling twice changes nothing
            let (hp, wp) = (h + 2 * pad, w + 2 * pad);
            assert_eq!(image.data.len(), hp * wp * c_in);
            for r in 0..hp {
                for q in 0..wp {
                    for c in 0..c_in {
                        let inside = (pad..pad + h).contains(&r) && (pad..pad + w).contains(&q);
                        let expected = if inside { x[(c * h + r - pad) * w + q - pad] } else { 0.0 };
                        assert_eq!(image.data[(r * wp + q) * c_in + c], expected, "{set:?} {g:?} at {r},{q},{c}");
                    }
                }
            }
        }
    }
}

/// [`ChannelsLast::fill`] in kernel set `set`.
fn fill(image: &mut ChannelsLast, x: &[f32], g: &Geometry, set: KernelSet) {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn fill_avx2(image: &mut ChannelsLast, x: &[f32], g: &Geometry) {
        unsafe { image.fill::<Avx2>(x, g) }
    }
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn fill_avx512(image: &mut ChannelsLast, x: &[f32], g: &Geometry) {
        unsafe { image.fill::<Avx512>(x, g) }
    }
    // SAFETY: `sets()` lists only kernel sets this CPU has.
    match set {
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx2 => unsafe { fill_avx2(image, x, g) },
        #[cfg(target_arch = "x86_64")]
        KernelSet::Avx512 => unsafe { fill_avx512(image, x, g) },
        _ => unreachable!(),
    }
}

/// On AVX2 the weight gradient takes 4-row tiles where panels of 6 rows
/// would waste more (16 and 32 channels), 6 elsewhere; the geometries
/// above cover both heights, each with a partly empty last panel.
#[test]
fn weight_grad_tile_heights() {
    assert_eq!([3, 16, 32, 64, 128].map(|c| rows_per_tile(KernelSet::Avx2, c)), [4, 4, 4, 6, 6]);
    assert_eq!(rows_per_tile(KernelSet::Avx512, 16), 8);
    let rows: Vec<(usize, usize)> =
        geometries().iter().map(|g| (g.c_out, rows_per_tile(KernelSet::Avx2, g.c_out))).collect();
    assert!(rows.iter().any(|&(c, r)| r == 4 && c % 4 != 0), "{rows:?}");
    assert!(rows.iter().any(|&(c, r)| r == 6 && c % 6 != 0), "{rows:?}");
}
