//! Shape arithmetic: element counts, strides, broadcasting and the odometer that walks them.

/// Number of elements of a tensor with this shape (1 for a scalar `[]`).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major (C-order) strides: the last axis is contiguous.
///
/// `strides([2, 3, 4]) == [12, 4, 1]`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1];
    }
    strides
}

/// The shape two operands broadcast to, NumPy rules: align the trailing axes;
/// two sizes are compatible when they are equal or one of them is 1.
///
/// # Panics
/// When the shapes are incompatible; the message names `op` and both shapes.
pub fn broadcast_shapes(op: &str, a: &[usize], b: &[usize]) -> Vec<usize> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for (i, size) in out.iter_mut().enumerate() {
        let da = dim_from_end(a, rank - 1 - i);
        let db = dim_from_end(b, rank - 1 - i);
        *size = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => panic!("{op}: shapes {a:?} and {b:?} cannot be broadcast together"),
        };
    }
    out
}

/// Size of axis `k` counted from the end (`k = 0` is the last axis), 1 when absent.
fn dim_from_end(shape: &[usize], k: usize) -> usize {
    if k < shape.len() {
        shape[shape.len() - 1 - k]
    } else {
        1
    }
}

/// Strides for reading a tensor of `shape` as if it had shape `target`
/// (which it broadcasts to): broadcast axes get stride 0.
pub fn broadcast_strides(shape: &[usize], target: &[usize]) -> Vec<usize> {
    let own = contiguous_strides(shape);
    let offset = target.len() - shape.len();
    (0..target.len()).map(|i| if i < offset || shape[i - offset] == 1 { 0 } else { own[i - offset] }).collect()
}

// ANCHOR: odometer
/// Visits every index of `shape` in row-major order and calls `f` with the
/// matching offsets into two strided operands. No allocation per element:
/// the multi-index is advanced like an odometer.
pub fn for_each_offset2(shape: &[usize], strides_a: &[usize], strides_b: &[usize], mut f: impl FnMut(usize, usize)) {
    let total = numel(shape);
    if total == 0 {
        return;
    }
    let rank = shape.len();
    let mut index = vec![0usize; rank];
    let (mut off_a, mut off_b) = (0usize, 0usize);
    for _ in 0..total {
        f(off_a, off_b);
        // advance the odometer: bump the last axis, carry into earlier ones
        for axis in (0..rank).rev() {
            index[axis] += 1;
            off_a += strides_a[axis];
            off_b += strides_b[axis];
            if index[axis] < shape[axis] {
                break;
            }
            off_a -= strides_a[axis] * shape[axis];
            off_b -= strides_b[axis] * shape[axis];
            index[axis] = 0;
        }
    }
}
// ANCHOR_END: odometer

/// Normalises a possibly negative axis (`-1` is the last) for a tensor of `rank`.
///
/// # Panics
/// When the axis is out of range; the message names `op`.
pub fn normalize_axis(op: &str, axis: isize, rank: usize) -> usize {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if a < 0 || a >= r {
        panic!("{op}: axis {axis} is out of range for a tensor of rank {rank}");
    }
    a as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes("t", &[2, 3, 4], &[3, 1]), vec![2, 3, 4]);
        assert_eq!(broadcast_shapes("t", &[1], &[5, 1]), vec![5, 1]);
        assert_eq!(broadcast_shapes("t", &[], &[2]), vec![2]);
        assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]), vec![0, 1, 0]);
    }

    #[test]
    #[should_panic(expected = "add: shapes [2, 3] and [4] cannot be broadcast")]
    fn incompatible_shapes_name_the_op() {
        broadcast_shapes("add", &[2, 3], &[4]);
    }

    #[test]
    fn odometer_visits_in_row_major_order() {
        let mut seen = vec![];
        for_each_offset2(&[2, 3], &[3, 1], &[0, 1], |a, b| seen.push((a, b)));
        assert_eq!(seen, vec![(0, 0), (1, 1), (2, 2), (3, 0), (4, 1), (5, 2)]);
    }
}
