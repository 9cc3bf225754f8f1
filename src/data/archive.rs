//! Reading `.tar.gz` archives member by member (for CIFAR-10 and image folders).

use crate::io::{Error, Result};
use std::io::Read;
use std::path::Path;

/// True for `.tar.gz` and `.tgz` file names.
pub fn is_tar_gz(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// The largest member read: far above any CIFAR-10 batch (30 MB) or image,
/// far below what would exhaust memory. A header claiming more is refused
/// before anything is allocated.
pub const MAX_MEMBER_BYTES: u64 = 1 << 30;

/// The most bytes reserved ahead for one member; larger ones grow as they are read.
const PREALLOCATE: u64 = 64 << 20;

/// An error message from a decoder, fit to print: a corrupt header can put
/// raw bytes into it, which are shown as escapes (and the text cut short).
fn printable(e: &std::io::Error) -> String {
    let text: String = e.to_string().chars().flat_map(char::escape_default).collect();
    if text.len() > 200 {
        format!("{}…", &text[..200]) // escape_default leaves only ASCII
    } else {
        text
    }
}

/// Calls `f(member name, read the member's bytes)` for each regular file of
/// the archive, in archive order, until `f` returns `Ok(false)`. The bytes
/// are read only when `f` calls the reader it is given.
pub fn for_each_member(
    path: &Path,
    f: impl FnMut(&str, &mut dyn FnMut() -> Result<Vec<u8>>) -> Result<bool>,
) -> Result<()> {
    crate::io::require_regular_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    for_each_member_in(path, std::io::BufReader::new(file), f)
}

/// [`for_each_member`] on the bytes of a `.tar.gz` read from `reader` (`path` names it in errors).
pub fn for_each_member_in(
    path: &Path,
    reader: impl Read,
    mut f: impl FnMut(&str, &mut dyn FnMut() -> Result<Vec<u8>>) -> Result<bool>,
) -> Result<()> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    let corrupt = |e: std::io::Error| Error::file(path, format!("not a readable .tar.gz archive ({})", printable(&e)));
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(corrupt)?.to_string_lossy().into_owned();
        let mut read = || {
            let size = entry.size();
            if size > MAX_MEMBER_BYTES {
                let why =
                    format!("member {name} claims {size} bytes, more than the {MAX_MEMBER_BYTES} this reader accepts");
                return Err(Error::file(path, why));
            }
            // the header's size is a claim, not a fact: reserve what a real member would need at most
            let mut bytes = Vec::with_capacity(size.min(PREALLOCATE) as usize);
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| Error::file(path, format!("member {name}: truncated or corrupt ({})", printable(&e))))?;
            Ok(bytes)
        };
        if !f(&name.clone(), &mut read)? {
            break;
        }
    }
    Ok(())
}
