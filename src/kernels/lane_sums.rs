//! Per-channel sums over a batch `[N, C, …]`, in a fixed order so the results do not depend on the thread count: the reductions batch norm is made of.

use crate::tensor::Element;
use rayon::prelude::*;
use std::ops::Range;

/// For every channel, the two sums of `f(channel, plane)` over its N planes
/// (`plane` is the index range of one image's map of that channel), in f64,
/// added in batch order so the result does not depend on the thread count.
pub(crate) fn channel_sums(
    dims: (usize, usize, usize),
    f: impl Fn(usize, Range<usize>) -> (f64, f64) + Sync,
) -> Vec<(f64, f64)> {
    let (n, c, l) = dims;
    let per_channel = |ch: usize| {
        let planes = (0..n).map(|b| f(ch, (b * c + ch) * l..(b * c + ch + 1) * l));
        planes.fold((0.0, 0.0), |acc, s| (acc.0 + s.0, acc.1 + s.1))
    };
    (0..c).into_par_iter().map(per_channel).collect()
}

/// A new `(N, C, L)` buffer, plane by plane in parallel: the plane of
/// channel `ch` at index range `plane` takes the values `f(ch, plane)`.
pub(crate) fn fill_planes<E: Element, I: IntoIterator<Item = E>>(
    dims: (usize, usize, usize),
    f: impl Fn(usize, Range<usize>) -> I + Sync,
) -> Vec<E> {
    let (n, c, l) = dims;
    super::fill_chunks(n * c * l, l, |plane| f(plane % c, plane * l..(plane + 1) * l))
}

// ANCHOR: lane_sums
/// The two sums Σ term(a[i], b[i]) over a plane, in f64, with eight running
/// partial sums each (lane j adds the terms i ≡ j mod 8, then the lanes are
/// added in order). One running sum would make every addition wait for the
/// previous one; eight independent ones let the compiler use vector
/// registers, and because the order is fixed the result is the same on every
/// run and thread count.
pub(crate) fn lane_sums<E: Element>(a: &[E], b: &[E], term: impl Fn(E, E) -> (f64, f64)) -> (f64, f64) {
    super::vectorized(
        #[inline(always)]
        || lane_sums_inline(a, b, term),
    )
}

/// The loops of [`lane_sums`], always inlined so that `vectorized` compiles
/// them for wide vectors: per block of 64 values, first every term (one
/// loop, no dependence between values), then the lane sums, eight terms at
/// a time added to the eight lanes as one array (value i goes to lane
/// i mod 8, in order) — written this way, both become vector instructions.
#[inline(always)]
fn lane_sums_inline<E: Element>(a: &[E], b: &[E], term: impl Fn(E, E) -> (f64, f64)) -> (f64, f64) {
    const LANES: usize = 8;
    const BLOCK: usize = 8 * LANES;
    let (mut first, mut second) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (a_blocks, b_blocks) = (a.chunks_exact(BLOCK), b.chunks_exact(BLOCK));
    let (a_rest, b_rest) = (a_blocks.remainder(), b_blocks.remainder());
    for (block_a, block_b) in a_blocks.zip(b_blocks) {
        let (mut terms1, mut terms2) = ([0.0f64; BLOCK], [0.0f64; BLOCK]);
        for j in 0..BLOCK {
            (terms1[j], terms2[j]) = term(block_a[j], block_b[j]);
        }
        for (row1, row2) in terms1.chunks_exact(LANES).zip(terms2.chunks_exact(LANES)) {
            first = std::array::from_fn(|lane| first[lane] + row1[lane]);
            second = std::array::from_fn(|lane| second[lane] + row2[lane]);
        }
    }
    // the rest starts at a multiple of 8, so value j of it belongs to lane j mod 8
    for (j, (&va, &vb)) in a_rest.iter().zip(b_rest).enumerate() {
        let (t1, t2) = term(va, vb);
        (first[j % LANES], second[j % LANES]) = (first[j % LANES] + t1, second[j % LANES] + t2);
    }
    (first.iter().sum(), second.iter().sum())
}
// ANCHOR_END: lane_sums

#[cfg(test)]
mod tests {
    use super::*;

    /// `vectorized` may only change how many values an instruction handles,
    /// never the result: the sums with and without it are the same bits, and
    /// the same as adding value i into lane i mod 8 one value at a time.
    #[test]
    fn lane_sums_are_the_same_bits_with_and_without_wide_vectors() {
        // f64 values with full mantissas, so that a different order of additions rounds differently
        let values = |seed: f64, len: usize| -> Vec<f64> { (0..len).map(|i| (i as f64 * seed).sin() - 0.3).collect() };
        for len in [0, 5, 8, 63, 64, 65, 1000, 1024] {
            let (x, dy) = (values(1.1, len), values(7.3, len));
            let term = |v: f64, d: f64| {
                let masked = std::hint::select_unpredictable((v - 0.1) * 1.7 - 0.05 > 0.0, d, 0.0);
                (masked, (v - 0.2) * masked)
            };
            // the order the doc comment promises: value i into lane i mod 8, then the lanes in order
            let mut lanes = [[0.0f64; 8]; 2];
            for (i, (&v, &d)) in x.iter().zip(&dy).enumerate() {
                let (t1, t2) = term(v, d);
                (lanes[0][i % 8], lanes[1][i % 8]) = (lanes[0][i % 8] + t1, lanes[1][i % 8] + t2);
            }
            let bits = |(a, b): (f64, f64)| (a.to_bits(), b.to_bits());
            let reference = bits((lanes[0].iter().sum(), lanes[1].iter().sum()));
            assert_eq!(bits(lane_sums(&x, &dy, term)), reference, "vectorized, len {len}");
            assert_eq!(bits(lane_sums_inline(&x, &dy, term)), reference, "plain, len {len}");
        }
    }
}
