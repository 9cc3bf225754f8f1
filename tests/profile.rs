//! The per-op profiler: every op of a forward and backward pass is counted once per call, in the right phase.

use cnnlab::profile::{self, Phase};
use cnnlab::{Conv2dConfig, Tensor};

fn calls(entries: &[profile::Entry], op: &str, phase: Phase) -> usize {
    entries.iter().filter(|e| e.op == op && e.phase == phase).map(|e| e.calls).sum()
}

#[test]
fn profile_counts_each_op_in_its_phase_and_nothing_when_off() {
    let x = Tensor::<f32>::ones(&[2, 3, 8, 8]).with_grad();
    let w = Tensor::<f32>::ones(&[4, 3, 3, 3]).with_grad();
    let step = || {
        profile::mark();
        let y = x.conv2d(&w, None, Conv2dConfig::default().padding(1)).relu();
        let loss = y.add(&y).sum(); // y is used twice: its gradients meet in a sum
        loss.backward();
    };
    step(); // not profiled
    profile::enable(true);
    step();
    step();
    let entries = profile::entries();
    profile::enable(false);
    step();
    for op in ["conv2d", "relu", "add", "sum"] {
        assert_eq!(calls(&entries, op, Phase::Forward), 2, "{op} forward in {entries:?}");
        assert_eq!(calls(&entries, op, Phase::Backward), 2, "{op} backward in {entries:?}");
    }
    // the ops that backward functions call internally are not forward passes
    let forward_calls: usize = entries.iter().filter(|e| e.phase == Phase::Forward).map(|e| e.calls).sum();
    assert_eq!(forward_calls, 8, "{entries:?}");
    assert_eq!(calls(&entries, "add (gradient sum)", Phase::Backward), 2);
    assert!(entries.windows(2).all(|w| w[0].time >= w[1].time), "slowest first");
    assert!(profile::entries().is_empty(), "switched off, nothing is kept");
}

#[test]
fn bench_profile_json_accounts_for_the_step() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cnnlab"))
        .args(["bench", "--batch", "4", "--steps", "2", "--threads", "1", "--json", "--profile"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = r["profile"].as_array().expect("profile rows");
    let ms = |op: &str, phase: &str| {
        rows.iter()
            .filter(|row| row["op"] == op && row["phase"] == phase)
            .map(|row| row["ms_per_step"].as_f64().unwrap())
            .sum::<f64>()
    };
    assert!(ms("conv2d", "forward") > 0.0 && ms("conv2d", "backward") > 0.0 && ms("sgd update", "update") > 0.0);
    let step_ms = 1000.0 * 4.0 / r["train_images_per_sec"].as_f64().unwrap();
    let total: f64 = rows.iter().map(|row| row["ms_per_step"].as_f64().unwrap()).sum();
    assert!(total <= step_ms * 1.01 && total >= step_ms * 0.5, "ops {total} ms of a {step_ms} ms step");
    assert!(rows.iter().all(|row| row["phase"] != "inference"), "a training step has no inference ops");

    // inference batches are profiled on their own: only inference rows, adding up to the batch
    let infer = r["infer_profile"].as_array().expect("inference profile rows");
    assert!(infer.iter().all(|row| row["phase"] == "inference"), "{infer:?}");
    assert!(infer.iter().any(|row| row["op"].as_str().unwrap().starts_with("conv2d")), "{infer:?}");
    let batch_ms = 1000.0 * 4.0 / r["infer_images_per_sec"].as_f64().unwrap();
    let total: f64 = infer.iter().map(|row| row["ms_per_step"].as_f64().unwrap()).sum();
    assert!(total <= batch_ms * 1.01 && total >= batch_ms * 0.5, "ops {total} ms of a {batch_ms} ms batch");
}
