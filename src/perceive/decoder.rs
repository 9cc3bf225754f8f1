//! The perception decoder: blocks of ×2 upsampling, 3×3 convolution, batch norm and leaky ReLU that map a classifier's feature maps back to pixels.

use crate::io::{Error, Result};
use crate::nn::{BatchNorm, Conv2d, ConvTranspose2d, LeakyReLU, Sequential, Sigmoid, Upsample, UpsampleMode};
use crate::Conv2dConfig;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::fmt;
use std::str::FromStr;

/// How a decoder block doubles the resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upsampling {
    /// A learned transposed convolution, 3×3, stride 2 (the paper's choice):
    /// upsampling and convolution in one layer.
    Transposed,
    /// Each pixel repeated 2×2, then a 3×3 convolution.
    Nearest,
    /// Bilinear interpolation ×2, then a 3×3 convolution.
    Bilinear,
}

impl Upsampling {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Upsampling::Transposed => "transposed",
            Upsampling::Nearest => "nearest",
            Upsampling::Bilinear => "bilinear",
        }
    }
}

impl fmt::Display for Upsampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Upsampling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        [Upsampling::Transposed, Upsampling::Nearest, Upsampling::Bilinear]
            .into_iter()
            .find(|u| u.name() == s)
            .ok_or_else(|| Error::msg(format!("--upsample {s}: choose transposed, nearest or bilinear")))
    }
}

/// The decoder's shape: what it reads, what it writes, how it upsamples.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecoderSpec {
    /// The encoder layer's feature maps (K, h, w).
    pub features: [usize; 3],
    /// The image (C, H, W) it reconstructs.
    pub image: [usize; 3],
    /// Transposed convolution or interpolation + convolution.
    pub upsampling: Upsampling,
}

/// The narrowest block: widths halve from the feature channels down to this.
const MIN_WIDTH: usize = 16;

impl DecoderSpec {
    /// Checks that the image is the feature maps' size times a power of two.
    ///
    /// # Errors
    /// When it is not (the decoder doubles the resolution block by block).
    pub fn new(features: [usize; 3], image: [usize; 3], upsampling: Upsampling) -> Result<DecoderSpec> {
        let [_, h, w] = features;
        let [_, ih, iw] = image;
        let factor = ih / h.max(1);
        if h == 0 || w == 0 || ih != h * factor || iw != w * factor || !factor.is_power_of_two() {
            return Err(Error::msg(format!(
                "the decoder doubles the resolution block by block, but the feature maps are {h}x{w} and the \
                 images {ih}x{iw}, not a power-of-two multiple: choose another --layer"
            )));
        }
        Ok(DecoderSpec { features, image, upsampling })
    }

    /// Number of ×2 blocks: log₂(H/h).
    pub fn blocks(&self) -> usize {
        (self.image[1] / self.features[1]).trailing_zeros() as usize
    }

    // ANCHOR: widths
    /// Channels after each block: the feature channels halved block by block,
    /// never below 16 (for smallcnn's 128 maps of 8×8: 64, 32).
    pub fn widths(&self) -> Vec<usize> {
        let mut width = self.features[0];
        (0..self.blocks())
            .map(|_| {
                width = (width / 2).max(MIN_WIDTH);
                width
            })
            .collect()
    }
    // ANCHOR_END: widths

    // ANCHOR: build
    /// The decoder as one `nn.Sequential` (so its state names are PyTorch's):
    /// per block [ConvTranspose2d(3, stride 2) | Upsample(×2) + Conv2d(3)],
    /// BatchNorm2d, LeakyReLU(0.2); then Conv2d(3×3, to the image's channels)
    /// and a sigmoid, so pixels land in (0, 1).
    pub fn build(&self, seed: u64) -> Sequential {
        let mut rng = StdRng::seed_from_u64(seed);
        let same = Conv2dConfig::default().padding(1);
        let mut seq = Sequential::new();
        let mut width = self.features[0];
        for out in self.widths() {
            seq = match self.upsampling {
                Upsampling::Transposed => {
                    seq.push(ConvTranspose2d::new(width, out, 3, (same.stride(2), 1), false, &mut rng))
                }
                Upsampling::Nearest | Upsampling::Bilinear => {
                    let mode = if self.upsampling == Upsampling::Nearest {
                        UpsampleMode::Nearest
                    } else {
                        UpsampleMode::Bilinear
                    };
                    seq.push(Upsample { factor: 2, mode }).push(Conv2d::new(width, out, 3, same, false, &mut rng))
                }
            };
            seq = seq.push(BatchNorm::new_2d(out)).push(LeakyReLU(0.2));
            width = out;
        }
        seq.push(Conv2d::new(width, self.image[0], 3, same, true, &mut rng)).push(Sigmoid)
    }
    // ANCHOR_END: build
}
