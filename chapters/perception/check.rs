//! Checks of the lab "Perception visualization": the taps and SSIM against cnnlab's on random images, SSIM's closed forms, and the composition against cnnlab's and by hand.

#[path = "../check_support.rs"]
mod support;

use cnnlab::perceive::ssim::{ssim as cnnlab_ssim, SsimWindow};
use cnnlab::Tensor;
use cnnlab_labs::perception::{compose, gaussian_taps, ssim};
use proptest::prelude::*;

fn image(len: usize, seed: u64) -> Vec<f32> {
    (0..len).map(|i| ((i as u64 * 2654435761 + seed * 97) % 1000) as f32 / 1000.0).collect()
}

proptest! {
    #![proptest_config(support::config(64))]

    #[test]
    fn taps_match_cnnlab(half in 0usize..6, sigma in 0.5f32..3.0) {
        let size = 2 * half + 1;
        let expected: Vec<f32> = SsimWindow { size, sigma: sigma as f64 }.taps().iter().map(|&v| v as f32).collect();
        support::assert_close("Gaussian taps", &gaussian_taps(size, sigma), &expected, 1e-5);
    }

    #[test]
    fn ssim_matches_cnnlab(h in 5usize..14, w in 5usize..14, half in 1usize..3, blend in 0.0f32..1.0, seed in 0u64..1000) {
        let size = 2 * half + 1;
        let x = image(h * w, seed);
        // y: part x, part other noise, so SSIM spans the range
        let y: Vec<f32> = x.iter().zip(image(h * w, seed + 1)).map(|(a, b)| blend * a + (1.0 - blend) * b).collect();
        let t = |v: &[f32]| Tensor::from_vec(v.to_vec(), &[1, 1, h, w]);
        let expected = cnnlab_ssim(&t(&x), &t(&y), SsimWindow { size, sigma: 1.5 }).item();
        support::assert_close("mean SSIM", &[ssim(&x, &y, (h, w), size, 1.5)], &[expected], 1e-4);
    }

    #[test]
    fn composition_matches_cnnlab(c in 1usize..4, pixels in 1usize..40, seed in 0u64..1000) {
        let recon = image(c * pixels, seed);
        let mask = image(pixels, seed + 7);
        support::assert_close("PV", &compose(&recon, &mask), &cnnlab::perceive::compose(&recon, &mask), 1e-6);
    }
}

#[test]
fn ssim_closed_forms() {
    let x = image(100, 3);
    support::assert_close("SSIM(x, x)", &[ssim(&x, &x, (10, 10), 7, 1.5)], &[1.0], 1e-5);
    // flat images: no variance, SSIM = (2ab + C₁)/(a² + b² + C₁)
    let (a, b) = (0.3f32, 0.8f32);
    let c1 = 1e-4f32;
    let expected = (2.0 * a * b + c1) / (a * a + b * b + c1);
    let s = ssim(&[a; 64], &[b; 64], (8, 8), 5, 1.5);
    // (f32: E[x²] − μ² of a flat image is rounding noise next to C₂)
    support::assert_close("SSIM of two flat images", &[s], &[expected], 1e-3);
    // negative correlation: y = 1 − x has SSIM below 0 wherever x varies
    let flipped: Vec<f32> = x.iter().map(|v| 1.0 - v).collect();
    assert!(ssim(&x, &flipped, (10, 10), 7, 1.5) < 0.0, "x and 1 − x are anti-correlated");
}

#[test]
fn composition_by_hand() {
    // two channels of a 1×3 image; mask 1, 0.5, 0
    let pv = compose(&[0.2, 0.4, 0.6, 0.0, 1.0, 0.5], &[1.0, 0.5, 0.0]);
    support::assert_close("PV", &pv, &[0.2, 0.7, 1.0, 0.0, 1.0, 1.0], 1e-6);
}

#[test]
fn your_own_work() {
    support::assert_own_work("perception", lab_source!("perception"), &["perceive::", "cnnlab::"]);
}
