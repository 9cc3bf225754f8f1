//! Lab "Preprocessing": fit the three normalisations of the lecture on a training split, and apply them to any image.
//!
//! Replace each `todo!`, then run `cargo lab preprocessing`.
#![allow(unused_variables)]

pub use cnnlab::data::preprocess::Normalization;

// ANCHOR: task
/// Fitted statistics, for images of shape (c, h, w).
#[derive(Clone, Debug, PartialEq)]
pub struct Statistics {
    /// `MeanImage`: one mean per pixel and channel (c·h·w values);
    /// otherwise one mean per channel (c values).
    pub mean: Vec<f32>,
    /// One standard deviation per channel (c values); all ones unless
    /// `ChannelMeanStd`.
    pub std: Vec<f32>,
}

/// Fits `mode` on the training images: `images` holds n images of
/// (c, h, w) bytes, CHW, one after the other; pixel values are first scaled
/// to [0, 1] (divide by 255). Means are averages over the images (and, per
/// channel, over the pixels); the standard deviation is the population one
/// (divide by the count), per channel over all images and pixels.
///
/// Only training images come in: statistics of the test split would leak it
/// into the model.
pub fn fit(mode: Normalization, images: &[u8], (c, h, w): (usize, usize, usize)) -> Statistics {
    todo!("sums per pixel (mean image) or per channel (means, then variances)")
}

/// Normalises one image of bytes with fitted statistics:
/// (x/255 − mean) / std, with the mean of this pixel (mean image) or of its
/// channel, and the std of its channel.
pub fn apply(mode: Normalization, stats: &Statistics, image: &[u8], (c, h, w): (usize, usize, usize)) -> Vec<f32> {
    todo!("one subtraction and one division per value")
}
// ANCHOR_END: task
