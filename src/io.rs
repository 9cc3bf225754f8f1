//! Errors for input from outside, and atomic writes of results.
//!
//! Every file cnnlab writes (PNG figures, checkpoints, metrics) is written to
//! a temporary file beside the target and renamed into place, so a crash or
//! Ctrl-C never leaves a half-written file behind: readers see the old file
//! or the new one.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An error caused by something outside the program: a file, an argument, an image.
/// The message always says which file or argument, and what was wrong.
#[derive(Debug)]
pub struct Error {
    /// The file concerned, if any.
    pub path: Option<PathBuf>,
    /// What was wrong, in words.
    pub message: String,
}

impl Error {
    /// An error about `path`.
    pub fn file(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error { path: Some(path.as_ref().to_path_buf()), message: message.into() }
    }

    /// An error not tied to a file (e.g. a command-line argument).
    pub fn msg(message: impl Into<String>) -> Self {
        Error { path: None, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(p) => write!(f, "{}: {}", p.display(), self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for Error {}

/// Result with cnnlab's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Reads a whole file given from outside. A FIFO, a device or a socket
/// would block or never end, so only regular files are read.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    require_regular_file(path)?;
    std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))
}

/// `path` is a regular file: opening a FIFO or a device could block forever.
pub fn require_regular_file(path: &Path) -> Result<()> {
    let meta = std::fs::metadata(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(Error::file(path, "not a regular file (a folder, FIFO, device or socket)"));
    }
    Ok(())
}

// ANCHOR: write_atomic
/// Writes a file atomically: `write` fills a temporary file next to `path`,
/// which is synced and then renamed over `path`. On any error the temporary
/// file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create folder: {e}")))?;
    let name = path.file_name().ok_or_else(|| Error::file(path, "not a file name"))?;
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        write(&mut file)?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::file(path, format!("cannot write: {e}"))
    })
}
// ANCHOR_END: write_atomic

/// Saves an RGB image as PNG, atomically.
pub fn save_png(path: &Path, image: &image::RgbImage) -> Result<()> {
    let mut bytes = Vec::new();
    image
        .write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| Error::file(path, format!("cannot encode PNG: {e}")))?;
    write_atomic(path, |w| w.write_all(&bytes))
}

/// Where an example writes its figures: `target/figures/` by default, so
/// that running an example as the book says never changes the checkout;
/// the book's own `book/src/figures/` when the example is run with `--book`
/// (regenerating the book's figures is an explicit choice).
pub fn figures_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if std::env::args().any(|a| a == "--book") {
        root.join("book/src/figures")
    } else {
        root.join("target/figures")
    }
}

/// Values of shape `shape` (C order) as numpy's `.npy` format, float32
/// little-endian: `np.load("file.npy")` reads them back.
pub fn npy_bytes(shape: &[usize], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // magic, version 1.0, header length; the header is padded with spaces
    // and a newline so that the data starts at a multiple of 64 bytes
    let unpadded = 10 + dict.len() + 1;
    let header_len = dict.len() + 1 + (64 - unpadded % 64) % 64;
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(10 + header_len - 1, b' ');
    out.push(b'\n');
    values.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    out
}
