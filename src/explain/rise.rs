//! RISE (Petsiuk et al. 2018): saliency from how the class probability reacts to random masks.
//!
//! S_c = 1/(N·p) Σ_i f_c(I ⊙ M_i) · M_i

use super::capture::resolve_targets;
use super::gradcam::Maps;
use super::Target;
use crate::io::Result;
use crate::nn::Module;
use crate::viz::Map;
use crate::{no_grad, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Settings of RISE.
#[derive(Clone, Copy, Debug)]
pub struct RiseOptions {
    /// N: random masks (default 1000).
    pub masks: usize,
    /// s: each mask starts as an s×s grid of coin flips (default 8).
    pub grid: usize,
    /// p: probability that a grid cell is kept (default 0.5).
    pub keep: f32,
    /// Images per inference batch (default 128).
    pub batch: usize,
    /// Seed of the masks.
    pub seed: u64,
}

impl Default for RiseOptions {
    fn default() -> Self {
        RiseOptions { masks: 1000, grid: 8, keep: 0.5, batch: 128, seed: 0 }
    }
}

// ANCHOR: masks
/// N soft masks of `height × width`: an s×s binary grid (cells kept with
/// probability p), bilinearly upsampled to (s+1)·cell pixels, with
/// cell = ⌈H/s⌉, then cropped at a random shift in [0, cell) — so the mask's
/// edges fall anywhere, not only on the grid.
pub fn masks(opts: &RiseOptions, (height, width): (usize, usize)) -> Vec<Map> {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let s = opts.grid.max(1);
    let (cell_h, cell_w) = (height.div_ceil(s), width.div_ceil(s));
    (0..opts.masks)
        .map(|_| {
            let grid: Vec<f32> = (0..s * s).map(|_| f32::from(rng.random::<f32>() < opts.keep)).collect();
            let big = Map::new(s, s, grid).upsample((s + 1) * cell_h, (s + 1) * cell_w);
            let (oy, ox) = (rng.random_range(0..cell_h), rng.random_range(0..cell_w));
            let values = (0..height * width).map(|i| big.at(oy + i / width, ox + i % width)).collect();
            Map::new(height, width, values)
        })
        .collect()
}
// ANCHOR_END: masks

// ANCHOR: rise
/// RISE saliency for each image of the batch `x`, at input resolution. The
/// masks multiply the *normalised* image, so a masked pixel takes the
/// training set's mean colour. f_c is the softmax probability of class c.
///
/// # Errors
/// When `class` is out of range.
pub fn rise(model: &mut dyn Module, x: &Tensor, target: &Target, opts: &RiseOptions) -> Result<Maps> {
    let (n, c, height, width) = x.dims4("rise");
    model.set_training(false);
    let logits = no_grad(|| model.forward(x));
    let targets = resolve_targets(&logits, target)?;
    let masks = masks(opts, (height, width));
    let plane = height * width;
    let mut maps = Vec::with_capacity(n);
    for (i, &target) in targets.iter().enumerate() {
        let image = &x.data()[i * c * plane..(i + 1) * c * plane];
        let mut saliency = vec![0f32; plane];
        for chunk in masks.chunks(opts.batch.max(1)) {
            let masked: Vec<f32> = chunk
                .iter()
                .flat_map(|m| image.chunks_exact(plane).flat_map(|p| p.iter().zip(&m.values).map(|(v, w)| v * w)))
                .collect();
            let batch = Tensor::from_vec(masked, &[chunk.len(), c, height, width]);
            let probs = no_grad(|| model.forward(&batch).softmax(1));
            for (m, row) in chunk.iter().zip(probs.data().chunks_exact(probs.shape()[1])) {
                saliency.iter_mut().zip(&m.values).for_each(|(s, w)| *s += row[target] * w);
            }
        }
        let scale = 1.0 / (opts.masks.max(1) as f32 * opts.keep);
        maps.push(Map::new(height, width, saliency.iter().map(|v| v * scale).collect()));
    }
    Ok((maps, logits, targets))
}
// ANCHOR_END: rise
