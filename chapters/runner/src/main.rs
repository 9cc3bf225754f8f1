//! `cargo lab`: lists the labs with where you stand in each, runs one lab's checks (and remembers the verdict), shows its hints one at a time.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::{env, fs};

/// `println!` that ends the program quietly when the reader has gone
/// (`cargo lab | head`, `cargo lab | grep -q …`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

const USAGE: &str = "\
usage:
  cargo lab                   the labs, and where you stand in each
  cargo lab NAME              run the checks of lab NAME on your chapters/NAME/lab.rs
  cargo lab NAME -- ARGS      … passing ARGS to the checks (e.g. -- --format terse)
  cargo lab hint NAME [K]     hint K (1 by default) of lab NAME";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None => status().map(|()| ExitCode::SUCCESS),
        Some("-h" | "--help" | "help") => {
            say!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Some("hint") => hint(&args[1..]).map(|()| ExitCode::SUCCESS),
        Some(name) => run_checks(name, &args[1..]),
    };
    result.unwrap_or_else(|message| {
        eprintln!("cargo lab: {message}");
        ExitCode::from(2)
    })
}

/// One lab: its folder name under `chapters/` and the book chapter it belongs to.
struct Lab {
    name: String,
    chapter: String,
}

fn chapters_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("chapters/runner has a parent").to_path_buf()
}

/// The labs in the book's order, read from the `[[test]]` entries of `chapters/Cargo.toml`.
fn labs() -> Result<Vec<Lab>, String> {
    let manifest = chapters_dir().join("Cargo.toml");
    let text = fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let names = text.lines().filter_map(|line| line.strip_prefix("path = \"")?.strip_suffix("/check.rs\""));
    Ok(names
        .map(|name| {
            let readme = fs::read_to_string(chapters_dir().join(name).join("README.md")).unwrap_or_default();
            let chapter = readme
                .lines()
                .find_map(|l| l.strip_prefix("Book chapter: *")?.split('*').next())
                .unwrap_or("")
                .to_string();
            Lab { name: name.to_string(), chapter }
        })
        .collect())
}

fn find_lab(name: &str) -> Result<Lab, String> {
    let all = labs()?;
    let names: Vec<&str> = all.iter().map(|l| l.name.as_str()).collect();
    let known = names.join(", ");
    all.into_iter().find(|l| l.name == name).ok_or_else(|| format!("no lab '{name}' (labs: {known})\n{USAGE}"))
}

/// The verdict of the last `cargo lab NAME` run, and a fingerprint of the `lab.rs` it judged.
#[derive(Debug, PartialEq)]
struct Verdict {
    fingerprint: u64,
    compiled: bool,
    passed: u32,
    failed: u32,
}

impl Verdict {
    fn describe(&self) -> String {
        match (self.compiled, self.failed) {
            (false, _) => "does not compile".into(),
            (true, 0) => format!("passing ({} of {} checks)", self.passed, self.passed),
            (true, f) => format!("failing ({} of {} checks pass)", self.passed, self.passed + f),
        }
    }

    fn to_text(&self) -> String {
        format!("{} {} {} {}\n", self.fingerprint, self.compiled, self.passed, self.failed)
    }

    fn from_text(text: &str) -> Option<Verdict> {
        let mut words = text.split_whitespace();
        Some(Verdict {
            fingerprint: words.next()?.parse().ok()?,
            compiled: words.next()?.parse().ok()?,
            passed: words.next()?.parse().ok()?,
            failed: words.next()?.parse().ok()?,
        })
    }
}

/// FNV-1a of the file's bytes: the same on every machine and Rust version.
fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

fn lab_source(lab: &str) -> PathBuf {
    chapters_dir().join(lab).join("lab.rs")
}

fn verdict_file(lab: &str) -> PathBuf {
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| chapters_dir().parent().expect("the repository holds chapters/").join("target"));
    target.join("lab-status").join(lab)
}

/// Where the student stands in one lab, from its `lab.rs` and the last recorded verdict.
fn lab_status(lab: &str) -> String {
    let Ok(source) = fs::read(lab_source(lab)) else {
        return "lab.rs is missing".into();
    };
    let last = fs::read_to_string(verdict_file(lab)).ok().and_then(|t| Verdict::from_text(&t));
    match last {
        Some(v) if v.fingerprint == fingerprint(&source) => v.describe(),
        Some(v) => format!("edited since its last check (then: {})", v.describe()),
        None if String::from_utf8_lossy(&source).contains("todo!(") => "not started".into(),
        None => "not checked yet".into(),
    }
}

fn status() -> Result<(), String> {
    let labs = labs()?;
    say!("{:<14} {:<36} status", "lab", "book chapter");
    for lab in &labs {
        say!("{:<14} {:<36} {}", lab.name, lab.chapter, lab_status(&lab.name));
    }
    say!("\nrun a lab's checks: cargo lab NAME    a hint: cargo lab hint NAME    more: cargo lab --help");
    Ok(())
}

/// Runs `cargo test --release -p cnnlab-labs --test NAME [ARGS]`, echoing its
/// output, and records the verdict when the whole lab was checked.
fn run_checks(name: &str, extra: &[String]) -> Result<ExitCode, String> {
    let lab = find_lab(name)?;
    let source = fs::read(lab_source(&lab.name)).map_err(|e| format!("{}: {e}", lab_source(&lab.name).display()))?;
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["test", "--release", "-p", "cnnlab-labs", "--test", &lab.name])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start cargo: {e}"))?;
    let mut totals: Option<(u32, u32)> = None;
    let mut echo = true;
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| format!("reading the checks' output: {e}"))?;
        // keep reading (and recording) if the reader has gone; stop echoing
        echo = echo && writeln!(std::io::stdout(), "{line}").is_ok();
        if let Some(counts) = parse_test_result(&line) {
            totals = Some(counts);
        }
    }
    let exit = child.wait().map_err(|e| format!("waiting for cargo: {e}"))?;
    let (passed, failed) = totals.unwrap_or((0, 0));
    let verdict = Verdict { fingerprint: fingerprint(&source), compiled: totals.is_some(), passed, failed };
    if checks_whole_lab(extra) {
        record(&lab.name, &verdict);
        say!("\nlab '{}': {}", lab.name, verdict.describe());
        if !exit.success() {
            say!("stuck? cargo lab hint {}", lab.name);
        }
    }
    Ok(if exit.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The counts of libtest's summary line, `test result: ok. 5 passed; 0 failed; …`.
fn parse_test_result(line: &str) -> Option<(u32, u32)> {
    let rest = line.strip_prefix("test result: ")?;
    let number = |word: &str| {
        rest.split(';').find_map(|part| {
            let mut words = part.split_whitespace().rev();
            (words.next()? == word).then(|| words.next()?.parse().ok()).flatten()
        })
    };
    Some((number("passed")?, number("failed")?))
}

/// Only a run of every check, on the student's own code, says where the lab stands:
/// not one filtered to some checks, nor one with `--features solutions`.
fn checks_whole_lab(extra: &[String]) -> bool {
    let (cargo_args, harness_args) = match extra.iter().position(|a| a == "--") {
        Some(i) => (&extra[..i], &extra[i + 1..]),
        None => (extra, &[][..]),
    };
    let mut harness = harness_args.iter();
    while let Some(arg) = harness.next() {
        let keeps_every_check = match arg.as_str() {
            "--format" | "--test-threads" | "--color" => harness.next().is_some(),
            "--nocapture" | "--quiet" | "-q" | "--show-output" => true,
            a => ["--format=", "--test-threads=", "--color="].iter().any(|p| a.starts_with(p)),
        };
        if !keeps_every_check {
            return false;
        }
    }
    cargo_args.is_empty()
}

fn record(lab: &str, verdict: &Verdict) {
    let file = verdict_file(lab);
    let written = fs::create_dir_all(file.parent().expect("a verdict file has a folder"))
        .and_then(|()| fs::File::create(&file))
        .and_then(|mut f| f.write_all(verdict.to_text().as_bytes()));
    if let Err(e) = written {
        eprintln!("cargo lab: could not record the verdict in {}: {e}", file.display());
    }
}

/// The bullets of a lab README's `## Hints` section.
fn hints_of(readme: &str) -> Vec<String> {
    let section = readme.split("\n## Hints").nth(1).unwrap_or("");
    let section = section.split("\n## ").next().unwrap_or("");
    let mut hints: Vec<String> = Vec::new();
    for line in section.lines().skip(1) {
        if let Some(first) = line.strip_prefix("- ") {
            hints.push(first.to_string());
        } else if let (Some(last), false) = (hints.last_mut(), line.trim().is_empty()) {
            last.push('\n');
            last.push_str(line.trim_start());
        }
    }
    hints
}

fn hint(args: &[String]) -> Result<(), String> {
    let name = args.first().ok_or_else(|| format!("which lab?\n{USAGE}"))?;
    let lab = find_lab(name)?;
    let readme_path = chapters_dir().join(&lab.name).join("README.md");
    let readme = fs::read_to_string(&readme_path).map_err(|e| format!("{}: {e}", readme_path.display()))?;
    let hints = hints_of(&readme);
    let k: usize = match args.get(1) {
        None => 1,
        Some(k) => k
            .parse()
            .ok()
            .filter(|k| (1..=hints.len()).contains(k))
            .ok_or_else(|| format!("lab '{}' has hints 1 to {}, not '{k}'", lab.name, hints.len()))?,
    };
    say!("hint {k} of {} for lab '{}' (chapter: {}):\n\n{}\n", hints.len(), lab.name, lab.chapter, hints[k - 1]);
    if k < hints.len() {
        say!("next: cargo lab hint {} {}", lab.name, k + 1);
    } else {
        say!("that was the last hint; the task and the math are in chapters/{}/README.md", lab.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libtest_summaries() {
        let ok = "test result: ok. 7 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.02s";
        assert_eq!(parse_test_result(ok), Some((7, 0)));
        let failed = "test result: FAILED. 2 passed; 5 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.3s";
        assert_eq!(parse_test_result(failed), Some((2, 5)));
        assert_eq!(parse_test_result("test checks_sum ... ok"), None);
    }

    #[test]
    fn verdicts_round_trip_and_describe_themselves() {
        let v = Verdict { fingerprint: fingerprint(b"fn main() {}"), compiled: true, passed: 3, failed: 2 };
        assert_eq!(Verdict::from_text(&v.to_text()), Some(v));
        assert_eq!(
            Verdict { fingerprint: 1, compiled: true, passed: 4, failed: 0 }.describe(),
            "passing (4 of 4 checks)"
        );
        assert_eq!(Verdict { fingerprint: 1, compiled: false, passed: 0, failed: 0 }.describe(), "does not compile");
        assert_ne!(fingerprint(b"a"), fingerprint(b"b"));
    }

    #[test]
    fn only_whole_runs_on_the_students_code_are_recorded() {
        let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert!(checks_whole_lab(&args("")));
        assert!(checks_whole_lab(&args("-- --format terse --nocapture")));
        assert!(!checks_whole_lab(&args("-- score_from_map")));
        assert!(!checks_whole_lab(&args("--features solutions")));
    }

    #[test]
    fn unknown_labs_and_hints_are_clear_errors() {
        let unknown = find_lab("nosuch").err().expect("no such lab");
        assert!(unknown.contains("no lab 'nosuch'") && unknown.contains("cam"), "{unknown}");
        let beyond = hint(&["cam".into(), "9".into()]).unwrap_err();
        assert!(beyond.contains("hints 1 to"), "{beyond}");
        assert!(hint(&[]).unwrap_err().contains("which lab?"));
    }

    #[test]
    fn every_lab_has_a_chapter_and_hints() {
        let labs = labs().unwrap();
        assert!(labs.len() >= 19, "{} labs", labs.len());
        for lab in labs {
            assert!(!lab.chapter.is_empty(), "lab {} names no chapter", lab.name);
            let readme = fs::read_to_string(chapters_dir().join(&lab.name).join("README.md")).unwrap();
            let hints = hints_of(&readme);
            assert!(hints.len() >= 2, "lab {} has {} hints", lab.name, hints.len());
            assert!(hints.iter().all(|h| !h.contains("\n## ")), "lab {}: a hint runs into the next section", lab.name);
        }
    }
}
