//! Checks of the lab "Measuring performance": confusion counts and ROC points against cnnlab's evaluation, AUC against the Mann–Whitney probability, Γ's optimality, examples by hand.

#[path = "../check_support.rs"]
mod support;

use cnnlab::eval::{evaluate, roc};
use cnnlab_labs::evaluation::{auc, closest_to_perfect, confusion_matrix, roc_curve};
use proptest::prelude::*;

/// Scores from a few levels (so that ties happen) and labels with at least one of each class.
fn scored_labels() -> impl Strategy<Value = (Vec<f32>, Vec<bool>)> {
    (2..=40usize, 2..=12u32).prop_flat_map(|(n, levels)| {
        let scores = proptest::collection::vec((0..levels).prop_map(move |l| l as f32 / levels as f32), n);
        let labels = proptest::collection::vec(any::<bool>(), n)
            .prop_filter("both classes present", |p| p.iter().any(|&x| x) && p.iter().any(|&x| !x));
        (scores, labels)
    })
}

/// P(a random positive scores above a random negative) + ½·P(tie), over all pairs.
fn mann_whitney(scores: &[f32], positive: &[bool]) -> f64 {
    let of = |class: bool| scores.iter().zip(positive).filter(move |&(_, &p)| p == class).map(|(&s, _)| s);
    let (mut wins, mut pairs) = (0.0, 0.0);
    for s_pos in of(true) {
        for s_neg in of(false) {
            pairs += 1.0;
            wins += if s_pos > s_neg {
                1.0
            } else if s_pos == s_neg {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / pairs
}

fn distance((fpr, tpr, _): (f64, f64, f64)) -> f64 {
    fpr * fpr + (1.0 - tpr) * (1.0 - tpr)
}

proptest! {
    #![proptest_config(support::config(128))]

    #[test]
    fn confusion_matrix_matches_cnnlab(
        pairs in proptest::collection::vec((0..4usize, 0..4usize), 1..60)
    ) {
        let (predicted, labels): (Vec<usize>, Vec<usize>) = pairs.into_iter().unzip();
        let one_hot: Vec<Vec<f32>> = predicted.iter().map(|&p| (0..4).map(|c| if c == p { 1.0 } else { 0.0 }).collect()).collect();
        let names: Vec<String> = (0..4).map(|c| c.to_string()).collect();
        let expected = evaluate(&one_hot, &labels, &names).confusion;
        prop_assert_eq!(confusion_matrix(&predicted, &labels, 4), expected, "counts[true][predicted]");
    }

    #[test]
    fn roc_points_match_cnnlab(data in scored_labels()) {
        let (scores, positive) = data;
        let ours = roc_curve(&scores, &positive);
        let expected = roc(&scores, &positive).points;
        prop_assert_eq!(ours.len(), expected.len(), "one point per distinct score, plus (0, 0, +∞): {:?}", ours);
        for (k, (a, e)) in ours.iter().zip(&expected).enumerate() {
            let same = (a.0 - e.0).abs() < 1e-12 && (a.1 - e.1).abs() < 1e-12 && (a.2 == e.2 || (a.2 - e.2).abs() < 1e-12);
            prop_assert!(same, "point {}: (FPR, TPR, threshold) = {:?}, expected {:?}", k, a, e);
        }
    }

    #[test]
    fn auc_is_the_probability_that_a_positive_outscores_a_negative(data in scored_labels()) {
        let (scores, positive) = data;
        let (area, expected) = (auc(&roc_curve(&scores, &positive)), mann_whitney(&scores, &positive));
        prop_assert!((area - expected).abs() < 1e-12, "AUC {} but P(s+ > s−) + ½P(s+ = s−) = {}", area, expected);
    }

    #[test]
    fn gamma_is_the_closest_point_to_the_top_left_corner(data in scored_labels()) {
        let (scores, positive) = data;
        let points = roc_curve(&scores, &positive);
        let best = closest_to_perfect(&points);
        prop_assert!(points[1..].contains(&best), "{:?} is not a point of the curve (after the first)", best);
        let nearest = points[1..].iter().map(|&p| distance(p)).fold(f64::INFINITY, f64::min);
        prop_assert_eq!(distance(best), nearest, "a closer point exists");
    }
}

#[test]
fn curves_by_hand() {
    // perfect ranking, reversed ranking, everything tied
    let positive = [true, true, false, false];
    let perfect = roc_curve(&[0.9, 0.8, 0.3, 0.1], &positive);
    assert_eq!(auc(&perfect), 1.0, "perfectly separated scores: {perfect:?}");
    assert_eq!(&perfect[..3], &[(0.0, 0.0, f64::INFINITY), (0.0, 0.5, 0.9_f32 as f64), (0.0, 1.0, 0.8_f32 as f64)]);
    assert_eq!(closest_to_perfect(&perfect), (0.0, 1.0, 0.8_f32 as f64), "Γ of a perfect ranking");
    assert_eq!(auc(&roc_curve(&[0.1, 0.2, 0.8, 0.9], &positive)), 0.0, "reversed scores");
    let tied = roc_curve(&[0.5; 4], &positive);
    assert_eq!(tied, vec![(0.0, 0.0, f64::INFINITY), (1.0, 1.0, 0.5)], "all scores tied: one diagonal step");
    assert_eq!(auc(&tied), 0.5, "all scores tied");
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from cnnlab eval's functions
    support::assert_own_work("evaluation", lab_source!("evaluation"), &["eval::", "roc(", "evaluate("]);
}
