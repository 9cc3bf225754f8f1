//! One writer per folder: an exclusive advisory lock held for the life of a command that writes a run folder.
//!
//! The lock is an OS file lock (`flock` on Unix, `LockFileEx` on Windows)
//! on `FOLDER/.lock`, which also holds the writer's process id for the
//! message a second writer gets. The OS drops the lock when the process
//! ends, however it ends, so a lock left by a killed process never blocks.

use crate::io::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The lock file's name inside a locked folder.
pub const LOCK_FILE: &str = ".lock";

/// An exclusive lock on a folder; released when dropped (or the process ends).
/// Re-entrant within a process: a command that holds a run folder's lock may
/// call one that locks it again (the demo trains, then explains into it).
#[derive(Debug)]
pub struct FolderLock {
    /// The locked file; `None` for a nested lock of a folder this process holds.
    file: Option<File>,
    folder: PathBuf,
}

/// The folders this process has locked (canonical paths).
static HELD: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn held() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        if self.file.is_some() {
            held().retain(|f| f != &self.folder);
        }
    }
}

impl FolderLock {
    /// Locks `folder` (creating it if needed) for this process, or says which
    /// process holds it. Also the check that the folder is writable, before
    /// any work is done.
    pub fn acquire(folder: &Path) -> Result<FolderLock> {
        std::fs::create_dir_all(folder).map_err(|e| Error::file(folder, format!("cannot create the folder: {e}")))?;
        let canonical = folder.canonicalize().map_err(|e| Error::file(folder, format!("cannot resolve: {e}")))?;
        let mut held = held();
        if held.contains(&canonical) {
            return Ok(FolderLock { file: None, folder: canonical });
        }
        let path = folder.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::file(folder, format!("cannot write into this folder ({e})")))?;
        match file.try_lock() {
            Ok(()) => {
                let pid = std::process::id().to_string();
                let written =
                    file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(pid.as_bytes()));
                written.map_err(|e| Error::file(&path, format!("cannot write: {e}")))?;
                held.push(canonical.clone());
                Ok(FolderLock { file: Some(file), folder: canonical })
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { "another process".to_string() } else { format!("process {holder}") };
                Err(Error::file(
                    folder,
                    format!("in use: {who} is writing this folder; wait for it to end, or choose another folder"),
                ))
            }
            Err(TryLockError::Error(e)) => Err(Error::file(&path, format!("cannot lock: {e}"))),
        }
    }

    /// [`acquire`](Self::acquire), then [`remove_leftovers`](Self::remove_leftovers):
    /// what a command that writes a run folder does first.
    pub fn acquire_and_clean(folder: &Path) -> Result<FolderLock> {
        let lock = FolderLock::acquire(folder)?;
        lock.remove_leftovers()?;
        Ok(lock)
    }

    /// The locked folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Removes temporary files (`.NAME.PID.tmp`) that a killed writer left
    /// behind: while the lock is held, no other writer can be filling one.
    pub fn remove_leftovers(&self) -> Result<usize> {
        let list =
            std::fs::read_dir(&self.folder).map_err(|e| Error::file(&self.folder, format!("cannot list: {e}")))?;
        let mut removed = 0;
        for entry in list.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") && entry.path().is_file() {
                std::fs::remove_file(entry.path())
                    .map_err(|e| Error::file(entry.path(), format!("cannot remove: {e}")))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_reentrant_in_its_process_and_cleans_leftovers() {
        let dir = std::env::temp_dir().join(format!("cnnlab-lock-{}", std::process::id()));
        let first = FolderLock::acquire(&dir).unwrap();
        let nested = FolderLock::acquire(&dir).unwrap();
        assert!(nested.file.is_none() && first.file.is_some());
        drop(nested);
        assert!(held().contains(&first.folder), "a nested lock's end keeps the folder locked");
        drop(first);
        assert!(!held().contains(&dir.canonicalize().unwrap()));
        let again = FolderLock::acquire(&dir).unwrap();
        std::fs::write(dir.join(".last.safetensors.123.tmp"), b"half").unwrap();
        std::fs::write(dir.join("keep.txt"), b"x").unwrap();
        assert_eq!(again.remove_leftovers().unwrap(), 1);
        assert!(dir.join("keep.txt").exists() && !dir.join(".last.safetensors.123.tmp").exists());
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
