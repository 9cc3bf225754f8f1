//! Property-based gradient checks of the element-wise, reduction, layout and matrix ops.

mod common;
use cnnlab::Tensor;
use common::{check, positive, shape, tensor};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig { cases: 24, ..ProptestConfig::default() }
}

/// Two shapes that broadcast: `b` is `a` with some axes set to 1 and maybe leading axes dropped.
fn broadcast_pair() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    (shape(3, 4), proptest::collection::vec(any::<bool>(), 3), 0..3usize).prop_map(|(a, ones, drop)| {
        let b: Vec<usize> = a.iter().zip(&ones).map(|(&d, &one)| if one { 1 } else { d }).collect();
        (a, b[drop..].to_vec())
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn gradcheck_add((sa, sb) in broadcast_pair(), seed in any::<u64>(), swap in any::<bool>()) {
        let (a, b) = (tensor(&sa, seed, 2.0), tensor(&sb, seed ^ 1, 2.0));
        let inputs = if swap { [b, a] } else { [a, b] };
        check(|x| x[0].add(&x[1]), &inputs, seed);
    }

    #[test]
    fn gradcheck_sub((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        check(|x| x[0].sub(&x[1]), &[tensor(&sb, seed, 2.0), tensor(&sa, seed ^ 1, 2.0)], seed);
    }

    #[test]
    fn gradcheck_mul((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        check(|x| x[0].mul(&x[1]), &[tensor(&sa, seed, 2.0), tensor(&sb, seed ^ 1, 2.0)], seed);
    }

    #[test]
    fn gradcheck_div((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        check(|x| x[0].div(&x[1]), &[tensor(&sa, seed, 2.0), positive(&sb, seed ^ 1, 2.0)], seed);
    }

    #[test]
    fn gradcheck_neg(s in shape(3, 4), seed in any::<u64>()) {
        check(|x| x[0].neg(), &[tensor(&s, seed, 3.0)], seed);
    }

    #[test]
    fn gradcheck_exp(s in shape(3, 4), seed in any::<u64>()) {
        check(|x| x[0].exp(), &[tensor(&s, seed, 3.0)], seed);
    }

    #[test]
    fn gradcheck_tanh(s in shape(3, 4), seed in any::<u64>()) {
        check(|x| x[0].tanh(), &[tensor(&s, seed, 3.0)], seed);
    }

    #[test]
    fn gradcheck_sigmoid(s in shape(3, 4), seed in any::<u64>()) {
        check(|x| x[0].sigmoid(), &[tensor(&s, seed, 3.0)], seed);
    }

    #[test]
    fn gradcheck_log(s in shape(3, 4), seed in any::<u64>()) {
        check(|x| x[0].log(), &[positive(&s, seed, 3.0)], seed);
    }

    #[test]
    fn gradcheck_sqrt(s in shape(3, 4), seed in any::<u64>()) {
        check(|x| x[0].sqrt(), &[positive(&s, seed, 3.0)], seed);
    }

    #[test]
    fn gradcheck_relu(s in shape(3, 4), seed in any::<u64>()) {
        check(|x| x[0].relu(), &[tensor(&s, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_abs(s in shape(3, 4), seed in any::<u64>()) {
        check(|x| x[0].abs(), &[tensor(&s, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_pow(s in shape(2, 5), seed in any::<u64>(), p in -2.5f64..3.5) {
        check(|x| x[0].pow(p), &[positive(&s, seed, 3.0)], seed);
    }

    #[test]
    fn gradcheck_gelu(s in shape(3, 4), seed in any::<u64>()) {
        check(|x| x[0].gelu(), &[tensor(&s, seed, 4.0)], seed);
    }

    #[test]
    fn gradcheck_leaky_relu(s in shape(3, 4), seed in any::<u64>(), alpha in 0.01f64..0.5) {
        check(|x| x[0].leaky_relu(alpha), &[tensor(&s, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_scalar_ops(s in shape(2, 4), seed in any::<u64>(), c in -3.0f64..3.0) {
        check(|x| x[0].add_scalar(c).mul_scalar(c), &[tensor(&s, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_sum(s in shape(3, 4), axes in proptest::sample::subsequence(vec![0isize, 1, -1], 0..=3), keep in any::<bool>(), seed in any::<u64>()) {
        let x = tensor(&s, seed, 2.0);
        check(|x| x[0].sum_axes(&axes, keep), std::slice::from_ref(&x), seed);
        check(|x| x[0].sum(), std::slice::from_ref(&x), seed);
    }

    #[test]
    fn gradcheck_mean(s in shape(3, 4), axes in proptest::sample::subsequence(vec![0isize, 1, -1], 0..=3), keep in any::<bool>(), seed in any::<u64>()) {
        let x = tensor(&s, seed, 2.0);
        check(|x| x[0].mean_axes(&axes, keep), std::slice::from_ref(&x), seed);
        check(|x| x[0].mean(), std::slice::from_ref(&x), seed);
    }

    #[test]
    fn gradcheck_max(s in shape(3, 4), axes in proptest::sample::subsequence(vec![0isize, 1, 2], 1..=3), keep in any::<bool>(), seed in any::<u64>()) {
        check(|x| x[0].max_axes(&axes, keep), &[tensor(&s, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_reshape(s in shape(3, 4), seed in any::<u64>()) {
        let flat = vec![s.iter().product::<usize>()];
        check(|x| x[0].reshape(&flat).reshape(&[1, flat[0]]), &[tensor(&s, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_permute(s in shape(4, 3), perm in Just(vec![0usize, 1, 2, 3]).prop_shuffle(), seed in any::<u64>()) {
        check(|x| x[0].permute(&perm), &[tensor(&s, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_transpose(s in shape(3, 4), a in 0usize..3, b in 0usize..3, seed in any::<u64>()) {
        check(|x| x[0].transpose(a, b), &[tensor(&s, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_broadcast_to((sa, sb) in broadcast_pair(), seed in any::<u64>()) {
        check(|x| x[0].broadcast_to(&sa), &[tensor(&sb, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_narrow(s in shape(3, 4), axis in 0isize..3, seed in any::<u64>(), start_frac in 0.0f64..1.0) {
        let len = s[axis as usize];
        let start = ((len as f64) * start_frac) as usize;
        check(|x| x[0].narrow(axis, start, len - start), &[tensor(&s, seed, 2.0)], seed);
    }

    #[test]
    fn gradcheck_cat(s in shape(3, 4), axis in 0isize..3, seed in any::<u64>(), extra in 1usize..3) {
        let mut s2 = s.clone();
        s2[axis as usize] = extra;
        let inputs = [tensor(&s, seed, 2.0), tensor(&s2, seed ^ 3, 2.0), tensor(&s, seed ^ 4, 2.0)];
        check(|x| Tensor::cat(&[&x[0], &x[1], &x[2]], axis), &inputs, seed);
    }

    #[test]
    fn gradcheck_matmul(m in 1usize..6, k in 1usize..6, n in 1usize..6, seed in any::<u64>()) {
        check(|x| x[0].matmul(&x[1]), &[tensor(&[m, k], seed, 2.0), tensor(&[k, n], seed ^ 5, 2.0)], seed);
    }

    #[test]
    fn gradcheck_softmax(s in shape(3, 4), axis in -3isize..3, seed in any::<u64>()) {
        check(|x| x[0].softmax(axis), &[tensor(&s, seed, 3.0)], seed);
    }

    #[test]
    fn gradcheck_log_softmax(s in shape(3, 4), axis in -3isize..3, seed in any::<u64>()) {
        check(|x| x[0].log_softmax(axis), &[tensor(&s, seed, 3.0)], seed);
    }
}

#[test]
fn erf_and_gelu_match_closed_forms() {
    use cnnlab::Element;
    let erf = |x: f64| Element::erf(x);
    // erf from tables (Abramowitz & Stegun 7.1; mpmath to 16 digits)
    for (x, want) in [
        (0.0, 0.0),
        (0.1, 0.1124629160182849),
        (0.5, 0.5204998778130465),
        (1.0, 0.8427007929497149),
        (2.0, 0.9953222650189527),
        (2.9, 0.9999589021219005),
        (3.0, 0.9999779095030014),
        (3.1, 0.9999883513426328),
        (4.0, 0.9999999845827421),
        (6.0, 1.0),
    ] {
        assert!((erf(x) - want).abs() < 1e-14, "erf({x}) = {}, want {want}", erf(x));
        assert!((erf(-x) + want).abs() < 1e-14, "erf is odd at {x}");
        let fast = Element::erf(x as f32) as f64;
        assert!((fast - want).abs() < 2e-7, "f32 erf({x}) = {fast}, want {want}");
    }
    // GELU(x) = x·Φ(x): Φ(1) = 0.8413447460685429, Φ(−1) = 1 − Φ(1); GELU(0) = 0
    let x = Tensor::<f64>::from_vec(vec![-1.0, 0.0, 1.0, 8.0, -8.0], &[5]);
    let y = x.gelu();
    let want = [-0.15865525393145707, 0.0, 0.8413447460685429, 8.0, 0.0];
    for (got, want) in y.data().iter().zip(want) {
        assert!((got - want).abs() < 1e-14, "gelu: {got} vs {want}");
    }
    // f32: the same to the fast erf's accuracy, and the same derivative formula
    let y32 = x.cast::<f32>().gelu();
    for (got, want) in y32.data().iter().zip(want) {
        assert!((*got as f64 - want).abs() < 1e-6, "f32 gelu: {got} vs {want}");
    }
}

#[test]
fn the_f32_gaussian_matches_exp_to_a_few_units_in_the_last_place() {
    use cnnlab::Element;
    // every 1/4096 from 0 to 10, both signs: e^(−x²) from 1 down past f32's smallest normal;
    // against e^y in f64 with y = −x² rounded to f32 as the function rounds it (that rounding
    // alone moves e^y by up to |y|·6e-8, 5e-6 at y = −87, in any f32 implementation)
    let mut worst: f64 = 0.0;
    for i in 0..=40_960 {
        for x in [i as f32 / 4096.0, -(i as f32) / 4096.0] {
            let (got, want) = (Element::gauss(x) as f64, ((-(x * x)) as f64).exp());
            if want < 1.7e-38 {
                assert!(got == 0.0 || (got - want).abs() < 1e-38, "gauss({x}) = {got}, want {want}");
                continue;
            }
            worst = worst.max(((got - want) / want).abs());
        }
    }
    assert!(worst < 1.5e-7, "largest relative error {worst}");
    assert_eq!(Element::gauss(f32::INFINITY), 0.0);
    assert!(Element::gauss(f32::NAN).is_nan());
    assert_eq!(Element::gauss(0.0f32), 1.0);
}
