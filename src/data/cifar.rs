//! CIFAR-10 in its official binary format: records of 1 label byte + 3072 pixel bytes (R plane, G plane, B plane).

use super::{archive, Dataset, Splits};
use crate::io::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The classes in the official label order (also alphabetical).
pub const CLASSES: [&str; 10] =
    ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

/// Bytes per record: 1 label + 32·32·3 pixels.
pub const RECORD: usize = 1 + 3072;

/// Training batch files, in order.
pub const TRAIN_FILES: [&str; 5] =
    ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];

/// The test batch file.
pub const TEST_FILE: &str = "test_batch.bin";

/// What to do when no CIFAR-10 copy is found.
pub const NOT_FOUND_HELP: &str = "CIFAR-10 not found. Run `cnnlab download cifar10`, or put the official \
cifar-10-binary.tar.gz (or its extracted cifar-10-batches-bin folder) in ~/.cache/cnnlab/, \
or pass --data PATH to a copy (official binaries or an image-folder tree, folder or .tar.gz)";

/// Where cnnlab keeps downloads: `$CNNLAB_CACHE`, else `~/.cache/cnnlab`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CNNLAB_CACHE") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| ".".into());
    home.join(".cache").join("cnnlab")
}

/// The first CIFAR-10 copy found: the download cache, then `../shared/data`.
pub fn find_local() -> Option<PathBuf> {
    let cache = cache_dir();
    let candidates = [
        cache.join("cifar-10-batches-bin"),
        cache.join("cifar-10-binary.tar.gz"),
        PathBuf::from("../shared/data/cifar10-jpg.tar.gz"),
    ];
    candidates.into_iter().find(|p| p.exists())
}

/// Does `path` hold the official binary batches (folder or archive)?
pub fn looks_like_binary(path: &Path) -> Result<bool> {
    if path.is_dir() {
        return Ok(batch_dir(path).is_some());
    }
    if !archive::is_tar_gz(path) {
        return Ok(false);
    }
    let mut found = false;
    let mut seen = 0;
    archive::for_each_member(path, |name, _| {
        found = name.ends_with(".bin") || name.ends_with("batches.meta.txt");
        seen += 1;
        Ok(!found && seen < 3)
    })?;
    Ok(found)
}

/// The folder holding `data_batch_1.bin`: `dir` itself or `dir/cifar-10-batches-bin`.
fn batch_dir(dir: &Path) -> Option<PathBuf> {
    [dir.to_path_buf(), dir.join("cifar-10-batches-bin")].into_iter().find(|d| d.join(TRAIN_FILES[0]).is_file())
}

// ANCHOR: parse
/// Parses one batch file's bytes into a dataset; `name` is used in errors.
pub fn parse_batch(name: &Path, bytes: &[u8]) -> Result<Dataset> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(Error::file(
            name,
            format!(
                "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (truncated or not a CIFAR-10 batch)",
                bytes.len()
            ),
        ));
    }
    let mut data = Dataset { classes: CLASSES.map(String::from).to_vec(), shape: [3, 32, 32], ..Dataset::default() };
    data.images.reserve(bytes.len() / RECORD * 3072);
    for (i, record) in bytes.chunks_exact(RECORD).enumerate() {
        let label = record[0] as usize;
        if label >= CLASSES.len() {
            return Err(Error::file(name, format!("record {i} has label {label}; CIFAR-10 labels are 0–9")));
        }
        data.labels.push(label);
        data.images.extend_from_slice(&record[1..]); // already CHW: 1024 R, 1024 G, 1024 B
    }
    Ok(data)
}
// ANCHOR_END: parse

/// Concatenates batches.
fn concat(parts: Vec<Dataset>) -> Dataset {
    let mut parts = parts.into_iter();
    let mut all = parts.next().unwrap_or_default();
    for p in parts {
        all.images.extend(p.images);
        all.labels.extend(p.labels);
    }
    all
}

/// Loads the five training batches and the test batch from a folder or from
/// `cifar-10-binary.tar.gz`.
pub fn load_binary(path: &Path) -> Result<Splits> {
    let names: Vec<&str> = TRAIN_FILES.iter().copied().chain([TEST_FILE]).collect();
    let mut files = read_batches(path, &names)?;
    let mut take = |name: &str| -> Result<Dataset> {
        let (file, bytes) = files.remove(name).ok_or_else(|| Error::file(path, format!("{name} is missing")))?;
        parse_batch(&file, &bytes)
    };
    let train = concat(TRAIN_FILES.iter().map(|n| take(n)).collect::<Result<Vec<_>>>()?);
    let test = take(TEST_FILE)?;
    Ok(Splits { source: path.display().to_string(), train, test })
}

/// Loads the test batch alone (the training batches are not read).
pub fn load_binary_test(path: &Path) -> Result<Dataset> {
    let mut files = read_batches(path, &[TEST_FILE])?;
    let (file, bytes) = files.remove(TEST_FILE).ok_or_else(|| Error::file(path, format!("{TEST_FILE} is missing")))?;
    parse_batch(&file, &bytes)
}

/// The batch files called `names` (name → (where, bytes)), from a folder or an archive.
fn read_batches(path: &Path, names: &[&str]) -> Result<HashMap<String, (PathBuf, Vec<u8>)>> {
    let mut files: HashMap<String, (PathBuf, Vec<u8>)> = HashMap::new();
    let wanted = |name: &str| names.contains(&name);
    if path.is_dir() {
        let dir = batch_dir(path)
            .ok_or_else(|| Error::file(path, format!("no {} here or in cifar-10-batches-bin/", TRAIN_FILES[0])))?;
        for name in names {
            let file = dir.join(name);
            let bytes = crate::io::read_file(&file)?;
            files.insert(name.to_string(), (file, bytes));
        }
    } else {
        archive::for_each_member(path, |member, read| {
            let base = member.rsplit('/').next().unwrap_or(member).to_string();
            if wanted(&base) {
                files.insert(base, (PathBuf::from(format!("{}:{member}", path.display())), read()?));
            }
            Ok(true)
        })?;
    }
    Ok(files)
}

/// Encodes images and labels as a binary batch (for tests and for exporting).
pub fn encode_batch(data: &Dataset) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * RECORD);
    for i in 0..data.len() {
        out.push(data.labels[i] as u8);
        out.extend_from_slice(data.image(i));
    }
    out
}
