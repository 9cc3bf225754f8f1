//! Input normalisation as in the lecture: mean image (AlexNet), per-channel mean (VGG), per-channel mean and std (ResNet).
//!
//! Pixels are first scaled to [0, 1]. The statistics are computed on the
//! training split only — the test split stands for data never seen, and
//! estimating anything from it would leak information into the model — and
//! are saved with the model, so evaluation and explanation apply exactly
//! the same transformation.

use super::Dataset;
use crate::io::{Error, Result};
use rayon::prelude::*;

/// Which statistics to subtract (and divide by).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Normalization {
    /// x − μ(pixel, channel): subtract the mean image (AlexNet).
    MeanImage,
    /// x − μ(channel): subtract one mean per channel (VGG).
    ChannelMean,
    /// (x − μ(channel)) / σ(channel) (ResNet).
    ChannelMeanStd,
}

impl std::str::FromStr for Normalization {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mean-image" => Ok(Normalization::MeanImage),
            "channel-mean" => Ok(Normalization::ChannelMean),
            "channel-mean-std" => Ok(Normalization::ChannelMeanStd),
            _ => Err(Error::msg(format!(
                "unknown normalisation '{s}'; choose mean-image, channel-mean or channel-mean-std"
            ))),
        }
    }
}

/// Fitted normalisation: what to subtract and divide by, per value of an image.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Preprocessing {
    /// The mode the statistics were fitted for.
    pub mode: Normalization,
    /// (C, H, W) of the images.
    pub shape: [usize; 3],
    /// Per-pixel means (C·H·W values) for `MeanImage`, per-channel means (C) otherwise.
    pub mean: Vec<f32>,
    /// Per-channel standard deviations (C; ones unless `ChannelMeanStd`).
    pub std: Vec<f32>,
}

impl Preprocessing {
    /// Checks statistics read from outside (a checkpoint's metadata) against
    /// the model's input `[c, h, w]`: the shape, one mean per channel (per
    /// value for the mean image), one positive finite std per channel.
    pub fn check(&self, input: [usize; 3]) -> std::result::Result<(), String> {
        let [c, h, w] = input;
        let means = if self.mode == Normalization::MeanImage { c * h * w } else { c };
        if self.shape != input {
            return Err(format!("shape {:?} differs from the model's input {input:?}", self.shape));
        }
        if self.mean.len() != means || self.std.len() != c {
            return Err(format!(
                "{} means and {} stds for {c} channels (expected {means} and {c})",
                self.mean.len(),
                self.std.len()
            ));
        }
        if self.mean.iter().any(|m| !m.is_finite()) || self.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err("means must be finite and stds finite and positive".into());
        }
        Ok(())
    }

    // ANCHOR: fit
    /// Fits the statistics on a training split (pixels scaled to [0, 1]).
    pub fn fit(mode: Normalization, train: &Dataset) -> Self {
        let [c, h, w] = train.shape;
        let n = train.len().max(1) as f64;
        // Σx and Σx² per pixel position, summed in fixed chunks then in order (deterministic)
        let sums = train
            .images
            .par_chunks(train.image_len() * 256)
            .map(|chunk| {
                let mut s = vec![(0f64, 0f64); c * h * w];
                for image in chunk.chunks_exact(c * h * w) {
                    for (acc, &v) in s.iter_mut().zip(image) {
                        let x = v as f64 / 255.0;
                        (acc.0, acc.1) = (acc.0 + x, acc.1 + x * x);
                    }
                }
                s
            })
            .collect::<Vec<_>>()
            .into_iter()
            .reduce(|a, b| a.iter().zip(&b).map(|(x, y)| (x.0 + y.0, x.1 + y.1)).collect())
            .unwrap_or_else(|| vec![(0.0, 0.0); c * h * w]);
        let per_channel = |k: usize| -> (f64, f64) {
            let plane = &sums[k * h * w..(k + 1) * h * w];
            let count = n * (h * w) as f64;
            let mean = plane.iter().map(|s| s.0).sum::<f64>() / count;
            let var = plane.iter().map(|s| s.1).sum::<f64>() / count - mean * mean;
            (mean, var.max(1e-12).sqrt())
        };
        let channel: Vec<(f64, f64)> = (0..c).map(per_channel).collect();
        let mean = match mode {
            Normalization::MeanImage => sums.iter().map(|s| (s.0 / n) as f32).collect(),
            _ => channel.iter().map(|m| m.0 as f32).collect(),
        };
        let std = match mode {
            Normalization::ChannelMeanStd => channel.iter().map(|m| m.1 as f32).collect(),
            _ => vec![1.0; c],
        };
        Preprocessing { mode, shape: train.shape, mean, std }
    }
    // ANCHOR_END: fit

    // ANCHOR: apply
    /// Normalises one image of bytes (CHW) into `out`.
    pub fn apply(&self, image: &[u8], out: &mut [f32]) {
        let [_, h, w] = self.shape;
        for (i, (o, &v)) in out.iter_mut().zip(image).enumerate() {
            let channel = i / (h * w);
            let mean = if self.mode == Normalization::MeanImage { self.mean[i] } else { self.mean[channel] };
            *o = (v as f32 / 255.0 - mean) / self.std[channel];
        }
    }
    // ANCHOR_END: apply

    /// Normalises one image of any size `[c, h, w]` (CHW bytes) into `out`.
    /// Per-channel statistics apply at any size; a mean image only at the
    /// size it was fitted on.
    ///
    /// # Errors
    /// When the channel count differs from the fitted one, or the mode is
    /// [`Normalization::MeanImage`] and the size differs.
    pub fn apply_at_size(&self, image: &[u8], [c, h, w]: [usize; 3], out: &mut [f32]) -> Result<()> {
        let [fc, fh, fw] = self.shape;
        if c != fc || (self.mode == Normalization::MeanImage && (h, w) != (fh, fw)) {
            return Err(Error::msg(format!(
                "the model's normalisation ({:?}) was fitted on {fc}x{fh}x{fw} images and cannot normalise                  a {c}x{h}x{w} image{}",
                self.mode,
                if c == fc { " (a mean image has one value per pixel; per-channel normalisations work at any size)" } else { "" }
            )));
        }
        if [c, h, w] == self.shape {
            self.apply(image, out);
        } else {
            Preprocessing { shape: [c, h, w], ..self.clone() }.apply(image, out);
        }
        Ok(())
    }

    /// Undoes [`Preprocessing::apply`]: back to bytes, for pictures.
    pub fn invert(&self, values: &[f32]) -> Vec<u8> {
        let [_, h, w] = self.shape;
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let channel = i / (h * w);
                let mean = if self.mode == Normalization::MeanImage { self.mean[i] } else { self.mean[channel] };
                ((v * self.std[channel] + mean) * 255.0).round().clamp(0.0, 255.0) as u8
            })
            .collect()
    }
}
