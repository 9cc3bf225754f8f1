//! Matrix multiplication on matrixmultiply's packed, cache-blocked gemm kernels.
//!
//! For Y = A·B (A is m×k, B is k×n): ∂L/∂A = ∂L/∂Y · Bᵀ and ∂L/∂B = Aᵀ · ∂L/∂Y.
//! A transpose costs nothing: gemm reads any matrix through a row stride and
//! a column stride, and Aᵀ is A with the two strides swapped.

use crate::tensor::{Element, Tensor};

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
    // SAFETY: `fits` proved that every index the kernel touches lies in its slice.
    unsafe {
        E::gemm_raw(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            a.row_stride as isize,
            a.col_stride as isize,
            b.data.as_ptr(),
            b.row_stride as isize,
            b.col_stride as isize,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}
// ANCHOR_END: gemm

impl<E: Element> Tensor<E> {
    // ANCHOR: matmul
    /// Matrix product of `[m, k]` and `[k, n]` tensors, giving `[m, n]`.
    /// ∂L/∂A = G·Bᵀ, ∂L/∂B = Aᵀ·G where G = ∂L/∂Y.
    ///
    /// # Panics
    /// When the operands are not matrices with matching inner sizes.
    pub fn matmul(&self, other: &Tensor<E>) -> Tensor<E> {
        let ((m, k), (k2, n)) = (self.dims2("matmul"), other.dims2("matmul"));
        assert_eq!(k, k2, "matmul: shapes {:?} and {:?} do not chain", self.shape, other.shape);
        let mut y = vec![E::ZERO; m * n];
        gemm(E::ONE, MatRef::rows(&self.data, k), MatRef::rows(&other.data, n), E::ZERO, &mut y, (m, k, n));
        let (a, b) = (self.detach(), other.detach());
        let need = (self.requires_grad(), other.requires_grad());
        Tensor::from_op("matmul", y, &[m, n], &[self, other], move |g| {
            let grad_a = need.0.then(|| {
                let mut da = vec![E::ZERO; m * k]; // G (m×n) · Bᵀ (n×k)
                gemm(E::ONE, MatRef::rows(&g.data, n), MatRef::rows_t(&b.data, n), E::ZERO, &mut da, (m, n, k));
                Tensor::from_vec(da, &[m, k])
            });
            let grad_b = need.1.then(|| {
                let mut db = vec![E::ZERO; k * n]; // Aᵀ (k×m) · G (m×n)
                gemm(E::ONE, MatRef::rows_t(&a.data, k), MatRef::rows(&g.data, n), E::ZERO, &mut db, (k, m, n));
                Tensor::from_vec(db, &[k, n])
            });
            vec![grad_a, grad_b]
        })
    }
    // ANCHOR_END: matmul
}
