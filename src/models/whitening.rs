//! Patch whitening: the covariance of an image set's k×k patches, its eigenvectors (Jacobi), and the filters that whiten.
//!
//! With Σ = (1/n) Σᵢ pᵢ pᵢᵀ the (uncentred) covariance of the n patches pᵢ
//! (d = C·k·k values each) and Σ = V Λ Vᵀ its eigendecomposition, the
//! filters vⱼ/√(λⱼ + ε) turn a patch into coordinates of variance
//! λⱼ/(λⱼ + ε) ≈ 1 that do not correlate: a convolution with them whitens
//! the image locally. The fast recipe's first layer uses them and their
//! negatives (so that a GELU after them keeps both signs).

/// Σ = (1/n) Σ p pᵀ over every k×k patch (stride 1, no padding) of every
/// image of `images` (NCHW, `[n, c, h, w]`), each patch read in the order
/// (channel, row, column) of a conv weight. Returns d×d values, d = c·k·k.
pub fn patch_covariance(images: &[f32], [n, c, h, w]: [usize; 4], k: usize) -> Vec<f64> {
    let d = c * k * k;
    let mut sum = vec![0f64; d * d];
    let mut patch = vec![0f64; d];
    for image in images.chunks_exact(c * h * w).take(n) {
        for y in 0..=h - k {
            for x in 0..=w - k {
                for (t, v) in patch.iter_mut().enumerate() {
                    let (ch, i, j) = (t / (k * k), t / k % k, t % k);
                    *v = image[(ch * h + y + i) * w + x + j] as f64;
                }
                for a in 0..d {
                    for b in a..d {
                        sum[a * d + b] += patch[a] * patch[b];
                    }
                }
            }
        }
    }
    let count = (n * (h - k + 1) * (w - k + 1)) as f64;
    for a in 0..d {
        for b in a..d {
            sum[a * d + b] /= count;
            sum[b * d + a] = sum[a * d + b];
        }
    }
    sum
}

// ANCHOR: jacobi
/// Eigenvalues and eigenvectors of a symmetric d×d matrix by cyclic Jacobi
/// rotations: each rotation zeroes one off-diagonal pair; sweeps repeat until
/// the off-diagonal mass is negligible. Returns (λ, V) sorted by descending
/// λ, V row j the unit eigenvector of λⱼ.
pub fn symmetric_eigen(matrix: &[f64], d: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut a = matrix.to_vec();
    let mut v: Vec<f64> = (0..d * d).map(|i| if i / d == i % d { 1.0 } else { 0.0 }).collect();
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..d * d).filter(|i| i / d != i % d).map(|i| a[i] * a[i]).sum();
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                if a[p * d + q] == 0.0 {
                    continue;
                }
                // the angle θ with tan 2θ = 2a_pq / (a_qq − a_pp) zeroes a_pq
                let theta = 0.5 * (2.0 * a[p * d + q]).atan2(a[q * d + q] - a[p * d + p]);
                let (s, c) = theta.sin_cos();
                for r in 0..d {
                    // A ← A·J (columns p and q)
                    let (arp, arq) = (a[r * d + p], a[r * d + q]);
                    a[r * d + p] = c * arp - s * arq;
                    a[r * d + q] = s * arp + c * arq;
                }
                for r in 0..d {
                    // A ← Jᵀ·A (rows p and q)
                    let (apr, aqr) = (a[p * d + r], a[q * d + r]);
                    a[p * d + r] = c * apr - s * aqr;
                    a[q * d + r] = s * apr + c * aqr;
                }
                for r in 0..d {
                    // V ← V·J: the columns of V become the eigenvectors
                    let (vrp, vrq) = (v[r * d + p], v[r * d + q]);
                    v[r * d + p] = c * vrp - s * vrq;
                    v[r * d + q] = s * vrp + c * vrq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| a[j * d + j].total_cmp(&a[i * d + i]));
    let values = order.iter().map(|&j| a[j * d + j]).collect();
    let vectors = order.iter().map(|&j| (0..d).map(|r| v[r * d + j]).collect()).collect();
    (values, vectors)
}
// ANCHOR_END: jacobi

// ANCHOR: whitening_filters
/// The 2d whitening filters for the patch covariance `cov` (d×d): vⱼ/√(λⱼ+ε)
/// for j = 1…d by descending λ, then the same with the opposite sign;
/// flattened as a conv weight `[2d, d]` (reshape to `[2d, C, k, k]`).
pub fn whitening_filters(cov: &[f64], d: usize, eps: f64) -> Vec<f32> {
    let (values, vectors) = symmetric_eigen(cov, d);
    let scaled: Vec<Vec<f64>> =
        values.iter().zip(&vectors).map(|(&l, v)| v.iter().map(|x| x / (l.max(0.0) + eps).sqrt()).collect()).collect();
    let positive = scaled.iter().flatten().map(|&x| x as f32);
    let negative = scaled.iter().flatten().map(|&x| -x as f32);
    positive.chain(negative).collect()
}
// ANCHOR_END: whitening_filters

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_diagonalises_a_symmetric_matrix() {
        // a random symmetric 7×7 matrix: A = V Λ Vᵀ and V Vᵀ = I
        let d = 7;
        let mut a = vec![0.0; d * d];
        let mut seed = 12345u64;
        for i in 0..d {
            for j in i..d {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let x = (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                (a[i * d + j], a[j * d + i]) = (x, x);
            }
        }
        let (values, vectors) = symmetric_eigen(&a, d);
        assert!(values.windows(2).all(|w| w[0] >= w[1]), "sorted descending: {values:?}");
        for i in 0..d {
            for j in 0..d {
                let rebuilt: f64 = (0..d).map(|k| vectors[k][i] * values[k] * vectors[k][j]).sum();
                assert!((rebuilt - a[i * d + j]).abs() < 1e-12, "A[{i},{j}]");
                let dot: f64 = (0..d).map(|k| vectors[i][k] * vectors[j][k]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12, "V orthonormal at {i},{j}");
            }
        }
    }

    #[test]
    fn the_covariance_of_two_patches_by_hand() {
        // one 1-channel 2×3 image, k = 2: patches [1,2,4,5] and [2,3,5,6]
        let image = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let cov = patch_covariance(&image, [1, 1, 2, 3], 2);
        let (p, q) = ([1.0, 2.0, 4.0, 5.0], [2.0, 3.0, 5.0, 6.0]);
        for a in 0..4 {
            for b in 0..4 {
                assert_eq!(cov[a * 4 + b], (p[a] * p[b] + q[a] * q[b]) / 2.0);
            }
        }
    }

    #[test]
    fn whitened_patches_have_unit_uncorrelated_coordinates() {
        // W Σ Wᵀ = Λ/(Λ + ε) for the first d filters; the last d are their negatives
        let cov = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let eps = 1e-9;
        let w = whitening_filters(&cov, 3, eps);
        for i in 0..3 {
            for j in 0..3 {
                let wsw: f64 = (0..3)
                    .flat_map(|a| (0..3).map(move |b| (a, b)))
                    .map(|(a, b)| w[i * 3 + a] as f64 * cov[a * 3 + b] * w[j * 3 + b] as f64)
                    .sum();
                assert!((wsw - if i == j { 1.0 } else { 0.0 }).abs() < 1e-5, "({i},{j}): {wsw}");
            }
        }
        assert!(w[..9].iter().zip(&w[9..]).all(|(a, b)| *a == -*b));
    }
}
