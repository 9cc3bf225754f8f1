//! Perception visualization (Giulivi, Carman & Boracchi, BMVC 2021): a decoder reconstructs the image from a frozen classifier's features, and Grad-CAM masks the reconstruction — what the network sees, where it looks.
//!
//! * [`decoder`]: the decoder's blocks; [`ssim`]: structural similarity as a loss;
//! * [`train`]: training the decoder against the frozen encoder, its run folder and metrics;
//! * this file: the pieces both use — pixels, the encoder, the loss, the composition.

pub mod decoder;
pub mod show;
pub mod ssim;
pub mod train;

pub use decoder::{DecoderSpec, Upsampling};

use crate::data::preprocess::{Normalization, Preprocessing};
use crate::data::Dataset;
use crate::io::{Error, Result};
use crate::nn::{Module, StateKind};
use crate::Tensor;
use rayon::prelude::*;
use ssim::{ssim, SsimWindow};

/// The weights of the three loss terms.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossWeights {
    /// Mean squared error between reconstruction and image.
    pub mse: f64,
    /// 1 − SSIM between reconstruction and image.
    pub ssim: f64,
    /// Mean squared error between the frozen encoder's features of the reconstruction and of the image.
    pub feature: f64,
}

impl Default for LossWeights {
    /// 0.4 MSE + 0.6 SSIM as in the authors' code, plus the feature loss at weight 1
    /// (off in their code; measured on shapes it lifts class agreement from
    /// 31% to 83% after one epoch, at 1.5 dB of PSNR — see the book).
    fn default() -> Self {
        LossWeights { mse: 0.4, ssim: 0.6, feature: 1.0 }
    }
}

impl std::str::FromStr for LossWeights {
    type Err = Error;
    /// `mse=0.4,ssim=0.6,feature=0` (terms left out keep their default).
    fn from_str(s: &str) -> Result<Self> {
        let mut w = LossWeights::default();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let bad =
                || Error::msg(format!("--loss-weights: '{part}' is not NAME=WEIGHT with NAME mse, ssim or feature"));
            let (name, value) = part.split_once('=').ok_or_else(bad)?;
            let value: f64 = value.trim().parse().map_err(|_| bad())?;
            if !value.is_finite() || value < 0.0 {
                return Err(Error::msg(format!("--loss-weights: {name} = {value} must be a finite weight ≥ 0")));
            }
            match name.trim() {
                "mse" => w.mse = value,
                "ssim" => w.ssim = value,
                "feature" => w.feature = value,
                _ => return Err(bad()),
            }
        }
        if w.mse + w.ssim + w.feature == 0.0 {
            return Err(Error::msg("--loss-weights: every weight is 0, so there is nothing to minimise"));
        }
        Ok(w)
    }
}

/// Images `indices` of `data` as pixel values in [0, 1], `[N, C, H, W]`:
/// what the decoder reconstructs.
pub fn pixels(data: &Dataset, indices: &[usize]) -> Tensor {
    let per_image = data.image_len();
    let mut values = vec![0f32; indices.len() * per_image];
    values.par_chunks_mut(per_image).zip(indices.par_iter()).for_each(|(out, &i)| {
        out.iter_mut().zip(data.image(i)).for_each(|(o, &b)| *o = b as f32 / 255.0);
    });
    let [c, h, w] = data.shape;
    Tensor::from_vec(values, &[indices.len(), c, h, w])
}

// ANCHOR: normalize
/// The classifier's preprocessing as differentiable ops on pixel values in
/// [0, 1]: (x − μ)/σ, with μ per channel or per pixel (mean image), σ per
/// channel — so the encoder can read a reconstruction and the feature loss
/// can reach back through it.
pub fn normalize(pre: &Preprocessing, x: &Tensor) -> Tensor {
    let [c, h, w] = pre.shape;
    let mean_shape: &[usize] = if pre.mode == Normalization::MeanImage { &[1, c, h, w] } else { &[1, c, 1, 1] };
    let mean = Tensor::from_vec(pre.mean.clone(), mean_shape);
    let std = Tensor::from_vec(pre.std.clone(), &[1, c, 1, 1]);
    x.sub(&mean).div(&std)
}
// ANCHOR_END: normalize

/// The frozen encoder's feature maps at `layer` for normalised images, in
/// evaluation mode and without a graph.
///
/// # Errors
/// When no layer has that name.
pub fn encode(classifier: &mut dyn Module, x: &Tensor, layer: &str) -> Result<Tensor> {
    Ok(encode_with_logits(classifier, x, layer)?.0)
}

/// The feature maps at `layer` and the logits, from one forward pass in
/// evaluation mode without a graph.
///
/// # Errors
/// When no layer has that name (the message lists the layers).
pub fn encode_with_logits(classifier: &mut dyn Module, x: &Tensor, layer: &str) -> Result<(Tensor, Tensor)> {
    classifier.set_training(false);
    let (mut found, mut seen) = (None, Vec::new());
    let logits = crate::no_grad(|| {
        classifier.forward_inspect(x, "", &mut |name, out| {
            seen.push(format!("{name} {:?}", &out.shape()[1..]));
            if name == layer && out.rank() == 4 {
                found = Some(out.clone());
            }
            out
        })
    });
    let features = found.ok_or_else(|| crate::explain::capture::layer_error(layer, &seen))?;
    Ok((features, logits))
}

/// The encoder's features at `layer` of (normalised) `x` with the graph kept
/// back to `x` but not to the classifier's parameters (the feature loss).
fn encode_differentiably(classifier: &mut dyn Module, x: &Tensor, layer: &str) -> Option<Tensor> {
    classifier.set_training(false);
    crate::explain::capture::frozen(classifier, |m| {
        let mut found = None;
        m.forward_inspect(x, "", &mut |name, out| {
            if name == layer {
                found = Some(out.clone());
            }
            out
        });
        found
    })
}

/// The three loss terms of one batch, and their weighted sum.
pub struct Loss {
    /// w_mse·MSE + w_ssim·(1 − SSIM) + w_feature·MSE(features).
    pub total: Tensor,
    /// MSE(x̂, x).
    pub mse: f32,
    /// SSIM(x̂, x).
    pub ssim: f32,
}

// ANCHOR: loss
/// The decoder's loss for reconstructions `recon` of `target` (both in
/// [0, 1]). The feature term (when weighted) runs the reconstruction
/// through the frozen encoder — `features` are the image's own.
pub fn loss(
    recon: &Tensor,
    target: &Tensor,
    weights: LossWeights,
    encoder: Option<(&mut dyn Module, &Preprocessing, &str, &Tensor)>,
) -> Loss {
    let mse = recon.mse_loss(target);
    let similarity = ssim(recon, target, SsimWindow::default());
    let mut total = mse.mul_scalar(weights.mse).add(&similarity.neg().add_scalar(1.0).mul_scalar(weights.ssim));
    if let (true, Some((classifier, pre, layer, features))) = (weights.feature > 0.0, encoder) {
        let recon_features = encode_differentiably(classifier, &normalize(pre, recon), layer)
            .expect("the layer was found when the features were computed");
        total = total.add(&recon_features.mse_loss(features).mul_scalar(weights.feature));
    }
    Loss { mse: mse.item(), ssim: similarity.item(), total }
}
// ANCHOR_END: loss

// ANCHOR: compose
/// Perception visualization of one image: PV = m ⊙ x̂ + (1 − m) ⊙ white,
/// with `recon` the reconstruction x̂ (CHW, values in [0, 1]) and `mask` m
/// (H×W, values in [0, 1]: the Grad-CAM map after ReLU, divided by its
/// maximum, upsampled to the image). Where the network looks, what it
/// perceives; elsewhere, white.
pub fn compose(recon: &[f32], mask: &[f32]) -> Vec<f32> {
    let plane = mask.len();
    recon.iter().enumerate().map(|(i, &r)| mask[i % plane] * r + (1.0 - mask[i % plane])).collect()
}
// ANCHOR_END: compose

/// A fingerprint of every state tensor of a classifier (FNV-1a over names
/// and bits), stored with a decoder: features of another network — even of
/// the same architecture — mean nothing to it.
pub fn fingerprint(classifier: &mut dyn Module) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    };
    classifier.visit_state("", &mut |name, t, kind| {
        if kind != StateKind::Counter {
            eat(name.as_bytes());
            t.data().iter().for_each(|v| eat(&v.to_le_bytes()));
        }
    });
    format!("{hash:016x}")
}
