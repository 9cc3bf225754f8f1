//! Measuring a classifier: accuracy, per-class accuracy, the confusion matrix, and for two classes the ROC curve, its AUC and a threshold Γ.

use crate::data::batches::make_batch;
use crate::data::preprocess::Preprocessing;
use crate::data::Dataset;
use crate::nn::{fuse_for_inference, Fused, Module};
use crate::no_grad;
use crate::tensor::Tensor;
use crate::viz::plot::LinePlot;
use crate::viz::Canvas;
use image::{Rgb, RgbImage};

/// Which views of each test image a prediction is made from (test-time augmentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestTimeAugmentation {
    /// The image as it is.
    #[default]
    None,
    /// The image and its mirror image: p(y | x) = ½ (softmax f(x) + softmax f(flip x)).
    /// Training with random flips taught the network that both are the same object.
    Flip,
    /// The mirror image alone: softmax f(flip x). Not a way to score a model
    /// but a question to it — does it treat both orientations alike?
    Mirror,
    /// Six views (the fast recipe's): the image and its mirror image with
    /// weight ¼ each, and both shifted by one pixel diagonally up-left and
    /// down-right (the border mirrored) with weight ⅛ each.
    FlipTranslate,
}

impl std::fmt::Display for TestTimeAugmentation {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            TestTimeAugmentation::None => "none",
            TestTimeAugmentation::Flip => "flip",
            TestTimeAugmentation::Mirror => "mirror",
            TestTimeAugmentation::FlipTranslate => "flip-translate",
        })
    }
}

impl std::str::FromStr for TestTimeAugmentation {
    type Err = crate::io::Error;
    fn from_str(s: &str) -> crate::io::Result<Self> {
        match s {
            "none" => Ok(TestTimeAugmentation::None),
            "flip" => Ok(TestTimeAugmentation::Flip),
            "mirror" => Ok(TestTimeAugmentation::Mirror),
            "flip-translate" => Ok(TestTimeAugmentation::FlipTranslate),
            _ => Err(crate::io::Error::msg(format!(
                "unknown test-time augmentation '{s}' (none, flip, mirror or flip-translate)"
            ))),
        }
    }
}

// ANCHOR: predict
/// Class probabilities (softmax of the logits) for every image, in evaluation
/// mode, without a graph; with [`TestTimeAugmentation::Flip`] the average over
/// the image and its mirror image, with [`TestTimeAugmentation::Mirror`] the
/// mirror image's alone.
pub fn predict(
    model: &mut dyn Module,
    data: &Dataset,
    pre: &Preprocessing,
    batch: usize,
    tta: TestTimeAugmentation,
) -> Vec<Vec<f32>> {
    model.set_training(false);
    let model = &mut fuse_for_inference(model);
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut out = Vec::with_capacity(data.len());
    let bar = progress_bar("predicting", data.len());
    no_grad(|| {
        for chunk in indices.chunks(batch.max(1)) {
            let (x, _) = make_batch(data, chunk, pre, None);
            let probs = match tta {
                TestTimeAugmentation::None => model.forward(&x).softmax(1),
                TestTimeAugmentation::Mirror => model.forward(&mirrored(&x)).softmax(1),
                TestTimeAugmentation::Flip => flip_average(model, &x),
                TestTimeAugmentation::FlipTranslate => {
                    let shifted = flip_average(model, &shifted(&x, 1)).add(&flip_average(model, &shifted(&x, -1)));
                    flip_average(model, &x).mul_scalar(0.5).add(&shifted.mul_scalar(0.25))
                }
            };
            out.extend(probs.data().chunks(probs.shape()[1]).map(|row| row.to_vec()));
            bar.inc(chunk.len() as u64);
        }
    });
    bar.finish_and_clear();
    out
}
// ANCHOR_END: predict

/// Class probabilities for a few images given as CHW bytes of shape
/// `shape` (e.g. synthesised ones), normalised by `pre`, in one batch.
pub fn predict_images(
    model: &mut dyn Module,
    images: &[Vec<u8>],
    pre: &Preprocessing,
    shape: [usize; 3],
) -> Vec<Vec<f32>> {
    let per_image = shape.iter().product::<usize>();
    let mut values = vec![0f32; images.len() * per_image];
    for (bytes, out) in images.iter().zip(values.chunks_mut(per_image)) {
        pre.apply(bytes, out);
    }
    let [c, h, w] = shape;
    let x = Tensor::from_vec(values, &[images.len(), c, h, w]);
    model.set_training(false);
    let probs = no_grad(|| model.forward(&x).softmax(1));
    probs.data().chunks(probs.shape()[1]).map(|row| row.to_vec()).collect()
}

/// A progress bar over `images` on a terminal (hidden otherwise), headed
/// by `verb` ("predicting"); the caller clears it when done.
pub fn progress_bar(verb: &str, images: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(images as u64);
    let template = format!("{verb} [{{bar:28}}] {{pos}}/{{len}} images (ETA {{eta}})");
    let style = indicatif::ProgressStyle::with_template(&template).expect("valid template");
    bar.set_style(style.progress_chars("=> "));
    bar
}

/// ½ (softmax f(x) + softmax f(flip x)).
fn flip_average(model: &mut Fused, x: &Tensor) -> Tensor {
    let mirror = model.forward(&mirrored(x)).softmax(1);
    model.forward(x).softmax(1).add(&mirror).mul_scalar(0.5)
}

/// A batch of images moved by `d` pixels down and right (up and left for
/// d < 0), the uncovered border filled by mirroring (PyTorch's reflect
/// padding followed by a crop): pixel (y, x) shows pixel (y − d, x − d).
fn shifted(x: &Tensor, d: isize) -> Tensor {
    let (n, c, h, w) = x.dims4("shifted");
    let mirror = |i: isize, len: usize| {
        let last = len as isize - 1;
        (if i < 0 {
            -i
        } else if i > last {
            2 * last - i
        } else {
            i
        }) as usize
    };
    let mut values = vec![0f32; x.numel()];
    for (plane, out) in x.data().chunks(h * w).zip(values.chunks_mut(h * w)).take(n * c) {
        for y in 0..h {
            for xx in 0..w {
                out[y * w + xx] = plane[mirror(y as isize - d, h) * w + mirror(xx as isize - d, w)];
            }
        }
    }
    Tensor::from_vec(values, x.shape())
}

/// A batch of images mirrored left to right: every row of every plane reversed.
fn mirrored(x: &Tensor) -> Tensor {
    let width = x.shape()[x.shape().len() - 1];
    let mut values = x.data().to_vec();
    values.chunks_mut(width).for_each(|row| row.reverse());
    Tensor::from_vec(values, x.shape())
}

/// The ROC curve of a two-class problem and a chosen operating point.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Roc {
    /// (false-positive rate, true-positive rate, threshold), from (0, 0) to (1, 1).
    pub points: Vec<(f64, f64, f64)>,
    /// Area under the curve (trapezoidal rule): the probability that a random
    /// positive scores higher than a random negative.
    pub auc: f64,
    /// Γ: the threshold whose point is closest to the perfect classifier (0, 1).
    pub gamma: f64,
    /// FPR when predicting positive for score ≥ Γ.
    pub fpr_at_gamma: f64,
    /// TPR when predicting positive for score ≥ Γ.
    pub tpr_at_gamma: f64,
}

// ANCHOR: roc
/// ROC of `scores` (higher = more positive) against the true labels.
/// Every distinct score is a threshold; ties move along a diagonal.
pub fn roc(scores: &[f32], positive: &[bool]) -> Roc {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let p = positive.iter().filter(|&&y| y).count().max(1) as f64;
    let n = positive.iter().filter(|&&y| !y).count().max(1) as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut points = vec![(0.0, 0.0, f64::INFINITY)];
    for (k, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = k + 1 == order.len() || scores[order[k + 1]] != scores[i];
        if last_of_tie {
            points.push((fp / n, tp / p, scores[i] as f64));
        }
    }
    let auc = points.windows(2).map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0).sum();
    let distance = |&(fpr, tpr, _): &(f64, f64, f64)| fpr * fpr + (1.0 - tpr) * (1.0 - tpr);
    let best = points[1..].iter().min_by(|a, b| distance(a).total_cmp(&distance(b))).copied().unwrap_or(points[0]);
    Roc { auc, gamma: best.2, fpr_at_gamma: best.0, tpr_at_gamma: best.1, points }
}
// ANCHOR_END: roc

/// Everything `cnnlab eval` reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Evaluation {
    /// Class names.
    pub classes: Vec<String>,
    /// Fraction of images whose top class is right.
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    /// Accuracy within each true class (the confusion matrix's diagonal, row-normalised).
    pub per_class_accuracy: Vec<f64>,
    /// `counts[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    /// For two classes: the ROC of the probability of class 1.
    pub roc: Option<Roc>,
}

/// The index of the largest value (the last of equal ones; 0 for an empty slice).
pub fn argmax(p: &[f32]) -> usize {
    (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0)
}

/// Scores predictions against labels.
pub fn evaluate(probs: &[Vec<f32>], labels: &[usize], classes: &[String]) -> Evaluation {
    let k = classes.len();
    let mut confusion = vec![vec![0usize; k]; k];
    let mut loss = 0.0;
    for (p, &y) in probs.iter().zip(labels) {
        let predicted = argmax(&p[..k]);
        confusion[y][predicted] += 1;
        loss -= (p[y].max(1e-12) as f64).ln();
    }
    let total = labels.len().max(1) as f64;
    let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
    let per_class_accuracy =
        (0..k).map(|c| confusion[c][c] as f64 / confusion[c].iter().sum::<usize>().max(1) as f64).collect();
    let roc = (k == 2).then(|| {
        let scores: Vec<f32> = probs.iter().map(|p| p[1]).collect();
        let positive: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
        roc(&scores, &positive)
    });
    Evaluation {
        classes: classes.to_vec(),
        accuracy: correct as f64 / total,
        loss: loss / total,
        per_class_accuracy,
        confusion,
        roc,
    }
}

impl Evaluation {
    /// The confusion matrix as row-normalised percentages, one line per true class.
    pub fn confusion_text(&self) -> String {
        let width = self.classes.iter().map(|c| c.len()).max().unwrap_or(4).max(6);
        let mut out = format!("{:>width$}  (rows: true class, columns: predicted, % of row)\n{:>width$}", "", "");
        for c in &self.classes {
            out += &format!(" {:>6}", &c[..c.len().min(6)]);
        }
        for (name, row) in self.classes.iter().zip(&self.confusion) {
            let total = row.iter().sum::<usize>().max(1) as f64;
            out += &format!("\n{name:>width$}");
            for &v in row {
                out += &format!(" {:>6.1}", 100.0 * v as f64 / total);
            }
        }
        out
    }

    // ANCHOR: confusion_image
    /// The row-normalised confusion matrix as a picture: darker cells for
    /// larger percentages, the percentage written in each cell.
    pub fn confusion_image(&self) -> RgbImage {
        let k = self.classes.len() as i32;
        let (cell, left, top) = (64, 96, 56);
        let mut c = Canvas::new((left + k * cell + 16) as u32, (top + k * cell + 24) as u32);
        let black = Rgb([0, 0, 0]);
        c.text(left + (k * cell - Canvas::text_width("predicted", 1)) / 2, 8, "predicted", 1, black);
        c.text(8, top - 14, "true", 1, black);
        for (i, (name, row)) in self.classes.iter().zip(&self.confusion).enumerate() {
            let total = row.iter().sum::<usize>().max(1) as f64;
            let short = &name[..name.len().min(7)];
            c.text(8, top + i as i32 * cell + cell / 2 - 4, short, 1, black);
            c.text(left + i as i32 * cell + (cell - Canvas::text_width(short, 1)) / 2, top - 14, short, 1, black);
            for (j, &v) in row.iter().enumerate() {
                let share = v as f64 / total;
                let shade = |full: f64| (255.0 - share * (255.0 - full)) as u8;
                let fill = Rgb([shade(8.0), shade(48.0), shade(107.0)]);
                let (x, y) = (left + j as i32 * cell, top + i as i32 * cell);
                c.fill_rect(x, y, cell - 1, cell - 1, fill);
                let label = format!("{:.0}", 100.0 * share);
                let ink = if share > 0.5 { Rgb([255, 255, 255]) } else { black };
                c.text(x + (cell - Canvas::text_width(&label, 2)) / 2, y + cell / 2 - 8, &label, 2, ink);
            }
        }
        c.image
    }
    // ANCHOR_END: confusion_image
}

/// The ROC curve as a picture, with the chance diagonal and the point at Γ.
pub fn roc_image(roc: &Roc) -> RgbImage {
    let curve: Vec<(f64, f64)> = roc.points.iter().map(|p| (p.0, p.1)).collect();
    let mut plot = LinePlot::new(&format!("ROC, AUC = {:.4}", roc.auc), "false positive rate", "true positive rate")
        .with("classifier", curve)
        .with("chance", vec![(0.0, 0.0), (1.0, 1.0)])
        .with(&format!("Gamma = {:.3}", roc.gamma), vec![(roc.fpr_at_gamma, roc.tpr_at_gamma)]);
    plot.y_range = Some((0.0, 1.0));
    plot.render(480, 440)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_mirror_the_border_as_reflect_padding_and_a_crop_do() {
        // PyTorch: F.pad(x, (1, 1, 1, 1), mode="reflect")[:, :, 0:3, 0:3] and [:, :, 2:5, 2:5]
        let x = Tensor::from_vec((1..=9).map(|v| v as f32).collect(), &[1, 1, 3, 3]);
        assert_eq!(shifted(&x, 1).data(), &[5.0, 4.0, 5.0, 2.0, 1.0, 2.0, 5.0, 4.0, 5.0]);
        assert_eq!(shifted(&x, -1).data(), &[5.0, 6.0, 5.0, 8.0, 9.0, 8.0, 5.0, 6.0, 5.0]);
        assert_eq!(shifted(&x, 0).data(), x.data());
    }

    #[test]
    fn roc_of_known_scores() {
        // positives 0.9, 0.7, 0.4; negatives 0.8, 0.3: 4 of the 6 pairs ordered right
        let r = roc(&[0.9, 0.8, 0.7, 0.4, 0.3], &[true, false, true, true, false]);
        assert!((r.auc - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!((r.fpr_at_gamma, r.tpr_at_gamma), (0.5, 1.0));
        assert_eq!(r.gamma as f32, 0.4);
        let perfect = roc(&[0.9, 0.8, 0.1], &[true, true, false]);
        assert_eq!(perfect.auc, 1.0);
    }

    #[test]
    fn ties_count_half() {
        let r = roc(&[0.5, 0.5], &[true, false]);
        assert!((r.auc - 0.5).abs() < 1e-12);
    }

    #[test]
    fn mirrored_reverses_every_row_of_every_plane() {
        let x = Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[1, 2, 2, 3]);
        let m = mirrored(&x);
        assert_eq!(m.shape(), &[1, 2, 2, 3]);
        assert_eq!(m.data(), &[2.0, 1.0, 0.0, 5.0, 4.0, 3.0, 8.0, 7.0, 6.0, 11.0, 10.0, 9.0]);
    }

    /// Flip TTA equals the mean of the predictions for the images and for
    /// the same images mirrored before preprocessing (per-channel statistics,
    /// which a mirror does not change).
    #[test]
    fn flip_tta_averages_the_image_and_its_mirror() {
        use crate::data::preprocess::Normalization;
        use crate::data::shapes::{generate, ShapesConfig};
        use crate::models::{Arch, Model};
        let data = generate(&ShapesConfig { size: 16, ..ShapesConfig::default() }, 6, 3);
        let mut flipped = data.clone();
        flipped.images.chunks_mut(16).for_each(|row| row.reverse());
        let pre = Preprocessing::fit(Normalization::ChannelMeanStd, &data);
        let mut model = Model::new(Arch::SmallCnn, 10, data.shape, 1).unwrap();
        let plain = predict(&mut model, &data, &pre, 4, TestTimeAugmentation::None);
        let mirror = predict(&mut model, &flipped, &pre, 4, TestTimeAugmentation::None);
        let both = predict(&mut model, &data, &pre, 4, TestTimeAugmentation::Flip);
        assert_eq!(predict(&mut model, &data, &pre, 4, TestTimeAugmentation::Mirror), mirror);
        let mut differs = false;
        for ((p, q), r) in plain.iter().zip(&mirror).zip(&both) {
            for k in 0..10 {
                assert!((r[k] - (p[k] + q[k]) / 2.0).abs() < 1e-6, "{} vs ({} + {}) / 2", r[k], p[k], q[k]);
                differs |= (p[k] - q[k]).abs() > 1e-4;
            }
        }
        assert!(differs, "the network gave mirrored images the same scores; the test would prove nothing");
    }

    #[test]
    fn tta_names_parse_and_print() {
        use TestTimeAugmentation::*;
        for t in [None, Flip, Mirror, FlipTranslate] {
            assert_eq!(t.to_string().parse::<TestTimeAugmentation>().unwrap(), t);
            // the JSON name (eval.json, config.json) is the command line's
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{t}\""));
        }
        let e = "crop".parse::<TestTimeAugmentation>().unwrap_err();
        assert!(
            e.message.contains("'crop'") && e.message.contains("none, flip, mirror or flip-translate"),
            "{}",
            e.message
        );
    }

    #[test]
    fn confusion_and_accuracy() {
        let classes = vec!["a".to_string(), "b".to_string()];
        let probs = vec![vec![0.9, 0.1], vec![0.2, 0.8], vec![0.6, 0.4]];
        let e = evaluate(&probs, &[0, 1, 1], &classes);
        assert_eq!(e.confusion, vec![vec![1, 0], vec![1, 1]]);
        assert!((e.accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(e.per_class_accuracy, vec![1.0, 0.5]);
    }
}
