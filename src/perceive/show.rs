//! The pictures of perception visualization: the image, its reconstruction, the Grad-CAM mask, the saliency baseline and PV itself.

use super::train::Decoder;
use super::{compose, encode};
use crate::explain::capture::frozen;
use crate::explain::gradcam::gradcam;
use crate::explain::{Map, Target};
use crate::io::Result;
use crate::models::Model;
use crate::Tensor;
use image::{Rgb, RgbImage};

/// Everything shown for one image and one class; images CHW in [0, 1].
pub struct Views {
    /// The image x.
    pub original: Vec<f32>,
    /// The decoder's reconstruction x̂ from the encoder's features of x.
    pub reconstruction: Vec<f32>,
    /// m: Grad-CAM of the class at the encoder layer, ReLU, divided by its maximum, upsampled (H×W).
    pub mask: Vec<f32>,
    /// The saliency baseline: m ⊙ x + (1 − m) ⊙ white.
    pub saliency: Vec<f32>,
    /// Perception visualization: m ⊙ x̂ + (1 − m) ⊙ white.
    pub perception: Vec<f32>,
    /// The class the views explain.
    pub class: usize,
    /// The classifier's prediction for x.
    pub predicted: usize,
    /// Its probability.
    pub probability: f32,
}

// ANCHOR: views
/// The views of a batch of images (`pixels` in [0, 1], `x` the same batch
/// normalised as the classifier expects), each for its class in `classes`.
///
/// # Errors
/// When the decoder's layer is missing from the classifier or a class is out of range.
pub fn views(
    classifier: &mut Model,
    decoder: &mut Decoder,
    (pixels, x): (&Tensor, &Tensor),
    classes: &[usize],
) -> Result<Vec<Views>> {
    let features = encode(classifier, x, &decoder.layer)?;
    let recon = decoder.reconstruct(&features);
    let target = Target::PerImage(classes.to_vec());
    let (maps, logits, _) = frozen(classifier, |m| gradcam(m, x, &decoder.layer, &target))?;
    let probs = crate::no_grad(|| logits.softmax(1));
    let (_, c, h, w) = pixels.dims4("perceive");
    let per_image = c * h * w;
    let rows = pixels.data().chunks(per_image).zip(recon.data().chunks(per_image));
    Ok(rows
        .zip(maps)
        .zip(probs.data().chunks(logits.shape()[1]))
        .zip(classes)
        .map(|((((original, reconstruction), map), p), &class)| {
            let mask = unit_mask(&map, h, w);
            let predicted = crate::eval::argmax(p);
            Views {
                saliency: compose(original, &mask),
                perception: compose(reconstruction, &mask),
                original: original.to_vec(),
                reconstruction: reconstruction.to_vec(),
                mask,
                class,
                predicted,
                probability: p[predicted],
            }
        })
        .collect())
}
// ANCHOR_END: views

/// A Grad-CAM map as a mask in [0, 1] at image size: ReLU, ÷ max, bilinear
/// upsampling (all zeros stays all zeros: nothing is shown).
pub fn unit_mask(map: &Map, h: usize, w: usize) -> Vec<f32> {
    let positive = map.relu();
    let top = positive.max();
    let scaled = if top > 0.0 { positive.values.iter().map(|&v| v / top).collect() } else { positive.values.clone() };
    let up = Map::new(map.height, map.width, scaled).upsample(h, w);
    up.values.into_iter().map(|v| v.clamp(0.0, 1.0)).collect()
}

/// CHW values in [0, 1] (1 or 3 channels) as an RGB picture, each pixel a `scale`×`scale` block.
pub fn picture(values: &[f32], [c, h, w]: [usize; 3], scale: u32) -> RgbImage {
    let byte = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    RgbImage::from_fn(w as u32 * scale, h as u32 * scale, |x, y| {
        let (x, y) = ((x / scale) as usize, (y / scale) as usize);
        let at = |ch: usize| byte(values[ch.min(c - 1) * h * w + y * w + x]);
        Rgb([at(0), at(1), at(2)])
    })
}

/// One image's row: x, x̂, the mask on x (the saliency baseline), PV; `class` names the explained class.
pub fn views_row(v: &Views, shape: [usize; 3], scale: u32, class: &str) -> RgbImage {
    let images = [
        picture(&v.original, shape, scale),
        picture(&v.reconstruction, shape, scale),
        picture(&v.saliency, shape, scale),
        picture(&v.perception, shape, scale),
    ];
    let captions = ["image".to_string(), "reconstruction".into(), format!("saliency {class}"), format!("PV {class}")];
    crate::viz::labelled_row(&images.iter().zip(&captions).map(|(i, c)| (i, c.as_str())).collect::<Vec<_>>(), 8)
}

/// A misclassified image's row: x (with its true class), x̂, PV for the
/// predicted and for the true class, the saliency baseline for both.
pub fn misclassified_row(
    predicted: &Views,
    truth: &Views,
    name: &str,
    classes: &[String],
    shape: [usize; 3],
    scale: u32,
) -> RgbImage {
    let (pc, tc) = (&classes[predicted.class], &classes[truth.class]);
    let images = [
        picture(&predicted.original, shape, scale),
        picture(&predicted.reconstruction, shape, scale),
        picture(&predicted.perception, shape, scale),
        picture(&truth.perception, shape, scale),
        picture(&predicted.saliency, shape, scale),
        picture(&truth.saliency, shape, scale),
    ];
    let captions = [
        format!("{name}: {tc}"),
        "reconstruction".into(),
        format!("PV {pc} (pred.)"),
        format!("PV {tc} (true)"),
        format!("saliency {pc}"),
        format!("saliency {tc}"),
    ];
    crate::viz::labelled_row(&images.iter().zip(&captions).map(|(i, c)| (i, c.as_str())).collect::<Vec<_>>(), 8)
}
