//! Throughput benchmark of a model: training steps and inference batches per second on random data.

use crate::models::{Arch, Model};
use crate::nn::Module;
use crate::optim::{Optimizer, Sgd};
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
    /// Timed training steps (and inference batches).
    pub steps: usize,
    /// Training throughput: forward, backward and SGD-Nesterov update with weight decay.
    pub train_images_per_sec: f64,
    /// Inference throughput in evaluation mode without a graph.
    pub infer_images_per_sec: f64,
    /// Peak resident memory of the process, in MiB (Linux; 0 elsewhere).
    pub peak_rss_mb: f64,
}

/// Peak resident set size of this process in MiB, from `/proc/self/status` (`VmHWM`).
pub fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:"));
    let kb = line.and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<f64>().ok());
    kb.unwrap_or(0.0) / 1024.0
}

// ANCHOR: bench
/// Times `steps` training steps and `steps` inference batches of random
/// CIFAR-sized data (3×32×32, 10 classes) after `warmup` untimed ones.
pub fn run(arch: Arch, batch: usize, steps: usize, warmup: usize, threads: usize) -> BenchResult {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("thread pool");
    pool.install(|| {
        let mut rng = StdRng::seed_from_u64(0);
        let mut model = Model::new(arch, 10, [3, 32, 32], 0).expect("a CIFAR-sized model");
        let x = Tensor::randn(&[batch, 3, 32, 32], &mut rng);
        let labels: Vec<usize> = (0..batch).map(|_| rng.random_range(0..10)).collect();
        let mut opt = Sgd::new(0.05).momentum(0.9, true).weight_decay(5e-4);
        let mut train_step = || {
            let loss = model.forward(&x).cross_entropy(&labels, 0.0);
            let grads = loss.backward();
            drop(loss);
            opt.step(&mut model, &grads);
        };
        (0..warmup).for_each(|_| train_step());
        let start = Instant::now();
        (0..steps).for_each(|_| train_step());
        let train = (steps * batch) as f64 / start.elapsed().as_secs_f64();

        model.set_training(false);
        no_grad(|| {
            (0..warmup).for_each(|_| drop(model.forward(&x)));
            let start = Instant::now();
            (0..steps).for_each(|_| drop(model.forward(&x)));
            let infer = (steps * batch) as f64 / start.elapsed().as_secs_f64();
            BenchResult {
                model: arch.name().into(),
                batch,
                threads,
                steps,
                train_images_per_sec: train,
                infer_images_per_sec: infer,
                peak_rss_mb: peak_rss_mb(),
            }
        })
    })
}
// ANCHOR_END: bench
