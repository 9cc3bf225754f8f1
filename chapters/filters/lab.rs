//! Lab "Filters and activation maps": a filter as a picture on a symmetric scale, one activation map by hand, and the channels that fire most.
//!
//! Replace each `todo!`, then run `cargo lab filters`.
#![allow(unused_variables)]

// ANCHOR: task
/// A filter (its weights flattened, any shape) as grey levels with zero at
/// mid-grey: w ↦ round(255 · (½ + ½·w/s)), s = max |w| over the filter.
/// An all-zero filter is all mid-grey (128).
pub fn signed_grey(filter: &[f32]) -> Vec<u8> {
    todo!("one scale for the whole filter, symmetric around zero")
}

/// One activation map: ReLU(b + Σ_{c,i,j} w[c,i,j] · x[c, y+i−p, x+j−p])
/// for a CHW `image` of shape `[c, h, w]`, one filter `[c, kh, kw]`, bias
/// `b`, stride 1 and `pad` zeros on every side; `[h + 2p − kh + 1, w + 2p − kw + 1]` values.
pub fn activation_map(
    image: &[f32],
    [c, h, w]: [usize; 3],
    filter: &[f32],
    (kh, kw): (usize, usize),
    bias: f32,
    pad: usize,
) -> Vec<f32> {
    todo!("taps that fall into the padding read 0")
}

/// The `n` channels of a layer's output `maps` (`[k, h, w]`) with the
/// largest mean activation, largest first (ties: the lower index first).
pub fn strongest_channels(maps: &[f32], [k, h, w]: [usize; 3], n: usize) -> Vec<usize> {
    todo!("the mean of each plane, then the indices sorted by it")
}
// ANCHOR_END: task
