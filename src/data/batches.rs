//! Turning dataset images into normalised, augmented batch tensors, in parallel.

use crate::data::augment::Augment;
use crate::data::preprocess::Preprocessing;
use crate::data::Dataset;
use crate::Tensor;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;

/// The order in which epoch `epoch` visits `count` images (a fixed permutation per seed and epoch).
pub fn epoch_order(count: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed ^ (epoch as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)));
    order
}

// ANCHOR: batch
/// Images `indices` of `data` as an NCHW tensor, normalised by `pre` and,
/// when `augment` is given as (recipe, seed, epoch), augmented; plus their labels.
pub fn make_batch(
    data: &Dataset,
    indices: &[usize],
    pre: &Preprocessing,
    augment: Option<(&Augment, u64, usize)>,
) -> (Tensor, Vec<usize>) {
    let [c, h, w] = data.shape;
    let per_image = c * h * w;
    let mut values = vec![0f32; indices.len() * per_image];
    values.par_chunks_mut(per_image).zip(indices.par_iter()).for_each(|(out, &i)| {
        pre.apply(data.image(i), out);
        if let Some((recipe, seed, epoch)) = augment {
            recipe.apply(out, (c, h, w), seed, epoch, i);
        }
    });
    let labels = indices.iter().map(|&i| data.labels[i]).collect();
    (Tensor::from_vec(values, &[indices.len(), c, h, w]), labels)
}
// ANCHOR_END: batch
