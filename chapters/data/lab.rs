//! Lab "The data: shapes and CIFAR-10": read CIFAR-10's official binary format, refuse bad files with a clear message, and lay an image out for a PNG.
//!
//! Replace each `todo!`, then run `cargo lab data`.
#![allow(unused_variables)]

// ANCHOR: task
/// Bytes of one record: 1 label byte, then 32·32 red, 32·32 green and
/// 32·32 blue pixel bytes (each plane row by row).
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// The records of one batch file.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// One label (0–9) per image.
    pub labels: Vec<u8>,
    /// The images one after the other, each 3·32·32 bytes, CHW (R plane, G plane, B plane).
    pub images: Vec<u8>,
}

/// Parses the bytes of one batch file called `name` (`data_batch_1.bin`, …).
///
/// Bad input is refused with a message that names the file and says what is
/// wrong — never a panic, never silently wrong data: an empty file or one
/// whose length is not a whole number of records (say how many bytes it
/// has), and a label above 9 (say which record and which label).
pub fn parse_batch(name: &str, bytes: &[u8]) -> Result<Batch, String> {
    todo!("check the length, then split into records and check every label")
}

/// One CHW image (3 planes of `h`·`w` bytes) as HWC, the layout of a PNG:
/// pixel (y, x) becomes the three bytes R, G, B at offset 3·(y·w + x).
pub fn to_hwc(image: &[u8], (h, w): (usize, usize)) -> Vec<u8> {
    todo!("interleave the three planes")
}
// ANCHOR_END: task
