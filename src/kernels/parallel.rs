//! Fresh buffers and element-wise loops computed chunk by chunk on all cores, written once (never zeroed first) and vectorized.

use super::vectorized;
use crate::tensor::Element;
use rayon::prelude::*;

/// Below this many elements an element-wise loop runs on one thread.
const PARALLEL_MIN: usize = 1 << 15;

/// A buffer of `len` zeros, zeroed by all threads at once for large ones
/// (`vec![0; len]` zeroes a recycled block on the calling thread alone while
/// the other cores wait).
pub(crate) fn zeros<E: Element>(len: usize) -> Vec<E> {
    if len < PARALLEL_MIN {
        return vec![E::ZERO; len];
    }
    fill_chunks(len, PARALLEL_MIN, |_| std::iter::repeat(E::ZERO))
}

// ANCHOR: fill_chunks
/// A new buffer of `len` values written in parallel, chunk by chunk: chunk
/// `i` (values `i·chunk ..`, the last one possibly shorter) takes its values
/// from `values(i)`. Nothing is written before, so an op that computes every
/// output value moves each byte of its output once (zeroing it first would
/// be a second pass over memory).
pub(crate) fn fill_chunks<E, I>(len: usize, chunk: usize, values: impl Fn(usize) -> I + Sync) -> Vec<E>
where
    E: Send,
    I: IntoIterator<Item = E>,
{
    let mut out = Vec::with_capacity(len);
    let chunks = out.spare_capacity_mut()[..len].par_chunks_mut(chunk.max(1));
    chunks.enumerate().for_each(|(i, slots)| write_all(slots, values(i)));
    // SAFETY: each of the first `len` slots belongs to exactly one chunk, and
    // `write_all` wrote every chunk in full (it panics otherwise, leaving len 0).
    unsafe { out.set_len(len) };
    out
}

/// Writes `values` into every one of `slots`; panics if there are too few.
pub(crate) fn write_all<E>(slots: &mut [std::mem::MaybeUninit<E>], values: impl IntoIterator<Item = E>) {
    let written = vectorized(
        #[inline(always)]
        || {
            let mut written = 0;
            for (slot, v) in slots.iter_mut().zip(values) {
                slot.write(v);
                written += 1;
            }
            written
        },
    );
    assert_eq!(written, slots.len(), "write_all: {written} values for {} slots", slots.len());
}
// ANCHOR_END: fill_chunks

/// A new buffer of `len` values computed chunk by chunk in parallel by
/// `compute(scratch, i, chunk)`, with per-thread scratch from `init` (as
/// rayon's `for_each_init`). For ops whose kernels take an ordinary `&mut
/// [E]`: each chunk is zeroed just before it is computed, in the core's
/// cache, where zeroing the whole buffer first would be one more pass over
/// main memory.
pub(crate) fn zeroed_chunks<E: Element, S>(
    len: usize,
    chunk: usize,
    init: impl Fn() -> S + Sync + Send,
    compute: impl Fn(&mut S, usize, &mut [E]) + Sync + Send,
) -> Vec<E> {
    let zero_then_compute = |scratch: &mut S, i: usize, slots: &mut [std::mem::MaybeUninit<E>]| {
        write_all(slots, std::iter::repeat(E::ZERO));
        // SAFETY: `write_all` initialised every slot (it panics otherwise),
        // and MaybeUninit<E> has the layout of E.
        let values = unsafe { &mut *(slots as *mut [std::mem::MaybeUninit<E>] as *mut [E]) };
        compute(scratch, i, values);
    };
    // SAFETY: `zero_then_compute` initialises every slot before `compute` sees it.
    unsafe { written_chunks(len, chunk, init, zero_then_compute) }
}

/// The parallel driver under [`zeroed_chunks`], for kernels that write
/// every value of their chunk themselves: `compute(scratch, i, chunk)` gets
/// the chunk uninitialised, so the output
/// is written once instead of zeroed first and then written (for the packed
/// convolution's forward pass the zeroing took 4% of ResNet-20's inference
/// in the profile; about half of it came back as the kernel's first writes
/// to memory the zeroing had brought into cache).
///
/// # Safety
/// `compute` must initialise every value of the chunk it is given.
pub(crate) unsafe fn written_chunks<E: Send, S>(
    len: usize,
    chunk: usize,
    init: impl Fn() -> S + Sync + Send,
    compute: impl Fn(&mut S, usize, &mut [std::mem::MaybeUninit<E>]) + Sync + Send,
) -> Vec<E> {
    let mut out = Vec::with_capacity(len);
    let chunks = out.spare_capacity_mut()[..len].par_chunks_mut(chunk.max(1));
    chunks.enumerate().for_each_init(init, |scratch, (i, slots)| compute(scratch, i, slots));
    // SAFETY: the caller's `compute` initialised every chunk (a panic in any
    // of them reaches us before this line).
    unsafe { out.set_len(len) };
    out
}

/// Values per parallel chunk of the element-wise helpers below.
const CHUNK: usize = PARALLEL_MIN / 4;

/// Chunk `i` of a slice cut into `CHUNK`-long pieces (the last may be shorter).
fn chunk<T>(values: &[T], i: usize) -> &[T] {
    &values[i * CHUNK..((i + 1) * CHUNK).min(values.len())]
}

/// `f` applied to every element, in parallel (and vectorized) for large inputs.
pub(crate) fn map<E: Element>(x: &[E], f: impl Fn(E) -> E + Sync + Send) -> Vec<E> {
    if x.len() < PARALLEL_MIN {
        return x.iter().map(|&v| f(v)).collect();
    }
    fill_chunks(x.len(), CHUNK, |i| chunk(x, i).iter().map(|&v| f(v)))
}

/// `f` applied to matching elements of two equally long slices.
pub(crate) fn zip_map<E: Element>(a: &[E], b: &[E], f: impl Fn(E, E) -> E + Sync + Send) -> Vec<E> {
    assert_eq!(a.len(), b.len(), "zip_map: lengths differ");
    if a.len() < PARALLEL_MIN {
        return a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect();
    }
    fill_chunks(a.len(), CHUNK, |i| chunk(a, i).iter().zip(chunk(b, i)).map(|(&x, &y)| f(x, y)))
}

/// target += other, element-wise, in place (in parallel and vectorized for
/// large inputs): the same bits as `zip_map(target, other, |a, b| a + b)`.
pub(crate) fn add_assign<E: Element>(target: &mut [E], other: &[E]) {
    assert_eq!(target.len(), other.len(), "add_assign: lengths differ");
    let add = |t: &mut [E], o: &[E]| {
        vectorized(
            #[inline(always)]
            || t.iter_mut().zip(o).for_each(|(a, &b)| *a += b),
        )
    };
    if target.len() < PARALLEL_MIN {
        return add(target, other);
    }
    target.par_chunks_mut(CHUNK).zip(other.par_chunks(CHUNK)).for_each(|(t, o)| add(t, o));
}

/// `f` applied to matching elements of three equally long slices.
pub(crate) fn zip3_map<E: Element>(a: &[E], b: &[E], c: &[E], f: impl Fn(E, E, E) -> E + Sync + Send) -> Vec<E> {
    assert!(a.len() == b.len() && b.len() == c.len(), "zip3_map: lengths differ");
    if a.len() < PARALLEL_MIN {
        return a.iter().zip(b).zip(c).map(|((&x, &y), &z)| f(x, y, z)).collect();
    }
    let f = &f;
    fill_chunks(a.len(), CHUNK, |i| {
        let (a, b, c) = (chunk(a, i), chunk(b, i), chunk(c, i));
        a.iter().zip(b).zip(c).map(move |((&x, &y), &z)| f(x, y, z))
    })
}

/// Σ of `parts(0) … parts(count − 1)` (equally long vectors, `len` zeros
/// when there are none), the parts computed in parallel and added in index
/// order, so the sum does not depend on the thread count: how a batch's
/// weight gradient is summed over fixed chunks of images.
pub(crate) fn sum_in_order<E: Element>(
    count: usize,
    len: usize,
    parts: impl Fn(usize) -> Vec<E> + Sync + Send,
) -> Vec<E> {
    let partials: Vec<Vec<E>> = (0..count).into_par_iter().map(parts).collect();
    let mut partials = partials.into_iter();
    let Some(mut sum) = partials.next() else {
        return vec![E::ZERO; len];
    };
    let rest: Vec<Vec<E>> = partials.collect();
    // every value gets the parts in index order; the values are shared out among the cores
    sum.par_chunks_mut(CHUNK).enumerate().for_each(|(i, values)| {
        for partial in &rest {
            add_assign(values, chunk(partial, i));
        }
    });
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_chunks_writes_every_chunk_including_a_short_last_one() {
        // 10 values in chunks of 4: the last chunk has 2
        let filled: Vec<f32> = fill_chunks(10, 4, |i| (0..).map(move |j| (10 * i + j) as f32));
        assert_eq!(filled, [0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0, 20.0, 21.0]);
        assert_eq!(zeros::<f64>(3 * PARALLEL_MIN + 5), vec![0.0; 3 * PARALLEL_MIN + 5]);
    }

    #[test]
    fn element_wise_helpers_match_a_plain_loop_on_both_sides_of_the_parallel_size() {
        for len in [7, PARALLEL_MIN - 1, 3 * PARALLEL_MIN + 7] {
            let a: Vec<f32> = (0..len).map(|i| (i % 97) as f32 - 40.0).collect();
            let (b, c): (Vec<f32>, Vec<f32>) = a.iter().map(|v| (v * 0.5, v - 3.0)).unzip();
            let mapped: Vec<f32> = a.iter().map(|v| v * v).collect();
            assert_eq!(map(&a, |v| v * v), mapped, "map, len {len}");
            let zipped: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
            assert_eq!(zip_map(&a, &b, |x, y| x - y), zipped, "zip_map, len {len}");
            let zipped3: Vec<f32> = (0..len).map(|i| a[i] * b[i] + c[i]).collect();
            assert_eq!(zip3_map(&a, &b, &c, |x, y, z| x * y + z), zipped3, "zip3_map, len {len}");
        }
    }

    #[test]
    #[should_panic(expected = "write_all: 3 values for 4 slots")]
    fn fill_chunks_refuses_too_few_values() {
        let _: Vec<f32> = fill_chunks(8, 4, |i| (0..if i == 1 { 3 } else { 4 }).map(|j| j as f32));
    }
}
