//! Checks of the lab "Localization as regression": boxes from outputs, validation scores and the choice of α against cnnlab's at random inputs, and cases by hand.

#[path = "../check_support.rs"]
mod support;

use cnnlab::data::{BBox, Dataset};
use cnnlab::regression::metrics::{localize_scores, LocalizeScores};
use cnnlab::regression::targets::box_from;
use cnnlab::train::sweep::{choose, AlphaPoint};
use cnnlab_labs::regression::{box_from_outputs, choose_alpha, scores, Box2, Scores};
use proptest::prelude::*;

fn ours(b: &BBox) -> Box2 {
    Box2 { x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1 }
}

/// Outputs as a network gives them: mostly inside [0, 1], sometimes outside.
fn any_outputs() -> impl Strategy<Value = [f32; 4]> {
    proptest::array::uniform4(-0.3f32..1.3)
}

/// A set of images: the class count K, labels, true boxes (as fractions), and outputs of K + 4 values each.
type Images = (usize, Vec<usize>, Vec<[f32; 4]>, Vec<Vec<f32>>);

/// A random [`Images`] of 1 to 12 images and 2 to 5 classes.
fn any_images() -> impl Strategy<Value = Images> {
    (2..=5usize, 1..=12usize).prop_flat_map(|(k, n)| {
        (
            Just(k),
            proptest::collection::vec(0..k, n),
            proptest::collection::vec(proptest::array::uniform4(0.1f32..0.9), n),
            proptest::collection::vec(proptest::collection::vec(-2.0f32..2.0, k + 4), n),
        )
    })
}

/// Correct-localization and IoU levels from a small set, so that ties are common.
fn any_points() -> impl Strategy<Value = Vec<(f64, f64, f64)>> {
    proptest::collection::vec((0..=10u8, 0..=3u8, 0..=3u8), 1..=7)
        .prop_map(|v| v.into_iter().map(|(a, c, i)| (a as f64 / 10.0, c as f64 / 4.0, i as f64 / 4.0)).collect())
}

proptest! {
    #![proptest_config(support::config(256))]

    #[test]
    fn boxes_match_cnnlab(t in any_outputs(), h in 8usize..64, w in 8usize..64) {
        let expected = ours(&box_from(&t, [h, w]));
        prop_assert_eq!(box_from_outputs(t, (h, w)), expected, "outputs {:?} of a {}×{} image", t, h, w);
    }

    #[test]
    fn scores_match_cnnlab(images in any_images()) {
        let (k, labels, truth, mut outputs) = images;
        // the true boxes, as the box of some outputs, so that IoU ≥ 0.5 happens often
        for (o, t) in outputs.iter_mut().zip(&truth) {
            for (j, v) in t.iter().enumerate() {
                o[k + j] = 0.8 * o[k + j] * 0.1 + v;
            }
        }
        let boxes: Vec<BBox> = truth.iter().map(|t| box_from(t, [32, 32])).collect();
        let data = Dataset {
            classes: (0..k).map(|c| c.to_string()).collect(),
            shape: [3, 32, 32],
            labels: labels.clone(),
            boxes: boxes.clone(),
            ..Dataset::default()
        };
        let e = localize_scores(&outputs, &data);
        let got = scores(&outputs, &labels, &boxes.iter().map(ours).collect::<Vec<_>>(), (32, 32));
        prop_assert!((got.accuracy - e.accuracy).abs() < 1e-9, "accuracy {} expected {}", got.accuracy, e.accuracy);
        prop_assert!((got.mean_iou - e.mean_iou).abs() < 1e-5, "mean IoU {} expected {}", got.mean_iou, e.mean_iou);
        prop_assert!(
            (got.correct_localization - e.correct_localization).abs() < 1e-9,
            "correct localization {} expected {}", got.correct_localization, e.correct_localization
        );
    }

    #[test]
    fn the_choice_of_alpha_matches_cnnlab(points in any_points()) {
        let theirs: Vec<AlphaPoint> = points
            .iter()
            .map(|&(alpha, corloc, iou)| AlphaPoint {
                alpha,
                val: LocalizeScores {
                    accuracy: 0.0,
                    mean_iou: iou,
                    iou_at_least_half: 0.0,
                    correct_localization: corloc,
                    images: 1,
                },
                run: String::new(),
            })
            .collect();
        let mine: Vec<(f64, Scores)> = points
            .iter()
            .map(|&(alpha, corloc, iou)| (alpha, Scores { accuracy: 0.0, mean_iou: iou, correct_localization: corloc }))
            .collect();
        prop_assert_eq!(choose_alpha(&mine), choose(&theirs), "points (α, correct localization, mean IoU): {:?}", points);
    }
}

#[test]
fn by_hand() {
    // a centred half-size box of a 32×32 image, and one that sticks out on the left
    assert_eq!(box_from_outputs([0.5, 0.5, 0.5, 0.5], (32, 32)), Box2 { x0: 8.0, y0: 8.0, x1: 24.0, y1: 24.0 });
    assert_eq!(box_from_outputs([0.0, 0.5, 0.5, -1.0], (32, 32)), Box2 { x0: 0.0, y0: 16.0, x1: 8.0, y1: 16.0 });
    // two images: right class and exact box; wrong class and a box shifted by half its width (IoU 1/3)
    let truth = [Box2 { x0: 0.0, y0: 0.0, x1: 16.0, y1: 16.0 }; 2];
    let outputs = vec![vec![2.0, 0.0, 0.25, 0.25, 0.5, 0.5], vec![2.0, 0.0, 0.5, 0.25, 0.5, 0.5]];
    let s = scores(&outputs, &[0, 1], &truth, (32, 32));
    assert_eq!((s.accuracy, s.correct_localization), (0.5, 0.5));
    assert!((s.mean_iou - 2.0 / 3.0).abs() < 1e-6, "mean IoU {} expected (1 + 1/3) / 2", s.mean_iou);
    // the loss would have picked α = 0.9 (its losses are smallest); the scores pick 0.5
    let p = |corloc, iou| Scores { accuracy: 0.9, mean_iou: iou, correct_localization: corloc };
    assert_eq!(choose_alpha(&[(0.1, p(0.6, 0.6)), (0.5, p(0.9, 0.7)), (0.9, p(0.8, 0.75))]), 0.5);
    assert_eq!(choose_alpha(&[(0.7, p(0.9, 0.7)), (0.3, p(0.9, 0.7))]), 0.3, "equal scores: the smaller α");
}

#[test]
fn your_own_work() {
    support::assert_own_work("regression", lab_source!("regression"), &["regression::", "sweep::", ".iou(", "BBox"]);
}
