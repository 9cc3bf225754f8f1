//! Matrix multiplication, Y = A·B, on the gemm kernel (matrixmultiply's packed, cache-blocked sgemm/dgemm).
//!
//! For Y = A·B (A is m×k, B is k×n): ∂L/∂A = ∂L/∂Y · Bᵀ and ∂L/∂B = Aᵀ · ∂L/∂Y.
//! A transpose costs nothing: gemm reads any matrix through a row stride and
//! a column stride, and Aᵀ is A with the two strides swapped.

pub use crate::kernels::gemm::{gemm, MatRef};
use crate::tensor::{Element, Tensor};

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
