//! A saliency map: one value per position, plus the explicit post-processing steps (ReLU, upsampling, normalisation).

use crate::{no_grad, Tensor};

/// A 2-D map, row-major, `height × width`.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// `height · width` values, row after row.
    pub values: Vec<f32>,
}

impl Map {
    /// A map from its values.
    ///
    /// # Panics
    /// When `values.len() != height · width`.
    pub fn new(height: usize, width: usize, values: Vec<f32>) -> Map {
        assert_eq!(values.len(), height * width, "Map::new: {} values for {height}x{width}", values.len());
        Map { height, width, values }
    }

    /// All zeros.
    pub fn zeros(height: usize, width: usize) -> Map {
        Map::new(height, width, vec![0.0; height * width])
    }

    /// The value at row `y`, column `x`.
    pub fn at(&self, y: usize, x: usize) -> f32 {
        self.values[y * self.width + x]
    }

    /// max(0, m) at every position.
    pub fn relu(&self) -> Map {
        Map::new(self.height, self.width, self.values.iter().map(|&v| v.max(0.0)).collect())
    }

    /// The largest value (−∞ for an empty map).
    pub fn max(&self) -> f32 {
        self.values.iter().copied().fold(f32::NEG_INFINITY, f32::max)
    }

    // ANCHOR: upsample
    /// Bilinear resize to `height × width` (PyTorch's `align_corners=False`,
    /// the same op the networks use), so a 8×8 CAM lines up with a 32×32 image.
    pub fn upsample(&self, height: usize, width: usize) -> Map {
        if (height, width) == (self.height, self.width) {
            return self.clone();
        }
        let t = Tensor::from_vec(self.values.clone(), &[1, 1, self.height, self.width]);
        let up = no_grad(|| t.upsample_bilinear((height, width)));
        Map::new(height, width, up.to_vec())
    }
    // ANCHOR_END: upsample

    // ANCHOR: normalize
    /// (m − min) / (max − min), into [0, 1]. A constant map (for instance an
    /// all-zero Grad-CAM) or one with non-finite values becomes all zeros:
    /// defined, never NaN.
    pub fn normalized(&self) -> Map {
        let lo = self.values.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = self.max();
        let range = hi - lo;
        let values = if range > 0.0 && range.is_finite() {
            self.values.iter().map(|&v| (v - lo) / range).collect()
        } else {
            vec![0.0; self.values.len()]
        };
        Map::new(self.height, self.width, values)
    }
    // ANCHOR_END: normalize

    /// Pearson correlation with another map of as many values: 1 where the
    /// two maps are the same up to scale and offset, 0 where unrelated (a
    /// constant map correlates 0 with everything).
    pub fn correlation(&self, other: &Map) -> f32 {
        assert_eq!(self.values.len(), other.values.len(), "correlation: maps of different sizes");
        let n = self.values.len() as f32;
        let (ma, mb) = (self.values.iter().sum::<f32>() / n, other.values.iter().sum::<f32>() / n);
        let cov: f32 = self.values.iter().zip(&other.values).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f32 = self.values.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f32 = other.values.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt().max(f32::MIN_POSITIVE)
    }

    /// The map as numpy's `.npy` format (little-endian float32, C order), so
    /// numpy users can compare it with other tools: `np.load("map.npy")`.
    pub fn to_npy(&self) -> Vec<u8> {
        crate::io::npy_bytes(&[self.height, self.width], &self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_a_constant_map_gives_zeros_not_nan() {
        let m = Map::new(2, 2, vec![3.0; 4]).normalized();
        assert_eq!(m.values, vec![0.0; 4]);
        let m = Map::new(1, 3, vec![1.0, 3.0, 2.0]).normalized();
        assert_eq!(m.values, vec![0.0, 1.0, 0.5]);
    }

    #[test]
    fn npy_header_is_aligned_and_data_follows() {
        let bytes = Map::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).to_npy();
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 24);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'shape': (2, 3)") && header.ends_with('\n'));
        assert_eq!(&bytes[10 + header_len..10 + header_len + 4], &1.0f32.to_le_bytes());
    }
}
