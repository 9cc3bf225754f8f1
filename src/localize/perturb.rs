//! Deletion and insertion curves (Petsiuk et al. 2018): does removing the most salient pixels first destroy the class score fastest?

use crate::nn::Module;
use crate::viz::Map;
use crate::{no_grad, Tensor};

/// The class probability as pixels are deleted or inserted, most salient first.
#[derive(Clone, Debug)]
pub struct PerturbCurves {
    /// p_c after deleting (setting to 0, the mean colour) the top k/steps of pixels, k = 0…steps.
    pub deletion: Vec<f32>,
    /// p_c after inserting the top k/steps of pixels into a blurred copy, k = 0…steps.
    pub insertion: Vec<f32>,
}

/// Trapezoidal area under a curve sampled at equal steps over [0, 1].
fn area(curve: &[f32]) -> f64 {
    let steps = (curve.len() - 1).max(1) as f64;
    curve.windows(2).map(|w| (w[0] + w[1]) as f64 / 2.0).sum::<f64>() / steps
}

impl PerturbCurves {
    /// Area under the deletion curve: low when the map found what the class depends on.
    pub fn deletion_auc(&self) -> f64 {
        area(&self.deletion)
    }

    /// Area under the insertion curve: high when the first pixels put back restore the class.
    pub fn insertion_auc(&self) -> f64 {
        area(&self.insertion)
    }
}

/// A Gaussian blur with σ = `sigma` pixels of each channel plane (edges repeated),
/// the starting canvas of the insertion curve.
pub fn blur(image: &[f32], [c, h, w]: [usize; 3], sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius).map(|d| (-((d * d) as f32) / (2.0 * sigma * sigma)).exp()).collect();
    let total: f32 = kernel.iter().sum();
    let tap = |len: usize, i: usize, d: isize| (i as isize + d).clamp(0, len as isize - 1) as usize;
    let mut out = image.to_vec();
    for plane in out.chunks_exact_mut(h * w).take(c) {
        let src = plane.to_vec();
        for y in 0..h {
            for x in 0..w {
                let s: f32 = kernel.iter().zip(-radius..).map(|(k, d)| k * src[y * w + tap(w, x, d)]).sum();
                plane[y * w + x] = s / total;
            }
        }
        let src = plane.to_vec();
        for y in 0..h {
            for x in 0..w {
                let s: f32 = kernel.iter().zip(-radius..).map(|(k, d)| k * src[tap(h, y, d) * w + x]).sum();
                plane[y * w + x] = s / total;
            }
        }
    }
    out
}

// ANCHOR: deletion_insertion
/// Both curves for one normalised image (`[c, h, w]`, flattened) and its
/// saliency `map` at input resolution, for class `class`, in `steps` steps.
pub fn deletion_insertion(
    model: &mut dyn Module,
    image: &[f32],
    shape: [usize; 3],
    map: &Map,
    class: usize,
    steps: usize,
) -> PerturbCurves {
    let [c, h, w] = shape;
    let plane = h * w;
    let mut order: Vec<usize> = (0..plane).collect();
    order.sort_by(|&a, &b| map.values[b].total_cmp(&map.values[a]));
    let blurred = blur(image, shape, h.max(w) as f32 / 8.0);
    let steps = steps.max(1);
    let mut batch = Vec::with_capacity(2 * (steps + 1) * c * plane);
    let first = |s: usize| &order[..s * plane / steps]; // the top s/steps of the pixels
    for s in 0..=steps {
        let mut deleted = image.to_vec(); // deletion: the pixel becomes 0, the mean colour
        first(s).iter().for_each(|&p| (0..c).for_each(|ch| deleted[ch * plane + p] = 0.0));
        batch.extend(deleted);
    }
    for s in 0..=steps {
        let mut inserted = blurred.clone(); // insertion: the pixel gets its value back
        first(s).iter().for_each(|&p| (0..c).for_each(|ch| inserted[ch * plane + p] = image[ch * plane + p]));
        batch.extend(inserted);
    }
    model.set_training(false);
    let x = Tensor::from_vec(batch, &[2 * (steps + 1), c, h, w]);
    let probs = no_grad(|| model.forward(&x).softmax(1));
    let classes = probs.shape()[1];
    let p: Vec<f32> = probs.data().chunks_exact(classes).map(|row| row[class]).collect();
    PerturbCurves { deletion: p[..=steps].to_vec(), insertion: p[steps + 1..].to_vec() }
}
// ANCHOR_END: deletion_insertion
