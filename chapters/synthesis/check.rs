//! Checks of the lab "Input synthesis by gradient ascent": roll against cnnlab's, a step against its closed form for a linear score, a step on smallcnn against the library's pieces, and the objective rising.

#[path = "../check_support.rs"]
mod support;

use cnnlab::explain::capture::frozen;
use cnnlab::inspect::synthesis::roll as cnnlab_roll;
use cnnlab::models::{Arch, Model};
use cnnlab::nn::Module;
use cnnlab::{enable_grad, Tensor};
use cnnlab_labs::synthesis::{ascent_step, roll};
use proptest::prelude::*;

/// ∂S_c/∂I of `model` at one CHW image, with cnnlab's autodiff.
fn score_gradient(model: &mut Model, class: usize, image: &[f32]) -> Vec<f32> {
    let [c, h, w] = model.input;
    let x = Tensor::from_vec(image.to_vec(), &[1, c, h, w]).with_grad();
    model.set_training(false);
    frozen(model, |m| {
        let logits = enable_grad(|| m.forward(&x));
        let mut seed = vec![0f32; logits.numel()];
        seed[class] = 1.0;
        logits.backward_with(&Tensor::from_vec(seed, logits.shape())).wrt_or_zeros(&x).to_vec()
    })
}

fn score(model: &mut Model, class: usize, image: &[f32]) -> f32 {
    let [c, h, w] = model.input;
    model.set_training(false);
    cnnlab::no_grad(|| model.forward(&Tensor::from_vec(image.to_vec(), &[1, c, h, w]))).data()[class]
}

proptest! {
    #![proptest_config(support::config(128))]

    #[test]
    fn roll_matches_cnnlab(c in 1usize..4, h in 1usize..7, w in 1usize..7, dy in -9isize..9, dx in -9isize..9, seed in 0u64..1000) {
        let image: Vec<f32> = (0..c * h * w).map(|i| ((i as u64 * 2654435761 + seed) % 1000) as f32).collect();
        let expected = cnnlab_roll(&Tensor::from_vec(image.clone(), &[1, c, h, w]), (dy, dx)).to_vec();
        prop_assert_eq!(roll(&image, [c, h, w], (dy, dx)), expected, "shift ({}, {}) of a {}x{}x{} image", dy, dx, c, h, w);
    }

    #[test]
    fn a_linear_score_gives_the_closed_form(h in 1usize..6, w in 1usize..6, dy in -4isize..4, dx in -4isize..4, lambda in 0.0f32..0.5, seed in 0u64..1000) {
        // S(I) = ⟨a, I⟩ has the gradient a everywhere; shifted back, it is roll(a, −shift)
        let n = 2 * h * w;
        let a: Vec<f32> = (0..n).map(|i| ((i as u64 * 40503 + seed) % 17) as f32 - 8.0).collect();
        let image: Vec<f32> = (0..n).map(|i| ((i as u64 * 9973 + seed) % 11) as f32 / 11.0).collect();
        let back = roll(&a, [2, h, w], (-dy, -dx));
        let expected: Vec<f32> = image.iter().zip(&back).map(|(&v, &g)| v + 0.1 * (g - 2.0 * lambda * v)).collect();
        let gradient = |_: &[f32]| a.clone();
        let step = ascent_step(&image, [2, h, w], &gradient, lambda, 0.1, (dy, dx));
        support::assert_close("I + lr·(roll(a, −shift) − 2λI)", &step, &expected, 1e-5);
    }
}

#[test]
fn a_step_on_smallcnn_matches_the_library_and_raises_the_objective() {
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 16, 16], 1).unwrap();
    let image: Vec<f32> = (0..3 * 16 * 16).map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.2).collect();
    let (class, lambda, shift) = (4, 0.01, (2, -3));
    let cell = std::cell::RefCell::new(&mut model);
    let gradient = |img: &[f32]| score_gradient(&mut cell.borrow_mut(), class, img);
    let step = ascent_step(&image, [3, 16, 16], &gradient, lambda, 0.05, shift);
    // the same step from the library's pieces
    let t = |v: &[f32]| Tensor::from_vec(v.to_vec(), &[1, 3, 16, 16]);
    let shifted = cnnlab_roll(&t(&image), shift).to_vec();
    let g = cnnlab_roll(&t(&gradient(&shifted)), (-shift.0, -shift.1)).to_vec();
    let expected: Vec<f32> = image.iter().zip(&g).map(|(&v, &g)| v + 0.05 * (g - 2.0 * lambda * v)).collect();
    support::assert_close("one step on smallcnn", &step, &expected, 1e-5);
    // small unshifted steps raise J = S_c − λ‖I‖²
    let objective = |m: &mut Model, img: &[f32]| score(m, class, img) - lambda * img.iter().map(|v| v * v).sum::<f32>();
    let mut current = image.clone();
    let start = objective(&mut cell.borrow_mut(), &current);
    for _ in 0..5 {
        current = ascent_step(&current, [3, 16, 16], &gradient, lambda, 0.01, (0, 0));
    }
    let end = objective(&mut cell.borrow_mut(), &current);
    assert!(end > start, "five ascent steps lowered the objective: {start} → {end}");
}

#[test]
fn roll_by_hand() {
    let image = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]; // one plane, 2 rows × 3 columns
    assert_eq!(roll(&image, [1, 2, 3], (0, 1)), vec![3.0, 1.0, 2.0, 6.0, 4.0, 5.0], "one column to the right");
    assert_eq!(roll(&image, [1, 2, 3], (1, 0)), vec![4.0, 5.0, 6.0, 1.0, 2.0, 3.0], "one row down");
    assert_eq!(
        roll(&image, [1, 2, 3], (-1, -4)),
        vec![5.0, 6.0, 4.0, 2.0, 3.0, 1.0],
        "negative and larger than the image"
    );
}

#[test]
fn your_own_work() {
    support::assert_own_work("synthesis", lab_source!("synthesis"), &["inspect::", "synthesize"]);
}
