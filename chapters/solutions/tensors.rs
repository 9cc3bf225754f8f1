//! Reference solution of the lab "Tensors and broadcasting": the broadcast shape and the sum back to an input's shape.

/// Size of axis `k` counted from the end, 1 when the shape has no such axis.
fn from_end(shape: &[usize], k: usize) -> usize {
    if k < shape.len() {
        shape[shape.len() - 1 - k]
    } else {
        1
    }
}

/// Equal sizes, or one of them 1, axis by axis from the right.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for k in 0..rank {
        out[rank - 1 - k] = match (from_end(a, k), from_end(b, k)) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// ∂L/∂input[i] = Σ of grad over every position that read input[i].
pub fn sum_to_shape(grad: &[f64], grad_shape: &[usize], shape: &[usize]) -> Vec<f64> {
    let rank = grad_shape.len();
    // the input's strides, read as a tensor of grad_shape: 0 along broadcast axes
    let mut strides = vec![0; rank];
    let mut stride = 1;
    for k in 0..shape.len() {
        let axis = rank - 1 - k;
        let size = shape[shape.len() - 1 - k];
        strides[axis] = if size == 1 { 0 } else { stride };
        stride *= size;
    }
    let mut out = vec![0.0; shape.iter().product()];
    let mut index = vec![0; rank];
    for &g in grad {
        let offset: usize = index.iter().zip(&strides).map(|(i, s)| i * s).sum();
        out[offset] += g;
        // the next row-major index of grad_shape
        for axis in (0..rank).rev() {
            index[axis] += 1;
            if index[axis] < grad_shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}
