//! Reading `.tar.gz` archives member by member (for CIFAR-10 and image folders).

use crate::io::{Error, Result};
use std::io::Read;
use std::path::Path;

/// True for `.tar.gz` and `.tgz` file names.
pub fn is_tar_gz(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// Calls `f(member name, read the member's bytes)` for each regular file of
/// the archive, in archive order, until `f` returns `Ok(false)`. The bytes
/// are read only when `f` calls the reader it is given.
pub fn for_each_member(
    path: &Path,
    mut f: impl FnMut(&str, &mut dyn FnMut() -> Result<Vec<u8>>) -> Result<bool>,
) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let corrupt = |e: std::io::Error| Error::file(path, format!("not a readable .tar.gz archive ({e})"));
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry.path().map_err(corrupt)?.to_string_lossy().into_owned();
        let mut read = || {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| Error::file(path, format!("member {name}: truncated or corrupt ({e})")))?;
            Ok(bytes)
        };
        if !f(&name.clone(), &mut read)? {
            break;
        }
    }
    Ok(())
}
