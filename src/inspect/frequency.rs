//! Images as scaled frequency coefficients (an orthonormal 2-D DCT), the decorrelated parameterisation of feature visualisation.
//!
//! Neighbouring pixels of natural images are strongly correlated; their
//! spectrum falls off roughly as 1/f. Gradient ascent in pixel space has no
//! such preference and fills the image with high-frequency patterns that
//! excite the network but look like noise. Optimising coefficients P of
//! x = Dₕᵀ (s ⊙ P) D_w instead, with s = 1/f, makes a unit step in P a
//! step whose high frequencies are damped: the optimiser sees a whitened
//! image (Olah et al., "Feature Visualization", 2017, use the FFT; the DCT
//! is its real, orthonormal cousin, a matrix product on each side).

use crate::tensor::{Element, Tensor};

// ANCHOR: dct_matrix
/// The orthonormal DCT-II matrix of size n:
/// D[u][i] = α_u cos(π(2i + 1)u / 2n), α_0 = √(1/n), α_u = √(2/n) otherwise.
/// Orthonormal: Dᵀ D = I, so the transform loses nothing and its inverse is Dᵀ.
pub fn dct_matrix<E: Element>(n: usize) -> Tensor<E> {
    let values = (0..n * n)
        .map(|at| {
            let (u, i) = (at / n, at % n);
            let alpha = if u == 0 { (1.0 / n as f64).sqrt() } else { (2.0 / n as f64).sqrt() };
            E::from_f64(alpha * (std::f64::consts::PI * (2 * i + 1) as f64 * u as f64 / (2 * n) as f64).cos())
        })
        .collect();
    Tensor::from_vec(values, &[n, n])
}
// ANCHOR_END: dct_matrix

/// The DCT basis of `h`×`w` images with the 1/f scale of each coefficient.
pub struct FrequencyBasis<E: Element> {
    rows: Tensor<E>,
    cols: Tensor<E>,
    /// s[u][v] = 1 / max(1, √(u² + v²)): the DC and the first harmonics keep
    /// their size, higher frequencies are scaled down as 1/f.
    pub scale: Tensor<E>,
}

impl<E: Element> FrequencyBasis<E> {
    /// The basis of `h`×`w` images.
    pub fn new(h: usize, w: usize) -> Self {
        let scale = (0..h * w)
            .map(|at| {
                let (u, v) = ((at / w) as f64, (at % w) as f64);
                E::from_f64(1.0 / (u * u + v * v).sqrt().max(1.0))
            })
            .collect();
        FrequencyBasis { rows: dct_matrix(h), cols: dct_matrix(w), scale: Tensor::from_vec(scale, &[h, w]) }
    }

    // ANCHOR: to_pixels
    /// x = Dₕᵀ (s ⊙ P) D_w for every plane of `coefficients` `[N, C, h, w]`,
    /// built from differentiable ops (so its gradient is autodiff's).
    pub fn to_pixels(&self, coefficients: &Tensor<E>) -> Tensor<E> {
        let scaled = coefficients.mul(&self.scale);
        self.idct2(&scaled)
    }
    // ANCHOR_END: to_pixels

    /// The exact inverse of [`FrequencyBasis::to_pixels`]: P = (Dₕ x D_wᵀ) / s.
    pub fn from_pixels(&self, x: &Tensor<E>) -> Tensor<E> {
        self.dct2(x).div(&self.scale)
    }

    /// The gradient with respect to P of a loss whose gradient with respect
    /// to x is `grad_x` (the adjoint of `to_pixels`): s ⊙ (Dₕ g D_wᵀ).
    pub fn gradient_to_coefficients(&self, grad_x: &Tensor<E>) -> Tensor<E> {
        self.dct2(grad_x).mul(&self.scale)
    }

    /// Y = Dₕ X D_wᵀ on every plane.
    fn dct2(&self, x: &Tensor<E>) -> Tensor<E> {
        self.both_sides(x, false)
    }

    /// X = Dₕᵀ Y D_w on every plane.
    fn idct2(&self, y: &Tensor<E>) -> Tensor<E> {
        self.both_sides(y, true)
    }

    /// Dₕ·X·D_wᵀ (or Dₕᵀ·X·D_w when `transposed`) on each plane of
    /// `[N, C, h, w]`, as two 2-D matrix products over all planes stacked.
    fn both_sides(&self, x: &Tensor<E>, transposed: bool) -> Tensor<E> {
        let (n, c, h, w) = x.dims4("frequency basis");
        let (a, b) = if transposed {
            (self.rows.transpose(0, 1), self.cols.clone())
        } else {
            (self.rows.clone(), self.cols.transpose(0, 1))
        };
        // X·Bᵀ: rows of every plane times Bᵀ
        let right = x.reshape(&[n * c * h, w]).matmul(&b);
        // A·(X·Bᵀ) = ((X·Bᵀ)ᵀ·Aᵀ)ᵀ: columns of every plane times Aᵀ
        let columns = right.reshape(&[n * c, h, w]).permute(&[0, 2, 1]).reshape(&[n * c * w, h]);
        let left = columns.matmul(&a.transpose(0, 1));
        left.reshape(&[n * c, w, h]).permute(&[0, 2, 1]).reshape(&[n, c, h, w])
    }
}
