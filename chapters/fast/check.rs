//! Checks of the lab "Training fast": the patch covariance and the whitening filters against cnnlab's at random sizes and by what they do (whitened patches have covariance λ/(λ + ε)), and look-ahead's decay and average against cnnlab's and by hand.

#[path = "../check_support.rs"]
mod support;

use cnnlab::models::whitening::{
    patch_covariance as cnnlab_covariance, symmetric_eigen, whitening_filters as cnnlab_filters,
};
use cnnlab::optim::Lookahead;
use cnnlab_labs::fast::{lookahead_alpha, lookahead_average, patch_covariance, whitening_filters};
use proptest::prelude::*;
use support::assert_close;

/// Images `[n, c, h, w]` and a patch size k that fits.
fn images() -> impl Strategy<Value = (Vec<f32>, [usize; 4], usize)> {
    (1..=2usize, 1..=3usize, 2..=6usize, 2..=6usize, 1..=3usize)
        .prop_filter("the patch must fit", |&(_, _, h, w, k)| k <= h && k <= w)
        .prop_flat_map(|(n, c, h, w, k)| {
            (proptest::collection::vec(-1f32..1.0, n * c * h * w), Just([n, c, h, w]), Just(k))
        })
}

proptest! {
    #![proptest_config(support::config(64))]

    #[test]
    fn covariance_matches_cnnlab(data in images()) {
        let (x, shape, k) = data;
        assert_close("Σ", &patch_covariance(&x, shape, k), &cnnlab_covariance(&x, shape, k), 1e-9);
    }

    #[test]
    fn filters_match_cnnlab_and_whiten(data in images()) {
        let (x, shape, k) = data;
        let d = shape[1] * k * k;
        let cov = cnnlab_covariance(&x, shape, k);
        let (values, vectors) = symmetric_eigen(&cov, d);
        let eps = 1e-2;
        let ours = whitening_filters(&values, &vectors, eps);
        assert_close("the 2d filters", &ours, &cnnlab_filters(&cov, d, eps), 1e-5);
        // filter j applied to the patches has variance fⱼᵀ Σ fⱼ = λⱼ/(λⱼ + ε), and
        // filters i ≠ j do not correlate: F Σ Fᵀ = diag(λ/(λ + ε))
        let filter = |r: usize| &ours[r * d..(r + 1) * d];
        for (i, &lambda) in values.iter().enumerate() {
            for j in 0..d {
                let mut v = 0f64;
                for a in 0..d {
                    for b in 0..d {
                        v += f64::from(filter(i)[a]) * cov[a * d + b] * f64::from(filter(j)[b]);
                    }
                }
                let expected = if i == j { lambda.max(0.0) / (lambda.max(0.0) + eps) } else { 0.0 };
                prop_assert!((v - expected).abs() < 1e-4, "F Σ Fᵀ at ({}, {}) is {}, expected {}", i, j, v, expected);
            }
        }
    }

    #[test]
    fn the_average_moves_towards_the_weights(data in (1..=20usize).prop_flat_map(|n| {
        (proptest::collection::vec(-2f32..2.0, n), proptest::collection::vec(-2f32..2.0, n), 0f64..0.8)
    })) {
        let (a0, w0, alpha) = data;
        let (mut a, mut w) = (a0.clone(), w0.clone());
        lookahead_average(&mut a, &mut w, alpha);
        let (al, keep) = (alpha as f32, 1.0 - alpha as f32);
        let expected: Vec<f32> = a0.iter().zip(&w0).map(|(a, w)| al * a + keep * w).collect();
        assert_close("a ← α·a + (1 − α)·w", &a, &expected, 0.0);
        assert_close("w ← a", &w, &expected, 0.0);
    }
}

#[test]
fn cases_by_hand() {
    // one 2×2 image, 2×2 patches: a single patch p = (1, 2, 3, 4), Σ = p pᵀ
    let sigma = patch_covariance(&[1.0, 2.0, 3.0, 4.0], [1, 1, 2, 2], 2);
    let outer: Vec<f64> = (0..16).map(|i| ((i / 4 + 1) * (i % 4 + 1)) as f64).collect();
    assert_close("Σ of one patch", &sigma, &outer, 1e-12);
    // 1×1 patches: Σ is the mean square, (1 + 4 + 9 + 16)/4
    assert_close("Σ of 1×1 patches", &patch_covariance(&[1.0, 2.0, 3.0, 4.0], [1, 1, 2, 2], 1), &[7.5], 1e-12);
    // λ = (3, 0), ε = 1: the filters (1, 0)/√4 and (0, 1)/√1, then both negated
    let f = whitening_filters(&[3.0, 0.0], &[vec![1.0, 0.0], vec![0.0, 1.0]], 1.0);
    assert_close("±v/√(λ + ε)", &f, &[0.5, 0.0, 0.0, 1.0, -0.5, -0.0, -0.0, -1.0], 1e-7);
    assert_close("α at the end", &[lookahead_alpha(10, 10)], &[0.773_780_937_5], 1e-12);
    assert_close("α half-way", &[lookahead_alpha(5, 10)], &[0.773_780_937_5 / 8.0], 1e-12);
    let (mut a, mut w) = (vec![1.0f32], vec![3.0f32]);
    lookahead_average(&mut a, &mut w, 0.5);
    assert_close("(1 + 3)/2 in both", &[a[0], w[0]], &[2.0, 2.0], 0.0);
}

#[test]
fn alpha_matches_cnnlab() {
    for total in [0, 1, 7, 97, 1000] {
        for t in [0, 1, total / 3, total / 2, total] {
            assert_close(
                &format!("α({t}, {total})"),
                &[lookahead_alpha(t, total)],
                &[Lookahead::decay(t, total)],
                1e-12,
            );
        }
    }
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's whitening or look-ahead
    support::assert_own_work(
        "fast",
        lab_source!("fast"),
        &["whitening::", "symmetric_eigen", "Lookahead", "lookahead::"],
    );
}
