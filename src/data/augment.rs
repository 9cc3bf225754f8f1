//! Data augmentation: random crops with zero padding, horizontal flips, translations. Deterministic by seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which augmentations to apply to training images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Augment {
    /// Pad by this many zero pixels on every side, then crop back to the
    /// original size at a random offset (the standard CIFAR augmentation, 4).
    pub crop_padding: usize,
    /// Mirror left–right with probability ½.
    pub flip: bool,
    /// Shift by up to this many pixels in each direction, repeating the border pixels.
    pub translate: usize,
}

impl Augment {
    /// No augmentation.
    pub fn none() -> Self {
        Self::default()
    }

    /// Crop with padding 4 and horizontal flips: the usual CIFAR recipe.
    pub fn standard() -> Self {
        Augment { crop_padding: 4, flip: true, translate: 0 }
    }

    /// True when nothing would change.
    pub fn is_none(&self) -> bool {
        *self == Self::none()
    }

    // ANCHOR: apply
    /// Augments a normalised CHW image in place. The random choices come from
    /// (seed, epoch, index), so a run is reproducible on any number of threads.
    pub fn apply(&self, image: &mut [f32], (c, h, w): (usize, usize, usize), seed: u64, epoch: usize, index: usize) {
        if self.is_none() {
            return;
        }
        let mut rng = StdRng::seed_from_u64(
            seed ^ (epoch as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)
                ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mut shift = |max: usize| rng.random_range(-(max as i64)..=max as i64) as isize;
        let (crop_dy, crop_dx) = (shift(self.crop_padding), shift(self.crop_padding));
        let (dy, dx) = (shift(self.translate), shift(self.translate));
        let flip = self.flip && rng.random::<bool>();
        let source = image.to_vec();
        for ch in 0..c {
            let plane = &source[ch * h * w..(ch + 1) * h * w];
            for y in 0..h as isize {
                for x in 0..w as isize {
                    let x_flipped = if flip { w as isize - 1 - x } else { x };
                    // translation repeats the border; the padded crop reads zeros outside
                    let sy = (y + dy).clamp(0, h as isize - 1) + crop_dy;
                    let sx = (x_flipped + dx).clamp(0, w as isize - 1) + crop_dx;
                    let inside = sy >= 0 && sx >= 0 && sy < h as isize && sx < w as isize;
                    image[ch * h * w + (y as usize) * w + x as usize] =
                        if inside { plane[sy as usize * w + sx as usize] } else { 0.0 };
                }
            }
        }
    }
    // ANCHOR_END: apply
}
