//! Crash consistency of a run folder: a crash at every point of the epoch-end sequence, and kill -9 at random moments, each followed by --resume, end bit-identical to an uninterrupted run.

mod common;

use common::{checkpoint_weights, cli, scratch};
use std::path::Path;
use std::process::{Command, Stdio};

/// A short run: 2 epochs of 7 steps.
const RUN: [&str; 11] = ["train", "--epochs", "2", "--limit", "224", "--val", "64", "--batch", "32", "--seed", "5"];

fn train(out: &Path, crash_at: Option<usize>, resume: bool) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cnnlab"));
    if resume {
        cmd.args(["train", "--resume"]); // the run's own settings
    } else {
        cmd.args(RUN);
    }
    cmd.arg("--out").arg(out);
    if let Some(at) = crash_at {
        cmd.env("CNNLAB_CRASH_AT", at.to_string());
    }
    let result = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    (result.status.code().unwrap_or(-1), String::from_utf8_lossy(&result.stderr).into_owned())
}

/// The numbers of metrics.jsonl, without the timings.
fn metrics(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{} {} {} {} {} {}",
                v["epoch"], v["train_loss"], v["train_accuracy"], v["val_loss"], v["val_accuracy"], v["lr"]
            )
        })
        .collect()
}

fn assert_same_run(run: &Path, reference: &Path, what: &str) {
    for file in ["last.safetensors", "best.safetensors", "optimizer.safetensors"] {
        let same = if file == "optimizer.safetensors" {
            std::fs::read(run.join(file)).unwrap() == std::fs::read(reference.join(file)).unwrap()
        } else {
            checkpoint_weights(&run.join(file)) == checkpoint_weights(&reference.join(file))
        };
        assert!(same, "{what}: {file} differs from the uninterrupted run's");
    }
    assert_eq!(metrics(run), metrics(reference), "{what}: metrics.jsonl");
    let left: Vec<String> = std::fs::read_dir(run)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".next") || n.ends_with(".tmp") || n == "commit.json")
        .collect();
    assert!(left.is_empty(), "{what}: left behind {left:?}");
}

#[test]
fn a_crash_after_any_write_or_rename_of_an_epoch_end_resumes_exactly() {
    let dir = scratch("crash-points");
    let reference = dir.join("straight");
    assert_eq!(train(&reference, None, false).0, 0);
    // crash point N: the N-th write, rename or removal of the two epoch ends
    let mut points = 0;
    for at in 1..=40 {
        let run = dir.join(format!("crash-{at}"));
        let (code, err) = train(&run, Some(at), false);
        if code == 0 {
            break; // fewer crash points than `at`: all were tried
        }
        assert_eq!(code, 86, "crash point {at}: {err}");
        points = at;
        let (code, err) = train(&run, None, true);
        assert_eq!(code, 0, "resume after crash point {at}: {err}");
        assert_same_run(&run, &reference, &format!("crash point {at} ({})", err.lines().next().unwrap_or("")));
    }
    // per epoch: 4 staged files, the record, 4 renames, its removal
    assert_eq!(points, 20, "the two epoch ends pass 20 crash points");
}

#[test]
fn kill_9_at_random_moments_then_resume_ends_bit_identical() {
    let dir = scratch("kill-9");
    let reference = dir.join("straight");
    assert_eq!(train(&reference, None, false).0, 0);
    let mut rng_state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    for trial in 0..4 {
        let run = dir.join(format!("killed-{trial}"));
        let mut kills = 0;
        loop {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_cnnlab"));
            if run.join("config.json").exists() {
                cmd.args(["train", "--resume"]);
            } else {
                cmd.args(RUN);
            }
            cmd.arg("--out").arg(&run);
            let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            // random, and longer after each kill so that a slow machine still gets to the end
            let delay = std::time::Duration::from_millis(300 + next() % 2500 + 400 * kills);
            std::thread::sleep(delay);
            match child.try_wait().unwrap() {
                Some(status) => {
                    assert!(status.success(), "trial {trial}: a run ended with {status}");
                    break;
                }
                None => {
                    child.kill().unwrap(); // SIGKILL
                    if child.wait().unwrap().success() {
                        break; // it finished just before the kill
                    }
                    kills += 1;
                }
            }
            assert!(kills < 30, "trial {trial}: never finished");
        }
        assert_same_run(&run, &reference, &format!("trial {trial} ({kills} kills)"));
    }
    let (code, _, err) = cli(&["eval", "--run", reference.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}
