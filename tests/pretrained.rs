//! The weights shipped under `pretrained/` reproduce the numbers their READMEs
//! state: each folder with an `expected.json` is evaluated on the CIFAR-10
//! copy beside the project (skipped, and said so, when it is not there).

mod common;
use common::scratch;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The command line in a scratch folder, so that reports never land in the checkout.
fn cnnlab(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cnnlab")).args(args).current_dir(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"))
}

fn close(what: &str, got: f64, expected: &serde_json::Value, tolerance: f64) {
    let expected = expected.as_f64().unwrap_or_else(|| panic!("expected.json: no number for {what}"));
    assert!((got - expected).abs() <= tolerance, "{what}: {got} measured, {expected} stated (tolerance {tolerance})");
}

#[test]
fn shipped_weights_reproduce_their_stated_numbers() {
    let data = root().join("../shared/data/cifar10-jpg.tar.gz");
    if !data.exists() {
        eprintln!("skipped: {} is not here, so the shipped weights are not re-measured", data.display());
        return;
    }
    let data = data.canonicalize().unwrap();
    let data = data.to_str().unwrap();
    let dir = scratch("pretrained");
    let mut folders: Vec<PathBuf> =
        std::fs::read_dir(root().join("pretrained")).unwrap().map(|e| e.unwrap().path()).collect();
    folders.sort();
    let mut checked = 0;
    for folder in folders.iter().filter(|f| f.join("expected.json").exists()) {
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("expected.json")).unwrap()).unwrap();
        // x86-64 with AVX2 or AVX-512: the packed kernels give the same bits
        // everywhere, so only the rounding of the stated numbers is allowed;
        // elsewhere the convolutions round differently (expected.json's tolerance)
        let tolerance = match cnnlab::kernels::kernel_set() {
            cnnlab::kernels::KernelSet::Portable => expected["tolerance"].as_f64().unwrap(),
            _ => 0.0005,
        };
        let name = folder.to_str().unwrap();
        match expected["kind"].as_str() {
            Some("classifier") => {
                let tta = expected["tta"].as_str().unwrap_or("none");
                let report = cnnlab(&dir, &["eval", "--run", name, "--data", data, "--tta", tta, "--json"]);
                close(
                    &format!("{name}: accuracy"),
                    report["accuracy"].as_f64().unwrap(),
                    &expected["accuracy"],
                    tolerance,
                );
            }
            Some("decoder") => {
                let classifier = folder.join(expected["classifier"].as_str().unwrap());
                let args = ["perceive", "eval", "--run", classifier.to_str().unwrap(), "--decoder", name];
                let q = cnnlab(&dir, &[&args[..], &["--data", data, "--json"]].concat());
                for key in ["agreement", "ssim"] {
                    close(&format!("{name}: {key}"), q[key].as_f64().unwrap(), &expected[key], tolerance);
                }
                close(&format!("{name}: psnr"), q["psnr"].as_f64().unwrap(), &expected["psnr"], 100.0 * tolerance);
            }
            other => panic!("{name}/expected.json: unknown kind {other:?}"),
        }
        checked += 1;
    }
    assert!(checked > 0, "no shipped weights with an expected.json under pretrained/");
}
