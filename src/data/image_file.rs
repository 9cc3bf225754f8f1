//! Image files from outside (PNG, JPEG) as model inputs: found, decoded, checked, and resized or kept at their own size.

use crate::io::{Error, Result};
use std::path::{Path, PathBuf};

/// The largest side `--size native` accepts: a 1024×1024 image through
/// smallcnn holds about 1.5 GB of activations and gradients.
pub const NATIVE_MAX_SIDE: usize = 1024;
/// The smallest side `--size native` accepts (two 2×2 pools still leave 2×2 maps).
pub const NATIVE_MIN_SIDE: usize = 8;
/// Larger files are refused before decoding (a decompression bomb stops here).
const DECODE_MAX_SIDE: u32 = 16_384;

/// At which size an image file enters the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputSize {
    /// Resized to the size the model was trained at.
    Model,
    /// Kept at its own size (networks that end in global pooling only).
    Native,
}

impl std::str::FromStr for InputSize {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "model" => Ok(InputSize::Model),
            "native" => Ok(InputSize::Native),
            _ => Err(Error::msg(format!("unknown size '{s}'; choose model or native"))),
        }
    }
}

/// A decoded image file, ready to normalise.
#[derive(Clone, Debug)]
pub struct ImageFile {
    /// Pixel bytes, CHW.
    pub bytes: Vec<u8>,
    /// (C, H, W) as the network sees it.
    pub shape: [usize; 3],
    /// Width and height of the file itself.
    pub original: (usize, usize),
}

impl ImageFile {
    /// True when the file was resized to enter the network.
    pub fn resized(&self) -> bool {
        self.original != (self.shape[2], self.shape[1])
    }
}

/// Reads `path` for a model whose input is `[c, h, w]`: resized to h×w for
/// [`InputSize::Model`], kept for [`InputSize::Native`] (between
/// [`NATIVE_MIN_SIDE`] and [`NATIVE_MAX_SIDE`] pixels a side). A one-channel
/// model sees the mean of R, G and B.
///
/// # Errors
/// A file that cannot be read or is not a PNG/JPEG image, one larger than
/// 16,384 pixels a side, or one outside the native limits; the error names the file.
pub fn read_image(path: &Path, shape: [usize; 3], size: InputSize) -> Result<ImageFile> {
    decode_image(path, &crate::io::read_file(path)?, shape, size)
}

/// [`read_image`] on the bytes of a file (`path` names it in errors).
pub fn decode_image(path: &Path, bytes: &[u8], [c, h, w]: [usize; 3], size: InputSize) -> Result<ImageFile> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    if reader.format().is_none() {
        return Err(Error::file(path, "not a PNG or JPEG image"));
    }
    let mut limits = image::Limits::default();
    (limits.max_image_width, limits.max_image_height) = (Some(DECODE_MAX_SIDE), Some(DECODE_MAX_SIDE));
    reader.limits(limits);
    let img = reader.decode().map_err(|e| Error::file(path, format!("not a readable PNG or JPEG image ({e})")))?;
    let original = (img.width() as usize, img.height() as usize);
    let (out_w, out_h) = match size {
        InputSize::Model => (w, h),
        InputSize::Native => {
            let (iw, ih) = original;
            if iw.max(ih) > NATIVE_MAX_SIDE || iw.min(ih) < NATIVE_MIN_SIDE {
                return Err(Error::file(
                    path,
                    format!(
                        "is {iw}x{ih}; --size native takes {NATIVE_MIN_SIDE} to {NATIVE_MAX_SIDE} pixels a side \
                         (use --size model to resize it to the model's {w}x{h})"
                    ),
                ));
            }
            original
        }
    };
    let img = if (out_w, out_h) != original {
        img.resize_exact(out_w as u32, out_h as u32, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let rgb = img.to_rgb8();
    let plane = out_h * out_w;
    let mut bytes = vec![0u8; c * plane];
    for (x, y, p) in rgb.enumerate_pixels() {
        let at = y as usize * out_w + x as usize;
        if c == 1 {
            bytes[at] = (p.0.iter().map(|&v| v as u32).sum::<u32>() / 3) as u8;
        } else {
            (0..c).for_each(|ch| bytes[ch * plane + at] = p.0[ch]);
        }
    }
    Ok(ImageFile { bytes, shape: [c, out_h, out_w], original })
}

/// Every regular file below `dir` (recursively, sorted by path; hidden
/// files and folders skipped): the caller reads each and reports the ones
/// that are not images, so one bad file never stops the rest.
///
/// # Errors
/// When `dir` is not a readable folder, or holds no file at all.
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Err(Error::file(dir, "not a folder (--images takes a folder of image files)"));
    }
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|e| Error::file(&folder, format!("cannot list: {e}")))?;
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(path),
                Ok(_) => files.push(path),
                Err(_) => {}
            }
        }
    }
    if files.is_empty() {
        return Err(Error::file(dir, "the folder holds no files"));
    }
    files.sort();
    Ok(files)
}
