//! Checks of the lab "Augmented Grad-CAM": D and TV against cnnlab's, Dᵀ by the adjoint identity, the subgradient by its defining inequality and against cnnlab's where TV is differentiable, examples by hand.

#[path = "../check_support.rs"]
mod support;

use cnnlab::explain::augmented::{
    downsample as cnnlab_downsample, total_variation as cnnlab_tv, total_variation_subgradient as cnnlab_subgradient,
};
use cnnlab_labs::augmented::{downsample, downsample_adjoint, total_variation, total_variation_subgradient};
use proptest::prelude::*;
use support::assert_close;

/// A map of (f·lh)×(f·lw) with values in ±2, its factor f, and a low-resolution map.
fn maps() -> impl Strategy<Value = (Vec<f32>, (usize, usize), usize, Vec<f32>)> {
    (1..=4usize, 1..=5usize, 1..=5usize).prop_flat_map(|(f, lh, lw)| {
        let v = |len| proptest::collection::vec(-2f32..2.0, len);
        (v(f * lh * f * lw), Just((f * lh, f * lw)), Just(f), v(lh * lw))
    })
}

/// A map whose values sit on a coarse grid (ties, so zero differences, are common) and a second map.
fn tied_maps() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, (usize, usize))> {
    (1..=5usize, 1..=5usize).prop_flat_map(|(h, w)| {
        let level = (-2..=2i32).prop_map(|l| l as f32);
        (proptest::collection::vec(level, h * w), proptest::collection::vec(-3f32..3.0, h * w), Just((h, w)))
    })
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

proptest! {
    #![proptest_config(support::config(128))]

    #[test]
    fn downsampling_matches_cnnlab(data in maps()) {
        let (h, size, f, _) = data;
        assert_close(&format!("D h for {size:?}, factor {f}"), &downsample(&h, size, f), &cnnlab_downsample(&h, size, f), 1e-5);
    }

    #[test]
    fn the_adjoint_satisfies_the_adjoint_identity(data in maps()) {
        let (h, size, f, g) = data;
        let back = downsample_adjoint(&g, size, f);
        prop_assert_eq!(back.len(), h.len(), "Dᵀ g must have the high resolution");
        let (lhs, rhs) = (dot(&downsample(&h, size, f), &g), dot(&h, &back));
        prop_assert!((lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()), "⟨D h, g⟩ = {} but ⟨h, Dᵀ g⟩ = {} for {:?}, factor {}", lhs, rhs, size, f);
    }

    #[test]
    fn total_variation_matches_cnnlab(data in tied_maps()) {
        let (h, _, size) = data;
        assert_close(&format!("TV of a {size:?} map"), &[total_variation(&h, size)], &[cnnlab_tv(&h, size)], 1e-5);
    }

    #[test]
    fn the_subgradient_satisfies_its_inequality(data in tied_maps()) {
        // TV(h′) ≥ TV(h) + ⟨s, h′ − h⟩ for every h′, also where differences are 0
        let (h, other, size) = data;
        let s = total_variation_subgradient(&h, size);
        prop_assert_eq!(s.len(), h.len(), "one subgradient entry per pixel");
        let step: Vec<f32> = other.iter().zip(&h).map(|(a, b)| a - b).collect();
        let (lhs, rhs) = (total_variation(&other, size) as f64, total_variation(&h, size) as f64 + dot(&s, &step));
        prop_assert!(lhs >= rhs - 1e-4, "TV(h′) = {} < TV(h) + ⟨s, h′ − h⟩ = {}: s is not a subgradient at {:?}", lhs, rhs, h);
    }

    #[test]
    fn where_tv_is_differentiable_the_subgradient_is_cnnlabs_gradient(data in maps()) {
        // random values: no two neighbours are equal, so the subgradient is unique
        let (h, size, _, _) = data;
        assert_close(&format!("∂TV at a {size:?} map"), &total_variation_subgradient(&h, size), &cnnlab_subgradient(&h, size), 1e-6);
    }
}

#[test]
fn by_hand() {
    // [1 2; 3 4]: D (factor 2) = 2.5; TV = |2−1| + |4−3| + |3−1| + |4−2| = 6
    let h = [1.0, 2.0, 3.0, 4.0];
    assert_close("D of [1 2; 3 4]", &downsample(&h, (2, 2), 2), &[2.5], 1e-6);
    assert_close("Dᵀ of [1]", &downsample_adjoint(&[1.0], (2, 2), 2), &[0.25; 4], 1e-6);
    assert_close("TV of [1 2; 3 4]", &[total_variation(&h, (2, 2))], &[6.0], 1e-6);
    // each pixel: +1 for every neighbour below it in value, −1 for every one above
    assert_close("∂TV of [1 2; 3 4]", &total_variation_subgradient(&h, (2, 2)), &[-2.0, 0.0, 0.0, 2.0], 1e-6);
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's Augmented Grad-CAM
    support::assert_own_work("augmented", lab_source!("augmented"), &["explain::augmented", "augmented::"]);
}
