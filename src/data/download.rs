//! Downloading CIFAR-10's official binary archive: streamed, checksummed, cached, atomic.

use crate::io::{Error, Result};
use indicatif::{ProgressBar, ProgressStyle};
use md5::{Digest, Md5};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The official archive of the binary version.
pub const CIFAR10_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// Its MD5, as published on the dataset's page.
pub const CIFAR10_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";
/// The file name it is cached under.
pub const CIFAR10_FILE: &str = "cifar-10-binary.tar.gz";

/// The MD5 of a file, as lowercase hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What to tell a user whose download failed.
fn manual_help(url: &str, dest: &Path, md5: &str) -> String {
    format!(
        "download it by other means from {url} (MD5 {md5}) and put it at {}, or pass --data PATH to a copy",
        dest.display()
    )
}

// ANCHOR: download
/// Fetches `url` into `dir`/`file_name` unless a copy with the right MD5 is
/// already there. The body is streamed to a temporary file while its MD5 is
/// computed; only a file whose checksum matches is renamed into place.
pub fn download(url: &str, dir: &Path, file_name: &str, md5: &str) -> Result<PathBuf> {
    let dest = dir.join(file_name);
    if dest.exists() && md5_file(&dest)? == md5 {
        return Ok(dest);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create folder: {e}")))?;
    let offline = |e: String| Error::msg(format!("cannot download {url} ({e}); {}", manual_help(url, &dest, md5)));
    let response = ureq::get(url).call().map_err(|e| offline(e.to_string()))?;
    let length = response.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let bar = ProgressBar::new(length.unwrap_or(0));
    bar.set_style(
        ProgressStyle::with_template("{bytes}/{total_bytes} [{bar:30}] {bytes_per_sec} (ETA {eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let partial = dir.join(format!(".{file_name}.{}.part", std::process::id()));
    let result = (|| -> Result<String> {
        let mut out =
            std::fs::File::create(&partial).map_err(|e| Error::file(&partial, format!("cannot create: {e}")))?;
        let (mut body, mut hasher, mut buf) = (response.into_body().into_reader(), Md5::new(), vec![0u8; 1 << 16]);
        loop {
            let n = body.read(&mut buf).map_err(|e| offline(format!("connection lost: {e}")))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(|e| Error::file(&partial, format!("cannot write: {e}")))?;
            bar.inc(n as u64);
        }
        out.sync_all().map_err(|e| Error::file(&partial, format!("cannot write: {e}")))?;
        Ok(hex(&hasher.finalize()))
    })();
    bar.finish_and_clear();
    let got = result.inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    if got != md5 {
        let _ = std::fs::remove_file(&partial);
        return Err(Error::msg(format!("{url}: checksum mismatch: got MD5 {got}, expected {md5}; nothing was saved")));
    }
    std::fs::rename(&partial, &dest).map_err(|e| Error::file(&dest, format!("cannot move into place: {e}")))?;
    Ok(dest)
}
// ANCHOR_END: download
