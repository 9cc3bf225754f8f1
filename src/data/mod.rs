//! Datasets: the built-in synthetic `shapes`, CIFAR-10 in its official binary format, and image folders.

pub mod annotations;
pub mod archive;
pub mod augment;
pub mod batches;
pub mod cifar;
#[cfg(feature = "download")]
pub mod download;
pub mod folder;
pub mod image_file;
pub mod poses;
pub mod preprocess;
pub mod shapes;

use crate::io::{Error, Result};
use std::path::Path;

/// An axis-aligned box in pixels: columns `x0..x1`, rows `y0..y1` (end exclusive).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BBox {
    /// Left column.
    pub x0: f32,
    /// Top row.
    pub y0: f32,
    /// One past the right column.
    pub x1: f32,
    /// One past the bottom row.
    pub y1: f32,
}

impl BBox {
    /// Area in pixels.
    pub fn area(&self) -> f32 {
        (self.x1 - self.x0).max(0.0) * (self.y1 - self.y0).max(0.0)
    }

    /// Intersection over union with another box (0 when both are empty).
    pub fn iou(&self, other: &BBox) -> f32 {
        let inter = BBox {
            x0: self.x0.max(other.x0),
            y0: self.y0.max(other.y0),
            x1: self.x1.min(other.x1),
            y1: self.y1.min(other.y1),
        };
        let union = self.area() + other.area() - inter.area();
        if union > 0.0 {
            inter.area() / union
        } else {
            0.0
        }
    }
}

/// Labelled images held as bytes (N × C × H × W, channel planes R, G, B).
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// Class names, index = label.
    pub classes: Vec<String>,
    /// (C, H, W) of every image.
    pub shape: [usize; 3],
    /// Pixel bytes, image after image, each CHW.
    pub images: Vec<u8>,
    /// One label per image.
    pub labels: Vec<usize>,
    /// Ground-truth box per image (synthetic data, or an image folder's
    /// `boxes.csv`; empty otherwise).
    pub boxes: Vec<BBox>,
    /// Ground-truth keypoints per image, (x, y) in pixels (synthetic data, or
    /// an image folder's `keypoints.csv`; empty otherwise).
    pub keypoints: Vec<Vec<[f32; 2]>>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image (C·H·W).
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The bytes of image `i`, CHW.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.images[i * n..(i + 1) * n]
    }

    /// The images at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let mut out = Dataset { classes: self.classes.clone(), shape: self.shape, ..Dataset::default() };
        out.images.reserve(indices.len() * self.image_len());
        for &i in indices {
            out.images.extend_from_slice(self.image(i));
            out.labels.push(self.labels[i]);
            if let Some(b) = self.boxes.get(i) {
                out.boxes.push(*b);
            }
            if let Some(k) = self.keypoints.get(i) {
                out.keypoints.push(k.clone());
            }
        }
        out
    }

    /// Number of images of each class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        self.labels.iter().for_each(|&l| counts[l] += 1);
        counts
    }
}

/// A training split and a test split with the same classes and image shape.
#[derive(Clone, Debug)]
pub struct Splits {
    /// Where the data came from, for messages and checkpoints (`shapes`, a path…).
    pub source: String,
    /// Training images.
    pub train: Dataset,
    /// Test images.
    pub test: Dataset,
}

/// Which data to load, as given on the command line.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSpec {
    /// The built-in synthetic shapes (10 classes), `size`×`size` pixels
    /// (`shapes` is 32, `shapes:64` is 64).
    Shapes {
        /// Image side in pixels.
        size: usize,
    },
    /// The two-class variant of `shapes`, for ROC analysis (`shapes-binary[:SIZE]`).
    ShapesBinary {
        /// Image side in pixels.
        size: usize,
    },
    /// The built-in stick figures with 14 joints, for pose estimation
    /// (`poses[:SIZE]`, 32 pixels by default).
    Poses {
        /// Image side in pixels.
        size: usize,
    },
    /// CIFAR-10 from the default cache or `../shared` locations.
    Cifar10,
    /// A folder or archive: official CIFAR binaries, or an image-folder tree.
    Path(std::path::PathBuf),
}

impl std::str::FromStr for DataSpec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (name, size) = match s.split_once(':') {
            Some((name @ ("shapes" | "shapes-binary" | "poses"), size)) => match size.parse::<usize>() {
                Ok(size) if (16..=256).contains(&size) => (name, size),
                _ => return Err(Error::msg(format!("--data {s}: the size after ':' must be 16…256 pixels"))),
            },
            _ => (s, 32),
        };
        Ok(match name {
            "shapes" => DataSpec::Shapes { size },
            "shapes-binary" => DataSpec::ShapesBinary { size },
            "poses" => DataSpec::Poses { size },
            "cifar10" => DataSpec::Cifar10,
            "" => return Err(Error::msg("--data: empty; use shapes, shapes-binary, poses, cifar10 or a path")),
            path => DataSpec::Path(path.into()),
        })
    }
}

impl DataSpec {
    /// True for the built-in datasets, generated in code.
    pub fn is_synthetic(&self) -> bool {
        matches!(self, DataSpec::Shapes { .. } | DataSpec::ShapesBinary { .. } | DataSpec::Poses { .. })
    }
}

impl std::fmt::Display for DataSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSpec::Shapes { size: 32 } => f.write_str("shapes"),
            DataSpec::Shapes { size } => write!(f, "shapes:{size}"),
            DataSpec::ShapesBinary { size: 32 } => f.write_str("shapes-binary"),
            DataSpec::ShapesBinary { size } => write!(f, "shapes-binary:{size}"),
            DataSpec::Poses { size: 32 } => f.write_str("poses"),
            DataSpec::Poses { size } => write!(f, "poses:{size}"),
            DataSpec::Cifar10 => f.write_str("cifar10"),
            DataSpec::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Sizes of the built-in datasets.
pub const SHAPES_TRAIN: usize = 20_000;
/// Test images of the built-in datasets.
pub const SHAPES_TEST: usize = 2_000;

/// Loads both splits. `seed` decides the synthetic images.
///
/// # Errors
/// When files are missing or malformed; the error names the file.
pub fn load(spec: &DataSpec, seed: u64) -> Result<Splits> {
    match spec {
        DataSpec::Shapes { .. } | DataSpec::ShapesBinary { .. } | DataSpec::Poses { .. } => Ok(Splits {
            source: spec.to_string(),
            train: synthetic(spec, SHAPES_TRAIN, seed),
            test: synthetic(spec, SHAPES_TEST, seed ^ TEST_SEED),
        }),
        DataSpec::Cifar10 => {
            let path = cifar::find_local().ok_or_else(|| Error::msg(cifar::NOT_FOUND_HELP))?;
            load_path(&path)
        }
        DataSpec::Path(path) => load_path(path),
    }
}

/// Loads the test split alone, for commands that need no training images
/// (`explain --index`, `eval`): image files of the training split are
/// neither read nor decoded, synthetic training images not generated. The
/// images are the same as [`load`]'s test split.
///
/// # Errors
/// As [`load`].
pub fn load_test(spec: &DataSpec, seed: u64) -> Result<Dataset> {
    match spec {
        DataSpec::Shapes { .. } | DataSpec::ShapesBinary { .. } | DataSpec::Poses { .. } => {
            Ok(synthetic(spec, SHAPES_TEST, seed ^ TEST_SEED))
        }
        DataSpec::Cifar10 => {
            let path = cifar::find_local().ok_or_else(|| Error::msg(cifar::NOT_FOUND_HELP))?;
            load_path_test(&path)
        }
        DataSpec::Path(path) => load_path_test(path),
    }
}

/// What the seed of the synthetic test split is XORed with.
const TEST_SEED: u64 = 0x5eed_7e57;

/// `count` images of a synthetic dataset (`spec` is shapes, shapes-binary or poses).
fn synthetic(spec: &DataSpec, count: usize, seed: u64) -> Dataset {
    synthetic_images(spec, &(0..count).collect::<Vec<_>>(), seed)
}

/// Images `indices` of a synthetic dataset, in that order (image i depends only on the seed and i).
fn synthetic_images(spec: &DataSpec, indices: &[usize], seed: u64) -> Dataset {
    let (binary, size) = match *spec {
        DataSpec::ShapesBinary { size } => (true, size),
        DataSpec::Shapes { size } => (false, size),
        DataSpec::Poses { size } => return poses::generate_images(size, indices, seed),
        _ => unreachable!("only called for synthetic data"),
    };
    shapes::generate_images(&shapes::ShapesConfig { binary, size, ..shapes::ShapesConfig::default() }, indices, seed)
}

/// The training images `indices` of a synthetic `spec`, and its test split:
/// only the training images a run uses are generated.
pub fn synthetic_split(spec: &DataSpec, seed: u64, indices: &[usize]) -> Splits {
    Splits {
        source: spec.to_string(),
        train: synthetic_images(spec, indices, seed),
        test: synthetic(spec, SHAPES_TEST, seed ^ TEST_SEED),
    }
}

/// `path` exists and is a folder or a regular file (a FIFO or device would block).
fn check_path(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Err(_) => Err(Error::file(path, "no such file or folder")),
        Ok(m) if !m.is_dir() && !m.is_file() => {
            Err(Error::file(path, "not a folder or a regular file (a FIFO, device or socket)"))
        }
        Ok(_) => Ok(()),
    }
}

fn load_path_test(path: &Path) -> Result<Dataset> {
    check_path(path)?;
    if cifar::looks_like_binary(path)? {
        cifar::load_binary_test(path)
    } else {
        folder::load_test(path)
    }
}

/// Loads a folder or archive, recognising the official CIFAR-10 binaries or an image-folder tree.
pub fn load_path(path: &Path) -> Result<Splits> {
    check_path(path)?;
    if cifar::looks_like_binary(path)? {
        cifar::load_binary(path)
    } else {
        folder::load(path)
    }
}
