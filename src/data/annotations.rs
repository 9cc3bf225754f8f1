//! Box and keypoint files beside an image-folder split (`boxes.csv`, `keypoints.csv`), checked against the images.
//!
//! A split folder (`train/` or `test/`) may hold, beside its class folders,
//!
//! - `boxes.csv`: one row `CLASS/FILE,x0,y0,x1,y1` per image — the object's
//!   box in pixels, columns `x0..x1` and rows `y0..y1`;
//! - `keypoints.csv`: one row `CLASS/FILE,x_0,y_0,x_1,y_1,…` per image — the
//!   same number of (x, y) points in every row (14 in the LSP order for
//!   `--task pose`).
//!
//! A first line whose first field is `file` is a header. Every image of the
//! split must have exactly one row, every row must name an image of the
//! split, and every coordinate must be finite and inside the image: any
//! other file is refused with the file, the line and what was wrong.

use super::{BBox, Dataset};
use crate::io::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The file names the loader looks for in a split folder.
pub const BOXES_FILE: &str = "boxes.csv";
/// See [`BOXES_FILE`].
pub const KEYPOINTS_FILE: &str = "keypoints.csv";

/// The annotation files found in one split: file name → (name for messages, bytes).
#[derive(Clone, Debug, Default)]
pub struct SplitFiles {
    /// `boxes.csv`, if the split has one.
    pub boxes: Option<(String, Vec<u8>)>,
    /// `keypoints.csv`, if the split has one.
    pub keypoints: Option<(String, Vec<u8>)>,
}

impl SplitFiles {
    /// Keeps `bytes` if `file` is one of the two annotation files.
    pub fn offer(&mut self, file: &str, shown: String, bytes: Vec<u8>) {
        match file {
            BOXES_FILE => self.boxes = Some((shown, bytes)),
            KEYPOINTS_FILE => self.keypoints = Some((shown, bytes)),
            _ => {}
        }
    }
}

/// The key of an image in an annotation file: `CLASS/FILE`, the last two parts of its path.
pub fn key_of(member: &str) -> String {
    let parts: Vec<&str> = member.split('/').filter(|p| !p.is_empty()).collect();
    parts[parts.len().saturating_sub(2)..].join("/")
}

/// Attaches the boxes and keypoints of `files` to `data`, whose images are
/// named `names` (one per image, in order). `path` is the dataset, for messages.
pub fn attach(path: &Path, files: &SplitFiles, names: &[String], data: &mut Dataset) -> Result<()> {
    let [_, h, w] = data.shape;
    if let Some((shown, bytes)) = &files.boxes {
        let rows = parse(path, shown, bytes, Some(4), (w as f32, h as f32))?;
        let rows = in_image_order(path, shown, rows, names)?;
        data.boxes = rows.iter().map(|(line, v)| to_box(path, shown, *line, v)).collect::<Result<_>>()?;
    }
    if let Some((shown, bytes)) = &files.keypoints {
        let rows = parse(path, shown, bytes, None, (w as f32, h as f32))?;
        let rows = in_image_order(path, shown, rows, names)?;
        data.keypoints = rows.into_iter().map(|(_, v)| v.chunks(2).map(|p| [p[0], p[1]]).collect()).collect();
    }
    Ok(())
}

/// One parsed row: its line number (from 1) and its numbers.
type Row = (usize, Vec<f32>);

/// Parses every row into key → (line, numbers). `width` fixes the count of
/// numbers; without it, the first row's count (even, at least 2) is every row's.
fn parse(
    path: &Path,
    shown: &str,
    bytes: &[u8],
    width: Option<usize>,
    (w, h): (f32, f32),
) -> Result<BTreeMap<String, Row>> {
    let bad = |line: usize, why: String| Error::file(path, format!("{shown} line {line}: {why}"));
    let text = std::str::from_utf8(bytes).map_err(|_| Error::file(path, format!("{shown} is not UTF-8 text")))?;
    let mut rows = BTreeMap::new();
    let mut count = width;
    for (i, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if line.is_empty() || (i == 1 && fields[0] == "file") {
            continue;
        }
        let numbers: Vec<f32> = fields[1..]
            .iter()
            .map(|f| {
                f.parse::<f32>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(i, format!("'{f}' is not a finite number")))
            })
            .collect::<Result<_>>()?;
        let expected = *count.get_or_insert(numbers.len());
        if numbers.len() != expected || expected < 2 || !expected.is_multiple_of(2) {
            return Err(bad(
                i,
                format!("{} numbers after the file name; expected {expected} (x, y pairs)", numbers.len()),
            ));
        }
        if let Some(p) = numbers.chunks(2).find(|p| !(0.0..=w).contains(&p[0]) || !(0.0..=h).contains(&p[1])) {
            return Err(bad(i, format!("the point ({}, {}) is outside the {w}x{h} image", p[0], p[1])));
        }
        if let Some((earlier, _)) = rows.insert(fields[0].to_string(), (i, numbers)) {
            return Err(bad(i, format!("{} already has a row (line {earlier})", fields[0])));
        }
    }
    Ok(rows)
}

/// The rows in the order of the images `names`: every image needs a row, every row an image.
fn in_image_order(path: &Path, shown: &str, mut rows: BTreeMap<String, Row>, names: &[String]) -> Result<Vec<Row>> {
    let ordered = names
        .iter()
        .map(|name| {
            let key = key_of(name);
            rows.remove(&key).ok_or_else(|| Error::file(path, format!("{shown} has no row for the image {key}")))
        })
        .collect::<Result<Vec<Row>>>()?;
    if let Some((key, (line, _))) = rows.into_iter().min_by_key(|(_, (line, _))| *line) {
        return Err(Error::file(path, format!("{shown} line {line}: {key} is not an image of this split")));
    }
    Ok(ordered)
}

/// A box row as a box, refused when it is empty (x1 ≤ x0 or y1 ≤ y0).
fn to_box(path: &Path, shown: &str, line: usize, v: &[f32]) -> Result<BBox> {
    let b = BBox { x0: v[0], y0: v[1], x1: v[2], y1: v[3] };
    if b.x1 <= b.x0 || b.y1 <= b.y0 {
        let why = format!(
            "{shown} line {line}: the box ({}, {}, {}, {}) is empty (x0 < x1 and y0 < y1 needed)",
            b.x0, b.y0, b.x1, b.y1
        );
        return Err(Error::file(path, why));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize) -> Dataset {
        Dataset {
            classes: vec!["a".into()],
            shape: [3, 8, 10],
            images: vec![0; n * 240],
            labels: vec![0; n],
            ..Dataset::default()
        }
    }

    fn attach_boxes(text: &str, names: &[&str]) -> Result<Dataset> {
        let files = SplitFiles { boxes: Some(("train/boxes.csv".into(), text.as_bytes().to_vec())), keypoints: None };
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut d = data(names.len());
        attach(Path::new("set"), &files, &names, &mut d).map(|()| d)
    }

    #[test]
    fn rows_follow_the_images_in_any_order_with_or_without_a_header() {
        let d = attach_boxes(
            "file,x0,y0,x1,y1\nb/2.png, 1,2,3,4\na/1.png,0,0,10,8\n",
            &["x/train/a/1.png", "x/train/b/2.png"],
        )
        .unwrap();
        assert_eq!(
            d.boxes,
            vec![BBox { x0: 0.0, y0: 0.0, x1: 10.0, y1: 8.0 }, BBox { x0: 1.0, y0: 2.0, x1: 3.0, y1: 4.0 }]
        );
    }

    #[test]
    fn every_mismatch_is_named() {
        let err = |text: &str, names: &[&str]| attach_boxes(text, names).unwrap_err().to_string();
        assert!(err("a/1.png,0,0,5,5\n", &["a/1.png", "a/2.png"]).contains("no row for the image a/2.png"));
        assert!(err("a/1.png,0,0,5,5\na/9.png,0,0,5,5\n", &["a/1.png"]).contains("line 2: a/9.png is not an image"));
        assert!(err("a/1.png,0,0,5\n", &["a/1.png"]).contains("line 1: 3 numbers"));
        assert!(err("a/1.png,0,0,11,5\n", &["a/1.png"]).contains("outside the 10x8 image"));
        assert!(err("a/1.png,0,0,nan,5\n", &["a/1.png"]).contains("'nan' is not a finite number"));
        assert!(err("a/1.png,5,0,5,5\n", &["a/1.png"]).contains("is empty"));
        assert!(err("a/1.png,0,0,5,5\na/1.png,0,0,5,5\n", &["a/1.png"]).contains("already has a row (line 1)"));
    }

    #[test]
    fn keypoint_rows_must_agree_in_length() {
        let files = |text: &str| SplitFiles {
            boxes: None,
            keypoints: Some(("keypoints.csv".into(), text.as_bytes().to_vec())),
        };
        let names = vec!["a/1.png".to_string(), "a/2.png".to_string()];
        let mut d = data(2);
        attach(Path::new("set"), &files("a/1.png,1,2,3,4\na/2.png,5,6,7,8\n"), &names, &mut d).unwrap();
        assert_eq!(d.keypoints, vec![vec![[1.0, 2.0], [3.0, 4.0]], vec![[5.0, 6.0], [7.0, 8.0]]]);
        let e = attach(Path::new("set"), &files("a/1.png,1,2,3,4\na/2.png,5,6\n"), &names, &mut d).unwrap_err();
        assert!(e.to_string().contains("line 2: 2 numbers after the file name; expected 4"), "{e}");
    }
}
