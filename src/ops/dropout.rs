//! Inverted dropout: during training each value is kept with probability 1 − p and scaled by 1/(1 − p).
//!
//! y = x · mᵢ/(1 − p) with mᵢ ~ Bernoulli(1 − p), so E(y) = x and nothing
//! needs rescaling at test time. ∂L/∂x = ∂L/∂y · mᵢ/(1 − p): the same mask.

use crate::tensor::{Element, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

impl<E: Element> Tensor<E> {
    // ANCHOR: dropout
    /// Drops each value with probability `p` (mask drawn from `seed`, so a
    /// given seed always drops the same values).
    ///
    /// # Panics
    /// When `p` is not in `[0, 1)`.
    pub fn dropout(&self, p: f64, seed: u64) -> Tensor<E> {
        assert!((0.0..1.0).contains(&p), "dropout: p = {p} must be in [0, 1)");
        let mut rng = StdRng::seed_from_u64(seed);
        let keep = E::from_f64(1.0 / (1.0 - p));
        let mask: Vec<E> = (0..self.numel()).map(|_| if rng.random::<f64>() >= p { keep } else { E::ZERO }).collect();
        let y = super::zip_map(&self.data, &mask, |x, m| x * m);
        let shape = self.shape.clone();
        Tensor::from_op("dropout", y, &self.shape, &[self], move |g| {
            vec![Some(Tensor::from_vec(super::zip_map(&g.data, &mask, |g, m| g * m), &shape))]
        })
    }
    // ANCHOR_END: dropout
}
