//! The matrix product C = α·A·B + β·C on matrixmultiply's packed, cache-blocked sgemm and dgemm.
//!
//! A transpose costs nothing: gemm reads any matrix through a row stride and
//! a column stride, and Aᵀ is A with the two strides swapped.

use crate::tensor::Element;
use std::any::TypeId;

/// A read-only matrix view: data with a row stride and a column stride.
#[derive(Clone, Copy)]
pub struct MatRef<'a, E> {
    /// The values.
    pub data: &'a [E],
    /// Distance between consecutive rows.
    pub row_stride: usize,
    /// Distance between consecutive columns.
    pub col_stride: usize,
}

impl<'a, E> MatRef<'a, E> {
    /// A row-major matrix with `cols` columns.
    pub fn rows(data: &'a [E], cols: usize) -> Self {
        MatRef { data, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    pub fn rows_t(data: &'a [E], cols: usize) -> Self {
        MatRef { data, row_stride: 1, col_stride: cols }
    }

    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.row_stride + (cols - 1) * self.col_stride < self.data.len()
    }
}

// ANCHOR: gemm
/// C = α·A·B + β·C for row-major C (m×n), A (m×k) and B (k×n) given as views;
/// `dims` is (m, k, n).
///
/// # Panics
/// When a view addresses memory outside its slice.
pub fn gemm<E: Element>(alpha: E, a: MatRef<E>, b: MatRef<E>, beta: E, c: &mut [E], (m, k, n): (usize, usize, usize)) {
    assert!(a.fits(m, k) && b.fits(k, n) && c.len() >= m * n, "gemm: operands too small for {m}x{k} · {k}x{n}");
    let (rsa, csa, rsb, csb) =
        (a.row_stride as isize, a.col_stride as isize, b.row_stride as isize, b.col_stride as isize);
    let (a, b, c) = (a.data.as_ptr(), b.data.as_ptr(), c.as_mut_ptr());
    // SAFETY: `fits` proved that every index the kernel touches lies in its
    // slice, and E is f32 (or f64) exactly when the type ids agree.
    unsafe {
        if TypeId::of::<E>() == TypeId::of::<f32>() {
            let (alpha, beta) = (alpha.to_f64() as f32, beta.to_f64() as f32);
            matrixmultiply::sgemm(m, k, n, alpha, a.cast(), rsa, csa, b.cast(), rsb, csb, beta, c.cast(), n as isize, 1)
        } else {
            assert_eq!(TypeId::of::<E>(), TypeId::of::<f64>(), "gemm: only f32 and f64");
            let (alpha, beta) = (alpha.to_f64(), beta.to_f64());
            matrixmultiply::dgemm(m, k, n, alpha, a.cast(), rsa, csa, b.cast(), rsb, csb, beta, c.cast(), n as isize, 1)
        }
    }
}
// ANCHOR_END: gemm
