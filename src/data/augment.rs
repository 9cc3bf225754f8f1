//! Data augmentation: random crops with zero padding, horizontal flips (random or alternating), translations, cutout. Deterministic by seed.

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
    /// Shift by up to this many pixels in each direction, repeating the
    /// border pixels (or mirroring the image at its border, with `reflect`).
    pub translate: usize,
    /// Translations fill in by reflection at the border (PyTorch's
    /// `F.pad(mode="reflect")` then a crop) instead of repeating the border pixels.
    #[serde(default)]
    pub reflect: bool,
    /// With `flip`: alternating flips (Jordan 2024) instead of a fresh coin
    /// each epoch — each image gets one random orientation for the even
    /// epochs and the other for the odd ones, so every pair of consecutive
    /// epochs shows both.
    #[serde(default)]
    pub alternate_flip: bool,
    /// Cutout (DeVries & Taylor 2017): set a square of this side to zero (the
    /// training mean, since images are normalised first), centred on a random
    /// pixel and clipped at the borders; 0 = off.
    #[serde(default)]
    pub cutout: usize,
}

impl Augment {
    /// No augmentation.
    pub fn none() -> Self {
        Self::default()
    }

    /// Crop with padding 4 and horizontal flips: the usual CIFAR recipe.
    pub fn standard() -> Self {
        Augment { crop_padding: 4, flip: true, translate: 0, cutout: 0, reflect: false, alternate_flip: false }
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
        let (Draws { crop_dy, crop_dx, dy, dx, flip }, mut rng) = self.draw(seed, epoch, index);
        let source = image.to_vec();
        for ch in 0..c {
            let plane = &source[ch * h * w..(ch + 1) * h * w];
            for y in 0..h as isize {
                for x in 0..w as isize {
                    let x_flipped = if flip { w as isize - 1 - x } else { x };
                    // translation repeats (or mirrors) the border; the padded crop reads zeros outside
                    let sy = self.border(y + dy, h) + crop_dy;
                    let sx = self.border(x_flipped + dx, w) + crop_dx;
                    let inside = sy >= 0 && sx >= 0 && sy < h as isize && sx < w as isize;
                    image[ch * h * w + (y as usize) * w + x as usize] =
                        if inside { plane[sy as usize * w + sx as usize] } else { 0.0 };
                }
            }
        }
        if self.cutout > 0 {
            // drawn last, so runs without cutout see the same random choices as before it existed
            let centre = (rng.random_range(0..h), rng.random_range(0..w));
            cut_out(image, (h, w), centre, self.cutout);
        }
    }
    // ANCHOR_END: apply

    /// Whether [`Augment::apply`] mirrors image `index` in epoch `epoch`
    /// (tasks whose targets have a left and a right must mirror them too).
    pub fn flips(&self, seed: u64, epoch: usize, index: usize) -> bool {
        !self.is_none() && self.draw(seed, epoch, index).0.flip
    }

    /// The random choices for one image, and the generator to draw the rest from.
    fn draw(&self, seed: u64, epoch: usize, index: usize) -> (Draws, StdRng) {
        let mut rng = StdRng::seed_from_u64(
            seed ^ (epoch as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)
                ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let mut shift = |max: usize| rng.random_range(-(max as i64)..=max as i64) as isize;
        let (crop_dy, crop_dx) = (shift(self.crop_padding), shift(self.crop_padding));
        let (dy, dx) = (shift(self.translate), shift(self.translate));
        // the coin is drawn in either flip mode, so the other choices do not depend on the mode
        let coin = self.flip && rng.random::<bool>();
        let flip = if self.alternate_flip { self.flip && alternating_flip(seed, index, epoch) } else { coin };
        (Draws { crop_dy, crop_dx, dy, dx, flip }, rng)
    }

    /// The source index for position `i` of a translated axis of length `n`:
    /// clamped into the axis (border repeated), or mirrored at the border
    /// without repeating it (−1 → 1, n → n − 2) when `reflect` is set.
    fn border(&self, i: isize, n: usize) -> isize {
        let last = n as isize - 1;
        if !self.reflect {
            return i.clamp(0, last);
        }
        let i = if i < 0 { -i } else { i };
        let i = if i > last { 2 * last - i } else { i };
        i.clamp(0, last)
    }
}

/// One image's random choices: the crop offset, the translation, the mirror.
struct Draws {
    crop_dy: isize,
    crop_dx: isize,
    dy: isize,
    dx: isize,
    flip: bool,
}

// ANCHOR: alternating_flip
/// Alternating flips: image `index` is mirrored in epoch `epoch` when its own
/// fixed coin (drawn from the seed and the index alone) differs from the
/// epoch's parity — so it shows one orientation in even epochs, the other in odd ones.
pub fn alternating_flip(seed: u64, index: usize, epoch: usize) -> bool {
    let coin =
        StdRng::seed_from_u64(seed ^ 0xA17E_F11F ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)).random::<bool>();
    coin != epoch.is_multiple_of(2)
}
// ANCHOR_END: alternating_flip

// ANCHOR: cut_out
/// Sets the `side`×`side` square centred on `centre` (clipped at the borders) to zero in every channel.
fn cut_out(image: &mut [f32], (h, w): (usize, usize), (centre_y, centre_x): (usize, usize), side: usize) {
    let rows = centre_y.saturating_sub(side / 2)..(centre_y + side.div_ceil(2)).min(h);
    let cols = centre_x.saturating_sub(side / 2)..(centre_x + side.div_ceil(2)).min(w);
    for plane in image.chunks_mut(h * w) {
        for y in rows.clone() {
            plane[y * w + cols.start..y * w + cols.end].fill(0.0);
        }
    }
}
// ANCHOR_END: cut_out

#[cfg(test)]
mod tests {
    use super::*;

    const C: usize = 3;
    const H: usize = 6;
    const W: usize = 7;

    /// A CHW image whose pixels are all distinct and none is zero.
    fn distinct() -> Vec<f32> {
        (1..=C * H * W).map(|v| v as f32).collect()
    }

    fn augmented(recipe: Augment, index: usize) -> Vec<f32> {
        let mut image = distinct();
        recipe.apply(&mut image, (C, H, W), 7, 3, index);
        image
    }

    /// The image remapped: pixel (y, x) shows source pixel `at(y, x)`, or zero where that is `None`.
    fn moved(at: impl Fn(isize, isize) -> Option<(usize, usize)>) -> Vec<f32> {
        let source = distinct();
        let mut out = vec![0.0; C * H * W];
        for ch in 0..C {
            for y in 0..H {
                for x in 0..W {
                    if let Some((sy, sx)) = at(y as isize, x as isize) {
                        out[(ch * H + y) * W + x] = source[(ch * H + sy) * W + sx];
                    }
                }
            }
        }
        out
    }

    /// Every (dy, dx) with both in −max..=max.
    fn offsets(max: isize) -> impl Iterator<Item = (isize, isize)> {
        (-max..=max).flat_map(move |dy| (-max..=max).map(move |dx| (dy, dx)))
    }

    fn inside(y: isize, x: isize) -> Option<(usize, usize)> {
        (y >= 0 && x >= 0 && y < H as isize && x < W as isize).then_some((y as usize, x as usize))
    }

    #[test]
    fn crops_are_shifts_with_zeros_outside_and_every_offset_occurs() {
        let recipe = Augment { crop_padding: 2, ..Augment::none() };
        let mut seen = std::collections::BTreeSet::new();
        for index in 0..400 {
            let out = augmented(recipe, index);
            let matching: Vec<(isize, isize)> =
                offsets(2).filter(|&(dy, dx)| out == moved(|y, x| inside(y + dy, x + dx))).collect();
            assert_eq!(matching.len(), 1, "image {index} is not exactly one padded crop");
            seen.insert(matching[0]);
        }
        assert_eq!(seen.len(), 25, "all 5x5 offsets of padding 2 occur");
    }

    #[test]
    fn flips_mirror_every_row_about_half_the_time() {
        let recipe = Augment { flip: true, ..Augment::none() };
        let mirrored = moved(|y, x| inside(y, W as isize - 1 - x));
        let flips = (0..400)
            .map(|index| augmented(recipe, index))
            .inspect(|out| assert!(*out == distinct() || *out == mirrored))
            .filter(|out| *out == mirrored)
            .count();
        assert!((150..250).contains(&flips), "{flips} of 400 flipped");
    }

    #[test]
    fn translations_repeat_the_border() {
        let recipe = Augment { translate: 2, ..Augment::none() };
        let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1);
        for index in 0..100 {
            let out = augmented(recipe, index);
            let matches =
                offsets(2).filter(|&(dy, dx)| out == moved(|y, x| inside(clamp(y + dy, H), clamp(x + dx, W)))).count();
            assert_eq!(matches, 1, "image {index} is not exactly one translation");
        }
    }

    #[test]
    fn reflecting_translations_mirror_at_the_border_without_repeating_it() {
        let recipe = Augment { translate: 2, reflect: true, ..Augment::none() };
        let mirror = |v: isize, n: usize| {
            let last = n as isize - 1;
            if v < 0 {
                -v
            } else if v > last {
                2 * last - v
            } else {
                v
            }
        };
        let mut seen = std::collections::HashSet::new();
        for index in 0..200 {
            let out = augmented(recipe, index);
            let shifts: Vec<_> = offsets(2)
                .filter(|&(dy, dx)| out == moved(|y, x| inside(mirror(y + dy, H), mirror(x + dx, W))))
                .collect();
            assert_eq!(shifts.len(), 1, "image {index} is not exactly one reflected translation");
            seen.insert(shifts[0]);
        }
        assert_eq!(seen.len(), 25, "every shift in [-2, 2]² occurs");
    }

    #[test]
    fn alternating_flips_show_each_image_both_ways_in_consecutive_epochs() {
        let recipe = Augment { flip: true, alternate_flip: true, ..Augment::none() };
        let mirrored = moved(|y, x| inside(y, W as isize - 1 - x));
        let mut flipped_in_epoch_0 = 0;
        for index in 0..100 {
            let at = |epoch| {
                let mut image = distinct();
                recipe.apply(&mut image, (C, H, W), 7, epoch, index);
                image == mirrored
            };
            let even = at(0);
            assert!((0..6).all(|e| at(e) == (even == (e % 2 == 0))), "image {index} alternates");
            flipped_in_epoch_0 += even as usize;
        }
        assert!((30..=70).contains(&flipped_in_epoch_0), "{flipped_in_epoch_0} of 100 start flipped");
    }

    #[test]
    fn cutout_zeroes_one_square_in_every_channel_clipped_at_the_border() {
        let side = 4;
        let recipe = Augment { cutout: side, ..Augment::none() };
        let (mut full, mut clipped) = (0, 0);
        for index in 0..300 {
            let out = augmented(recipe, index);
            let zero = |y: usize, x: usize| out[y * W + x] == 0.0;
            let rows: Vec<usize> = (0..H).filter(|&y| (0..W).any(|x| zero(y, x))).collect();
            let cols: Vec<usize> = (0..W).filter(|&x| (0..H).any(|y| zero(y, x))).collect();
            assert!(!rows.is_empty() && rows.len() <= side && cols.len() <= side);
            assert_eq!(rows.len(), rows[rows.len() - 1] - rows[0] + 1, "rows of the square are contiguous");
            assert_eq!(cols.len(), cols[cols.len() - 1] - cols[0] + 1, "columns of the square are contiguous");
            for (i, (&value, &original)) in out.iter().zip(&distinct()).enumerate() {
                let (y, x) = (i / W % H, i % W);
                let in_square = rows.contains(&y) && cols.contains(&x);
                assert_eq!(value, if in_square { 0.0 } else { original }, "image {index}, pixel {i}");
            }
            if rows.len() == side && cols.len() == side {
                full += 1;
            } else {
                clipped += 1;
            }
        }
        assert!(full > 0 && clipped > 0, "{full} whole squares, {clipped} clipped ones");
    }

    #[test]
    fn cutout_leaves_the_other_random_choices_unchanged() {
        let without = Augment { crop_padding: 2, flip: true, translate: 1, ..Augment::none() };
        let with = Augment { cutout: 3, ..without };
        for index in 0..50 {
            let (a, b) = (augmented(without, index), augmented(with, index));
            let differing = a.iter().zip(&b).filter(|(p, q)| p != q).count();
            assert!(b.iter().zip(&a).all(|(&q, &p)| q == p || q == 0.0), "image {index}");
            assert!(differing <= C * 9, "image {index}: {differing} pixels changed");
        }
    }

    #[test]
    fn the_same_seed_epoch_and_index_give_the_same_image() {
        let recipe = Augment { crop_padding: 4, flip: true, translate: 2, cutout: 3, ..Augment::none() };
        let run = |seed, epoch, index| {
            let mut image = distinct();
            recipe.apply(&mut image, (C, H, W), seed, epoch, index);
            image
        };
        assert_eq!(run(1, 2, 3), run(1, 2, 3));
        let variants = [run(1, 2, 3), run(2, 2, 3), run(1, 3, 3), run(1, 2, 4)];
        assert!(variants[1..].iter().all(|v| *v != variants[0]), "seed, epoch and index each change the choice");
    }
}
