//! Reference solution of the lab "Measuring performance": confusion matrix, ROC with ties, AUC, Γ.

/// counts[true][predicted].
pub fn confusion_matrix(predicted: &[usize], labels: &[usize], classes: usize) -> Vec<Vec<usize>> {
    let mut counts = vec![vec![0; classes]; classes];
    for (&p, &t) in predicted.iter().zip(labels) {
        counts[t][p] += 1;
    }
    counts
}

/// (FPR, TPR, threshold) from (0, 0, +∞) to (1, 1), one point per distinct score.
pub fn roc_curve(scores: &[f32], positive: &[bool]) -> Vec<(f64, f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let positives = positive.iter().filter(|&&p| p).count() as f64;
    let negatives = positive.len() as f64 - positives;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0, f64::INFINITY)];
    for (k, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        // emit a point only after the last image with this score
        if order.get(k + 1).is_none_or(|&next| scores[next] != scores[i]) {
            points.push((fp / negatives, tp / positives, scores[i] as f64));
        }
    }
    points
}

/// Σ (FPR_{i+1} − FPR_i)·(TPR_{i+1} + TPR_i)/2.
pub fn auc(points: &[(f64, f64, f64)]) -> f64 {
    points.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum()
}

/// argmin over points[1..] of FPR² + (1 − TPR)².
pub fn closest_to_perfect(points: &[(f64, f64, f64)]) -> (f64, f64, f64) {
    let distance = |&(fpr, tpr, _): &(f64, f64, f64)| fpr * fpr + (1.0 - tpr) * (1.0 - tpr);
    *points[1..].iter().min_by(|a, b| distance(a).total_cmp(&distance(b))).expect("at least one score")
}
