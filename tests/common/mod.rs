//! Helpers shared by the gradient-check tests: kink-free values and the check itself.
#![allow(dead_code)]

use cnnlab::gradcheck::{gradcheck, GradcheckConfig};
use cnnlab::Tensor;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// `n` distinct values in about [−scale, scale], drawn from `seed`, that keep
/// away from kinks: any two differ by at least spacing/2, and every value is at
/// least spacing/4 from each integer multiple of `spacing = 2·scale/n`, zero
/// included (ReLU, |x|, max ties and smooth-L1's ±β = multiples are safe).
pub fn kink_free(n: usize, seed: u64, scale: f64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ranks: Vec<i64> = (0..n as i64).map(|r| r - n as i64 / 2).collect();
    ranks.shuffle(&mut rng);
    let spacing = spacing(n, scale);
    ranks.iter().map(|&k| (k as f64 + 0.25 + 0.5 * rng.random::<f64>()) * spacing).collect()
}

/// The grid spacing [`kink_free`] uses.
pub fn spacing(n: usize, scale: f64) -> f64 {
    2.0 * scale / n.max(1) as f64
}

/// A tensor of kink-free values.
pub fn tensor(shape: &[usize], seed: u64, scale: f64) -> Tensor<f64> {
    let n = shape.iter().product();
    Tensor::from_vec(kink_free(n, seed, scale), shape)
}

/// A tensor of strictly positive values in about [0.5, 0.5 + scale].
pub fn positive(shape: &[usize], seed: u64, scale: f64) -> Tensor<f64> {
    let t = tensor(shape, seed, scale);
    Tensor::from_vec(t.data().iter().map(|v| v.abs() + 0.5).collect(), shape)
}

/// Runs the gradient check and turns a failure into a readable panic.
pub fn check(f: impl Fn(&[Tensor<f64>]) -> Tensor<f64>, inputs: &[Tensor<f64>], seed: u64) {
    let cfg = GradcheckConfig { seed, ..GradcheckConfig::default() };
    if let Err(failure) = gradcheck(f, inputs, &cfg) {
        let shapes: Vec<_> = inputs.iter().map(|x| x.shape().to_vec()).collect();
        panic!("gradient check failed for inputs of shapes {shapes:?}: {failure}");
    }
}

/// A shape strategy: `rank` axes of sizes in 1..=max.
pub fn shape(rank: usize, max: usize) -> impl proptest::strategy::Strategy<Value = Vec<usize>> {
    proptest::collection::vec(1..=max, rank)
}

/// A fresh, empty folder for one test, unique to this process.
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cnnlab-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the `cnnlab` binary: (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cnnlab")).args(args).output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// A one-epoch run of `model` on 300 shapes images, in `dir/model`; returns its path.
pub fn tiny_run(dir: &std::path::Path, model: &str) -> String {
    let run = dir.join(model);
    let run = run.to_str().unwrap().to_string();
    let args =
        ["train", "--model", model, "--epochs", "1", "--limit", "300", "--val", "100", "--batch", "32", "--out", &run];
    let (code, _, stderr) = cli(&args);
    assert_eq!(code, 0, "training failed: {stderr}");
    run
}

/// Every tensor of a checkpoint file by name, sorted: for comparing runs bit for bit.
pub fn checkpoint_weights(path: &std::path::Path) -> Vec<(String, Vec<f32>)> {
    let (t, _) = cnnlab::checkpoint::read_tensors(path).unwrap();
    let mut v: Vec<_> = t.into_iter().map(|(k, (_, d))| (k, d)).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Checkpoint metadata for `arch` on `input` images of `classes` classes
/// (`class0`, `class1`, …), normalised with mean 0.5 and std 0.25, after 3 epochs.
pub fn checkpoint_meta(
    arch: cnnlab::models::Arch,
    input: [usize; 3],
    classes: usize,
) -> cnnlab::checkpoint::CheckpointMeta {
    use cnnlab::data::preprocess::{Normalization, Preprocessing};
    cnnlab::checkpoint::CheckpointMeta {
        arch,
        input,
        classes: (0..classes).map(|c| format!("class{c}")).collect(),
        preprocessing: Preprocessing {
            mode: Normalization::ChannelMeanStd,
            shape: input,
            mean: vec![0.5; input[0]],
            std: vec![0.25; input[0]],
        },
        epoch: 3,
        step: 0,
        so_far: Default::default(),
        task: Default::default(),
    }
}
