//! Image-folder datasets: `train/<class>/*.png|jpg` and `test/<class>/…`, from a folder or a `.tar.gz`, with optional box and keypoint files.

use super::annotations::{self, SplitFiles};
use super::{archive, Dataset, Splits};
use crate::io::{Error, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Encoded images found for one split: class → (file name for messages, bytes).
type Found = BTreeMap<String, Vec<(String, Vec<u8>)>>;

fn is_image(name: &str) -> bool {
    let lower = name.to_lowercase();
    [".png", ".jpg", ".jpeg"].iter().any(|ext| lower.ends_with(ext))
}

/// The split and file name of an annotation file (`…/train/boxes.csv`).
fn annotation_member(member: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = member.split('/').filter(|p| !p.is_empty()).collect();
    let n = parts.len();
    let is_note = |f: &str| f == annotations::BOXES_FILE || f == annotations::KEYPOINTS_FILE;
    (n >= 2 && (parts[n - 2] == "train" || parts[n - 2] == "test") && is_note(parts[n - 1]))
        .then(|| (parts[n - 2], parts[n - 1]))
}

/// Splits `…/train/cat/0001.jpg` into ("train", "cat"); `None` for other paths.
fn split_and_class(member: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = member.split('/').filter(|p| !p.is_empty()).collect();
    let n = parts.len();
    (n >= 3 && (parts[n - 3] == "train" || parts[n - 3] == "test")).then(|| (parts[n - 3], parts[n - 2]))
}

/// Loads both splits from a folder (or one holding a single subfolder that has them) or an archive.
pub fn load(path: &Path) -> Result<Splits> {
    let [(train, train_notes), (test, test_notes)] = find(path, &["train", "test"])?;
    check_classes(path, &train, &test)?;
    let train = decode_split(path, train, &train_notes)?;
    let test = decode_split(path, test, &test_notes)?;
    if train.shape != test.shape {
        return Err(Error::file(
            path,
            format!("train images are {:?} but test images are {:?}", train.shape, test.shape),
        ));
    }
    Ok(Splits { source: path.display().to_string(), train, test })
}

/// Loads the test split alone: the training images are neither read from
/// disk nor decoded (in an archive they are skipped over).
pub fn load_test(path: &Path) -> Result<Dataset> {
    let [_, (test, notes)] = find(path, &["test"])?;
    if test.is_empty() {
        return Err(Error::file(path, "no images under test/<class>/ (png or jpg)"));
    }
    decode_split(path, test, &notes)
}

/// The encoded images and the annotation files of the `wanted` splits
/// ([train, test]), undecoded.
fn find(path: &Path, wanted: &[&str]) -> Result<[(Found, SplitFiles); 2]> {
    let mut splits: [(Found, SplitFiles); 2] = Default::default();
    let mut add = |member: &str, bytes: Vec<u8>| {
        if let Some((split, file)) = annotation_member(member).filter(|(split, _)| wanted.contains(split)) {
            splits[usize::from(split == "test")].1.offer(file, format!("{split}/{file}"), bytes);
        } else if let Some((split, class)) = wanted_member(member, wanted) {
            splits[usize::from(split == "test")]
                .0
                .entry(class.to_string())
                .or_default()
                .push((member.to_string(), bytes));
        }
    };
    if path.is_dir() {
        let root = find_root(path)?;
        for split in wanted {
            walk_split(&root, split, &mut add)?;
        }
    } else if archive::is_tar_gz(path) {
        archive::for_each_member(path, |member, read| {
            let note = annotation_member(member).is_some_and(|(split, _)| wanted.contains(&split));
            if note || (is_image(member) && wanted_member(member, wanted).is_some()) {
                add(member, read()?);
            }
            Ok(true)
        })?;
    } else {
        return Err(Error::file(path, "expected a folder, a .tar.gz archive, or CIFAR-10 binary batches"));
    }
    Ok(splits)
}

/// The split and class of an image of one of the `wanted` splits.
fn wanted_member<'a>(member: &'a str, wanted: &[&str]) -> Option<(&'a str, &'a str)> {
    split_and_class(member).filter(|(split, _)| wanted.contains(split))
}

/// `path` itself when it has `train/`, else its only subfolder that has one.
fn find_root(path: &Path) -> Result<PathBuf> {
    if path.join("train").is_dir() {
        return Ok(path.to_path_buf());
    }
    let subdirs: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::file(path, format!("cannot list: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("train").is_dir())
        .collect();
    match &subdirs[..] {
        [one] => Ok(one.clone()),
        _ => Err(Error::file(path, "no train/ folder here (expected train/<class>/*.png|jpg and test/<class>/…)")),
    }
}

fn walk_split(root: &Path, split: &str, add: &mut impl FnMut(&str, Vec<u8>)) -> Result<()> {
    let dir = root.join(split);
    let list = |d: &Path| -> Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| Error::file(d, format!("cannot list: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        Ok(v)
    };
    if !dir.is_dir() {
        return Err(Error::file(&dir, "missing folder"));
    }
    for note in [annotations::BOXES_FILE, annotations::KEYPOINTS_FILE] {
        let file = dir.join(note);
        if file.exists() {
            let bytes = crate::io::read_file(&file)?;
            add(&format!("{split}/{note}"), bytes);
        }
    }
    for class_dir in list(&dir)?.into_iter().filter(|p| p.is_dir()) {
        for file in list(&class_dir)?.into_iter().filter(|p| is_image(&p.to_string_lossy())) {
            let bytes = crate::io::read_file(&file)?;
            let class = class_dir.file_name().unwrap_or_default().to_string_lossy();
            let name = file.file_name().unwrap_or_default().to_string_lossy();
            add(&format!("{split}/{class}/{name}"), bytes);
        }
    }
    Ok(())
}

/// Both splits must have the same, non-empty classes.
fn check_classes(path: &Path, train: &Found, test: &Found) -> Result<()> {
    if train.is_empty() {
        return Err(Error::file(path, "no images under train/<class>/ (png or jpg)"));
    }
    for (split, found, other) in [("test", test, train), ("train", train, test)] {
        if let Some(missing) = other.keys().find(|c| !found.contains_key(*c)) {
            return Err(Error::file(path, format!("class folder {split}/{missing}/ is missing or has no images")));
        }
    }
    Ok(())
}

// ANCHOR: decode
/// Decodes every image in parallel into CHW bytes; all must share one size.
/// The split's box and keypoint files, if any, are checked and attached.
fn decode_split(path: &Path, found: Found, notes: &SplitFiles) -> Result<Dataset> {
    let classes: Vec<String> = found.keys().cloned().collect();
    let mut items: Vec<(usize, String, Vec<u8>)> = Vec::new();
    for (label, (_, mut files)) in found.into_iter().enumerate() {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        items.extend(files.into_iter().map(|(name, bytes)| (label, name, bytes)));
    }
    let decoded: Vec<(usize, String, image::RgbImage)> = items
        .into_par_iter()
        .map(|(label, name, bytes)| {
            let img = image::load_from_memory(&bytes)
                .map_err(|e| Error::file(path, format!("{name}: unreadable image ({e})")))?;
            Ok((label, name, img.to_rgb8()))
        })
        .collect::<Result<_>>()?;
    let Some((w, h)) = decoded.first().map(|d| d.2.dimensions()) else {
        return Err(Error::file(path, "a split has no images"));
    };
    let mut data = Dataset { classes, shape: [3, h as usize, w as usize], ..Dataset::default() };
    data.images.reserve(decoded.len() * 3 * (w * h) as usize);
    let mut names = Vec::with_capacity(decoded.len());
    for (label, name, img) in decoded {
        if img.dimensions() != (w, h) {
            let (iw, ih) = img.dimensions();
            return Err(Error::file(path, format!("{name} is {iw}x{ih}, but the other images are {w}x{h}")));
        }
        for c in 0..3 {
            data.images.extend(img.pixels().map(|p| p.0[c])); // HWC → CHW, one plane at a time
        }
        data.labels.push(label);
        names.push(name);
    }
    annotations::attach(path, notes, &names, &mut data)?;
    Ok(data)
}
// ANCHOR_END: decode
