//! Throughput benchmark of a model: training steps and inference batches per second on random data.

use crate::models::{Arch, Model};
use crate::nn::{fuse_for_inference, fuse_for_training, Module};
use crate::optim::{Optimizer, Sgd};
use crate::profile::{self, Phase};
use crate::{no_grad, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

/// What one benchmark run measured.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BenchResult {
    /// Architecture benchmarked.
    pub model: String,
    /// Images per batch.
    pub batch: usize,
    /// Worker threads.
    pub threads: usize,
    /// The kernel set that ran (`avx512`, `avx2` or `portable`; see `CNNLAB_KERNELS`).
    pub kernels: String,
    /// Timed training steps (and inference batches).
    pub steps: usize,
    /// Training throughput: forward, backward and SGD-Nesterov update with weight decay.
    pub train_images_per_sec: f64,
    /// Inference throughput in evaluation mode without a graph.
    pub infer_images_per_sec: f64,
    /// Peak resident memory of the process, in MiB (Linux; 0 elsewhere).
    pub peak_rss_mb: f64,
    /// Per-op time of a training step, when asked for (`cnnlab bench --profile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Vec<ProfileRow>>,
    /// Per-op time of an inference batch (phase `inference`), with `--profile`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infer_profile: Option<Vec<ProfileRow>>,
}

/// One op's share of a training step.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ProfileRow {
    /// Op name (`conv2d`, `batch_norm`, …; `sgd update` for the optimizer).
    pub op: String,
    /// `forward`, `backward`, `update` or `inference`.
    pub phase: String,
    /// Milliseconds per training step.
    pub ms_per_step: f64,
}

/// Peak resident set size of this process in MiB, from `/proc/self/status` (`VmHWM`).
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:"));
    let kb = line.and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

// ANCHOR: bench
/// About how many bytes a training step needs per 32×32 image: each model's
/// measured peak (activations kept for the backward pass, their gradients,
/// im2col buffers) divided by the batch, rounded up about twofold.
pub fn bytes_per_image(arch: Arch) -> usize {
    const MB: usize = 1 << 20;
    match arch {
        Arch::SmallCnn | Arch::SmallCnnGmp | Arch::VggFc => 2 * MB,
        Arch::ResNet20 => 4 * MB,
        Arch::FastCnn => 8 * MB,
    }
}

/// Memory the system can still give (`MemAvailable` of /proc/meminfo), where known.
pub fn available_memory() -> Option<usize> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Refuses a batch whose training step would not fit in memory (instead of
/// an abort when the allocation fails).
pub fn check_batch(arch: Arch, batch: usize) -> crate::io::Result<()> {
    let (Some(available), need) = (available_memory(), batch.saturating_mul(bytes_per_image(arch))) else {
        return Ok(());
    };
    if need > available {
        let gib = |b: usize| b as f64 / (1u64 << 30) as f64;
        return Err(crate::io::Error::msg(format!(
            "--batch {batch}: a training step of {arch} needs about {:.1} GiB ({} MiB per image), and {:.1} GiB \
             of memory is available; use --batch {} or fewer",
            gib(need),
            bytes_per_image(arch) >> 20,
            gib(available),
            available / bytes_per_image(arch)
        )));
    }
    Ok(())
}

/// Times `steps` training steps and `steps` inference batches of random
/// CIFAR-sized data (3×32×32, 10 classes) after `warmup` untimed ones.
/// With `profile`, the timed training steps also record every op's time.
pub fn run(arch: Arch, batch: usize, steps: usize, warmup: usize, threads: usize, profile: bool) -> BenchResult {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    pool.install(|| {
        let mut rng = StdRng::seed_from_u64(0);
        let mut model = Model::new(arch, 10, [3, 32, 32], 0).expect("a CIFAR-sized model");
        let x = Tensor::randn(&[batch, 3, 32, 32], &mut rng);
        let labels: Vec<usize> = (0..batch).map(|_| rng.random_range(0..10)).collect();
        let mut opt = Sgd::new(0.05).momentum(0.9, true).weight_decay(5e-4);
        let mut train_step = || {
            profile::mark();
            let loss = fuse_for_training(&mut model).forward(&x).cross_entropy(&labels, 0.0);
            let grads = loss.backward();
            drop(loss);
            let update = Instant::now();
            opt.step(&mut model, &grads);
            if profile::enabled() {
                profile::add("sgd update", Phase::Update, update.elapsed());
            }
        };
        (0..warmup).for_each(|_| train_step());
        profile::enable(profile);
        let start = Instant::now();
        (0..steps).for_each(|_| train_step());
        let train_time = start.elapsed();
        let rows = profile.then(|| profile_rows(steps));
        profile::enable(false);
        let train = (steps * batch) as f64 / train_time.as_secs_f64();

        model.set_training(false);
        let mut model = fuse_for_inference(&mut model);
        no_grad(|| {
            (0..warmup).for_each(|_| drop(model.forward(&x)));
            profile::enable(profile);
            let start = Instant::now();
            (0..steps).for_each(|_| {
                profile::mark();
                drop(model.forward(&x))
            });
            let infer = (steps * batch) as f64 / start.elapsed().as_secs_f64();
            let infer_rows = profile.then(|| profile_rows(steps));
            profile::enable(false);
            BenchResult {
                model: arch.name().into(),
                batch,
                threads,
                kernels: crate::kernels::kernel_set().name().into(),
                steps,
                train_images_per_sec: train,
                infer_images_per_sec: infer,
                peak_rss_mb: peak_rss_mb(),
                profile: rows,
                infer_profile: infer_rows,
            }
        })
    })
}
// ANCHOR_END: bench

/// The profile of `steps` training steps (or inference batches), per step, slowest op first.
fn profile_rows(steps: usize) -> Vec<ProfileRow> {
    let rows = profile::entries().into_iter().map(|e| ProfileRow {
        op: e.op.to_string(),
        phase: format!("{:?}", e.phase).to_lowercase(),
        ms_per_step: e.time.as_secs_f64() * 1e3 / steps as f64,
    });
    rows.collect()
}
