//! Ops that move values without changing them: reshape, permute, transpose,
//! broadcast_to, narrow (slicing) and cat. Their backward passes move the
//! gradient back: the inverse permutation, a sum over broadcast axes, or
//! zero-padding around a slice.

use crate::tensor::shape::{
    broadcast_shapes, broadcast_strides, contiguous_strides, for_each_offset2, normalize_axis, numel,
};
use crate::tensor::{Element, Tensor};

impl<E: Element> Tensor<E> {
    /// The same values with another shape of equal size. ∂L/∂x = reshape(∂L/∂y).
    ///
    /// # Panics
    /// When the sizes differ.
    pub fn reshape(&self, shape: &[usize]) -> Tensor<E> {
        assert_eq!(numel(shape), self.numel(), "reshape: cannot view shape {:?} as {shape:?}", self.shape);
        let input_shape = self.shape.clone();
        let out = Tensor::from_shared(std::sync::Arc::clone(&self.data), shape);
        out.recorded("reshape", &[self], move |g| vec![Some(g.reshape(&input_shape))])
    }

    /// Keeps the axes before `axis` and merges the rest into one:
    /// `[N, C, H, W].flatten(1)` is `[N, C·H·W]`.
    pub fn flatten(&self, axis: usize) -> Tensor<E> {
        let mut shape = self.shape[..axis].to_vec();
        shape.push(self.shape[axis..].iter().product());
        self.reshape(&shape)
    }

    // ANCHOR: permute
    /// Reorders the axes: output axis k is input axis `perm[k]`.
    /// ∂L/∂x = permute(∂L/∂y, perm⁻¹).
    pub fn permute(&self, perm: &[usize]) -> Tensor<E> {
        let mut sorted = perm.to_vec();
        sorted.sort_unstable();
        assert!(
            sorted == (0..self.rank()).collect::<Vec<_>>(),
            "permute: {perm:?} is not a permutation of the axes of shape {:?}",
            self.shape
        );
        let shape: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let in_strides = contiguous_strides(&self.shape);
        let read_strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
        let mut out = Vec::with_capacity(self.numel());
        for_each_offset2(&shape, &read_strides, &read_strides, |i, _| out.push(self.data[i]));
        let mut inverse = vec![0; perm.len()];
        for (k, &p) in perm.iter().enumerate() {
            inverse[p] = k;
        }
        Tensor::from_op("permute", out, &shape, &[self], move |g| vec![Some(g.permute(&inverse))])
    }
    // ANCHOR_END: permute

    /// Swaps two axes (a matrix transpose for `transpose(0, 1)`).
    pub fn transpose(&self, a: usize, b: usize) -> Tensor<E> {
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Repeats values along axes of size 1 (and new leading axes) to reach
    /// `shape`. ∂L/∂x = sum_to(∂L/∂y, shape of x).
    pub fn broadcast_to(&self, shape: &[usize]) -> Tensor<E> {
        if self.shape == shape {
            return self.clone();
        }
        let target = broadcast_shapes("broadcast_to", &self.shape, shape);
        assert_eq!(target, shape, "broadcast_to: shape {:?} does not broadcast to {shape:?}", self.shape);
        let out = match trailing_run(&self.shape, shape) {
            // only trailing axes grow ([N, C, 1, 1] → [N, C, H, W]): each value fills one run
            Some(run) => {
                let mut out = Vec::with_capacity(numel(shape));
                self.data.iter().for_each(|&v| out.resize(out.len() + run, v));
                out
            }
            None => {
                let strides = broadcast_strides(&self.shape, shape);
                let mut out = Vec::with_capacity(numel(shape));
                for_each_offset2(shape, &strides, &strides, |i, _| out.push(self.data[i]));
                out
            }
        };
        let input_shape = self.shape.clone();
        Tensor::from_op("broadcast_to", out, shape, &[self], move |g| vec![Some(g.sum_to(&input_shape))])
    }

    // ANCHOR: narrow
    /// The slice `start..start + len` of `axis`. ∂L/∂x is ∂L/∂y placed back at
    /// that slice, zeros elsewhere.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Tensor<E> {
        let axis = normalize_axis("narrow", axis, self.rank());
        assert!(
            start + len <= self.shape[axis],
            "narrow: slice {start}..{} is outside axis {axis} of shape {:?}",
            start + len,
            self.shape
        );
        let blocks = Blocks::new(&self.shape, axis);
        let mut shape = self.shape.clone();
        shape[axis] = len;
        let mut out = Vec::with_capacity(numel(&shape));
        for outer in 0..blocks.outer {
            let from = blocks.offset(outer, start);
            out.extend_from_slice(&self.data[from..from + len * blocks.inner]);
        }
        let input_shape = self.shape.clone();
        Tensor::from_op("narrow", out, &shape, &[self], move |g| {
            let mut dx = vec![E::ZERO; numel(&input_shape)];
            for (outer, chunk) in g.data.chunks(len * blocks.inner).enumerate() {
                let to = blocks.offset(outer, start);
                dx[to..to + chunk.len()].copy_from_slice(chunk);
            }
            vec![Some(Tensor::from_vec(dx, &input_shape))]
        })
    }
    // ANCHOR_END: narrow

    /// Joins tensors along `axis`; all other sizes must agree. The gradient
    /// of each piece is its slice of ∂L/∂y.
    pub fn cat(tensors: &[&Tensor<E>], axis: isize) -> Tensor<E> {
        assert!(!tensors.is_empty(), "cat: no tensors to join");
        let first = tensors[0];
        let axis = normalize_axis("cat", axis, first.rank());
        for t in tensors {
            let same = t.rank() == first.rank() && (0..t.rank()).all(|i| i == axis || t.shape[i] == first.shape[i]);
            assert!(same, "cat: shape {:?} does not match {:?} outside axis {axis}", t.shape, first.shape);
        }
        let sizes: Vec<usize> = tensors.iter().map(|t| t.shape[axis]).collect();
        let mut shape = first.shape.clone();
        shape[axis] = sizes.iter().sum();
        let outer = first.shape[..axis].iter().product::<usize>();
        let mut out = Vec::with_capacity(numel(&shape));
        for o in 0..outer {
            for t in tensors {
                let block = t.shape[axis..].iter().product::<usize>();
                out.extend_from_slice(&t.data[o * block..(o + 1) * block]);
            }
        }
        Tensor::from_op("cat", out, &shape, tensors, move |g| {
            let mut start = 0;
            let pieces = sizes.iter().map(|&size| {
                start += size;
                Some(g.narrow(axis as isize, start - size, size))
            });
            pieces.collect()
        })
    }
}

/// A tensor seen as `[outer, axis, inner]` around one axis.
#[derive(Clone, Copy)]
struct Blocks {
    outer: usize,
    axis_len: usize,
    inner: usize,
}

impl Blocks {
    fn new(shape: &[usize], axis: usize) -> Self {
        Blocks {
            outer: shape[..axis].iter().product(),
            axis_len: shape[axis],
            inner: shape[axis + 1..].iter().product(),
        }
    }

    /// Offset of element (outer, index along the axis, 0).
    fn offset(&self, outer: usize, index: usize) -> usize {
        (outer * self.axis_len + index) * self.inner
    }
}

/// When broadcasting `from` to `to` only repeats trailing axes (`from` =
/// `to` with its last axes set to 1), the length of the run each value of
/// `from` fills; `None` otherwise.
fn trailing_run(from: &[usize], to: &[usize]) -> Option<usize> {
    if from.len() != to.len() {
        return None;
    }
    let same = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    from[same..].iter().all(|&d| d == 1).then(|| to[same..].iter().product())
}
