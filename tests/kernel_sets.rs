//! The two x86-64 kernel sets give the same bits: a short training run with the AVX-512 kernels and the same run forced onto the AVX2 kernels (`CNNLAB_KERNELS=avx2`) end with byte-identical checkpoints.

mod common;

use common::scratch;
use std::path::Path;
use std::process::{Command, Stdio};

/// Trains 2 epochs of smallcnn (conv, batch norm, pooling, linear) on 224
/// shapes with the kernel set `kernels` (`None`: the CPU's best).
fn train(out: &Path, kernels: Option<&str>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cnnlab"));
    cmd.args(["train", "--epochs", "2", "--limit", "224", "--val", "64", "--batch", "32", "--seed", "3"]);
    cmd.arg("--out").arg(out);
    if let Some(kernels) = kernels {
        cmd.env("CNNLAB_KERNELS", kernels);
    }
    let result = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn training_with_avx2_kernels_is_bit_identical_to_training_with_avx512_kernels() {
    #[cfg(target_arch = "x86_64")]
    if !is_x86_feature_detected!("avx512f") {
        eprintln!(
            "skipped: this CPU has no AVX-512F (the AVX2 kernels are compared with a scalar loop in src/kernels)"
        );
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    return;
    let dir = scratch("kernel_sets");
    let (wide, narrow) = (dir.join("avx512"), dir.join("avx2"));
    train(&wide, None);
    train(&narrow, Some("avx2"));
    for file in ["last.safetensors", "optimizer.safetensors"] {
        assert!(bytes(&wide.join(file)) == bytes(&narrow.join(file)), "{file} differs between the kernel sets");
    }
}
