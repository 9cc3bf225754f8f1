//! Reference solution of the lab "The data: shapes and CIFAR-10": CIFAR-10 batch files with clear errors, CHW to HWC.

/// 1 label byte + 3·32·32 pixel bytes.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// The records of one batch file.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    /// One label per image.
    pub labels: Vec<u8>,
    /// CHW images, one after the other.
    pub images: Vec<u8>,
}

/// Whole records only, labels 0–9; errors name the file.
pub fn parse_batch(name: &str, bytes: &[u8]) -> Result<Batch, String> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(format!(
            "{name}: {} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (truncated, or not a CIFAR-10 batch)",
            bytes.len()
        ));
    }
    let mut batch = Batch { labels: Vec::new(), images: Vec::with_capacity(bytes.len()) };
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        if record[0] > 9 {
            return Err(format!("{name}: record {i} has label {}; CIFAR-10 labels are 0–9", record[0]));
        }
        batch.labels.push(record[0]);
        batch.images.extend_from_slice(&record[1..]);
    }
    Ok(batch)
}

/// out[3·(y·w + x) + ch] = image[ch·h·w + y·w + x].
pub fn to_hwc(image: &[u8], (h, w): (usize, usize)) -> Vec<u8> {
    let plane = h * w;
    (0..plane).flat_map(|p| (0..3).map(move |ch| image[ch * plane + p])).collect()
}
