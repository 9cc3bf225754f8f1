//! Lab "Measuring performance": the confusion matrix, the ROC curve with ties, its area, and the threshold Γ closest to the perfect classifier.
//!
//! Replace each `todo!`, then run `cargo lab evaluation`.
#![allow(unused_variables)]

// ANCHOR: task
/// `counts[t][p]`: how many images of true class t were predicted as class p.
pub fn confusion_matrix(predicted: &[usize], labels: &[usize], classes: usize) -> Vec<Vec<usize>> {
    todo!("a classes × classes table of counts")
}

/// The ROC curve of a two-class problem: `scores` (higher = more likely
/// positive) against the truth `positive` (at least one of each).
///
/// Predicting "positive" for score ≥ t gives a point (FPR, TPR) for every
/// threshold t. Return the points as (FPR, TPR, t): first (0, 0, +∞), then
/// one point per *distinct* score, from the highest score to the lowest
/// (which ends at (1, 1)). Images with equal scores enter together, so a
/// tie between a positive and a negative is one diagonal step.
pub fn roc_curve(scores: &[f32], positive: &[bool]) -> Vec<(f64, f64, f64)> {
    todo!("sort by score, descending, and count true and false positives as the threshold falls")
}

/// The area under the curve through `points` (in order), by the trapezoidal rule.
pub fn auc(points: &[(f64, f64, f64)]) -> f64 {
    todo!("sum of trapezoids between neighbouring points")
}

/// The operating point closest to the perfect classifier (0, 1) in the
/// (FPR, TPR) plane — the one minimising FPR² + (1 − TPR)² — among all
/// points but the first (+∞ predicts nothing positive). Its threshold is Γ.
pub fn closest_to_perfect(points: &[(f64, f64, f64)]) -> (f64, f64, f64) {
    todo!("the point at the smallest distance")
}
// ANCHOR_END: task
