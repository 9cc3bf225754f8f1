//! Crash-consistent run folders: the files of an epoch's end are staged, committed at one point, then put in place.
//!
//! An epoch's end replaces several files (`last.safetensors`,
//! `optimizer.safetensors`, `best.safetensors`, `metrics.jsonl`). Each is
//! written atomically, but a crash between two of them would leave a folder
//! whose files belong to different epochs. So they go through a small redo
//! log:
//!
//! 1. each new file is written as `NAME.next` (atomically);
//! 2. `commit.json`, naming them, is written (atomically): **the commit point**;
//! 3. each `NAME.next` is renamed over `NAME`;
//! 4. `commit.json` is removed.
//!
//! [`recover`], run by every writer of the folder under its lock, finishes
//! a commit whose record exists (renames what is left, steps 3–4) and
//! deletes staged files without one (a crash before step 2). Either way the
//! folder holds one epoch's files: all old or all new.

use crate::io::{write_atomic, Error, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The commit record's file name.
pub const RECORD: &str = "commit.json";

/// The suffix of a staged file.
const STAGED: &str = ".next";

// ANCHOR: commit
/// Files staged for one commit.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
    names: Vec<String>,
}

impl Staged {
    /// Nothing staged yet in the run folder `dir`.
    pub fn new(dir: &Path) -> Staged {
        Staged { dir: dir.to_path_buf(), names: Vec::new() }
    }

    /// Stages `name`: `write` writes the new file to the path it is given
    /// (`dir/NAME.next`, atomically, as every cnnlab writer does).
    pub fn write(&mut self, name: &str, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        write(&self.dir.join(format!("{name}{STAGED}")))?;
        self.names.push(name.to_string());
        crash_point(&format!("staged {name}"));
        Ok(())
    }

    /// Commits every staged file at once (see the module's steps 2–4).
    pub fn commit(self) -> Result<()> {
        let record = serde_json::to_string(&self.names).expect("strings serialise");
        write_atomic(&self.dir.join(RECORD), |w| w.write_all(record.as_bytes()))?;
        crash_point("wrote the commit record");
        finish(&self.dir, &self.names)
    }
}

/// Steps 3–4: renames what is still staged, then removes the record.
fn finish(dir: &Path, names: &[String]) -> Result<()> {
    for name in names {
        let staged = dir.join(format!("{name}{STAGED}"));
        if staged.exists() {
            std::fs::rename(&staged, dir.join(name))
                .map_err(|e| Error::file(&staged, format!("cannot rename: {e}")))?;
            crash_point(&format!("renamed {name}"));
        }
    }
    let record = dir.join(RECORD);
    std::fs::remove_file(&record).map_err(|e| Error::file(&record, format!("cannot remove: {e}")))?;
    crash_point("removed the commit record");
    Ok(())
}

// ANCHOR_END: commit

/// What [`recover`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Recovery {
    /// Nothing was half done.
    Clean,
    /// A commit was interrupted after its record: it was finished.
    Finished,
    /// Files were staged but never committed: they were deleted.
    Discarded(usize),
}

/// Brings `dir` to one epoch's files after a crash (call it holding the folder's lock).
pub fn recover(dir: &Path) -> Result<Recovery> {
    let record = dir.join(RECORD);
    if record.exists() {
        let text = std::fs::read_to_string(&record).map_err(|e| Error::file(&record, format!("cannot read: {e}")))?;
        let names: Vec<String> =
            serde_json::from_str(&text).map_err(|e| Error::file(&record, format!("malformed: {e}")))?;
        if let Some(bad) = names.iter().find(|n| n.contains('/') || n.contains('\\') || n.starts_with('.')) {
            return Err(Error::file(&record, format!("names '{bad}', which is not a file of this folder")));
        }
        finish(dir, &names)?;
        return Ok(Recovery::Finished);
    }
    let list = std::fs::read_dir(dir).map_err(|e| Error::file(dir, format!("cannot list: {e}")))?;
    let mut discarded = 0;
    for entry in list.flatten() {
        if entry.file_name().to_string_lossy().ends_with(STAGED) && entry.path().is_file() {
            std::fs::remove_file(entry.path()).map_err(|e| Error::file(entry.path(), format!("cannot remove: {e}")))?;
            discarded += 1;
        }
    }
    Ok(if discarded == 0 { Recovery::Clean } else { Recovery::Discarded(discarded) })
}

/// Fault injection for the tests: with `CNNLAB_CRASH_AT=N` in the
/// environment, the N-th crash point this process passes ends it at once
/// (exit status 86, no clean-up), as a power cut between two file
/// operations would. Without the variable, nothing happens.
pub fn crash_point(what: &str) {
    static PASSED: AtomicUsize = AtomicUsize::new(0);
    let Some(at) = std::env::var("CNNLAB_CRASH_AT").ok().and_then(|v| v.parse::<usize>().ok()) else {
        return;
    };
    if PASSED.fetch_add(1, Ordering::SeqCst) + 1 == at {
        eprintln!("CNNLAB_CRASH_AT={at}: crashing after: {what}");
        std::process::exit(86);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cnnlab-commit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["a", "b"] {
            std::fs::write(dir.join(f), "old").unwrap();
        }
        dir
    }

    fn read(dir: &Path, f: &str) -> String {
        std::fs::read_to_string(dir.join(f)).unwrap()
    }

    fn stage_both(dir: &Path) -> Staged {
        let mut staged = Staged::new(dir);
        for f in ["a", "b"] {
            staged.write(f, |p| write_atomic(p, |w| w.write_all(b"new"))).unwrap();
        }
        staged
    }

    #[test]
    fn a_commit_replaces_every_file_and_leaves_nothing_staged() {
        let dir = folder("whole");
        stage_both(&dir).commit().unwrap();
        assert_eq!((read(&dir, "a"), read(&dir, "b")), ("new".into(), "new".into()));
        assert_eq!(recover(&dir).unwrap(), Recovery::Clean);
    }

    #[test]
    fn staged_files_without_a_record_are_discarded() {
        let dir = folder("uncommitted");
        drop(stage_both(&dir)); // the crash: no record was written
        assert_eq!(recover(&dir).unwrap(), Recovery::Discarded(2));
        assert_eq!((read(&dir, "a"), read(&dir, "b")), ("old".into(), "old".into()));
    }

    #[test]
    fn a_record_finishes_the_commit_however_far_it_got() {
        let dir = folder("half");
        drop(stage_both(&dir));
        std::fs::write(dir.join(RECORD), r#"["a","b"]"#).unwrap();
        std::fs::rename(dir.join("a.next"), dir.join("a")).unwrap(); // the crash: after the first rename
        assert_eq!(recover(&dir).unwrap(), Recovery::Finished);
        assert_eq!((read(&dir, "a"), read(&dir, "b")), ("new".into(), "new".into()));
        assert!(!dir.join(RECORD).exists());
        std::fs::write(dir.join(RECORD), r#"["../x"]"#).unwrap();
        assert!(recover(&dir).unwrap_err().to_string().contains("not a file of this folder"));
    }
}
