//! Reference solution of the lab "Preprocessing": mean image, per-channel mean, per-channel mean and std, fitted on a training split.

pub use cnnlab::data::preprocess::Normalization;

/// Fitted statistics, for images of shape (c, h, w).
#[derive(Clone, Debug, PartialEq)]
pub struct Statistics {
    /// Per pixel and channel (mean image) or per channel.
    pub mean: Vec<f32>,
    /// Per channel; ones unless `ChannelMeanStd`.
    pub std: Vec<f32>,
}

/// μ per pixel position, then per channel μ and σ (population) over all images and pixels.
pub fn fit(mode: Normalization, images: &[u8], (c, h, w): (usize, usize, usize)) -> Statistics {
    let len = c * h * w;
    let n = (images.len() / len).max(1) as f64;
    let (mut sum, mut sum_sq) = (vec![0f64; len], vec![0f64; len]);
    for image in images.chunks_exact(len) {
        for (k, &v) in image.iter().enumerate() {
            let x = v as f64 / 255.0;
            sum[k] += x;
            sum_sq[k] += x * x;
        }
    }
    let plane = h * w;
    let count = n * plane as f64;
    let channel_mean: Vec<f64> = sum.chunks(plane).map(|s| s.iter().sum::<f64>() / count).collect();
    let channel_std: Vec<f64> = sum_sq
        .chunks(plane)
        .zip(&channel_mean)
        .map(|(s, m)| (s.iter().sum::<f64>() / count - m * m).max(1e-12).sqrt())
        .collect();
    let mean = match mode {
        Normalization::MeanImage => sum.iter().map(|s| (s / n) as f32).collect(),
        _ => channel_mean.iter().map(|&m| m as f32).collect(),
    };
    let std = match mode {
        Normalization::ChannelMeanStd => channel_std.iter().map(|&s| s as f32).collect(),
        _ => vec![1.0; c],
    };
    Statistics { mean, std }
}

/// (x/255 − μ)/σ, value by value.
pub fn apply(mode: Normalization, stats: &Statistics, image: &[u8], (_, h, w): (usize, usize, usize)) -> Vec<f32> {
    image
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let channel = k / (h * w);
            let mean = if mode == Normalization::MeanImage { stats.mean[k] } else { stats.mean[channel] };
            (v as f32 / 255.0 - mean) / stats.std[channel]
        })
        .collect()
}
