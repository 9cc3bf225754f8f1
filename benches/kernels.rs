//! Criterion micro-benchmarks of the hot kernels at the reference network's shapes (batch 128).
//!
//! Run: cargo bench (or `cargo bench -- conv2d` for one group). Each shape is
//! one of smallcnn's layers on CIFAR-sized input, so a change to a kernel
//! shows its effect where it matters.

use cnnlab::{Conv2dConfig, Pool2dConfig, Tensor};
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use rand::rngs::StdRng;
use rand::SeedableRng;

const BATCH: usize = 128;

/// (name, c_in, c_out, side) of smallcnn's conv layers.
const CONVS: [(&str, usize, usize, usize); 4] = [
    ("conv0 3→32 @32", 3, 32, 32),
    ("conv3 32→32 @32", 32, 32, 32),
    ("conv10 64→64 @16", 64, 64, 16),
    ("conv17 128→128 @8", 128, 128, 8),
];

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn(shape, &mut StdRng::seed_from_u64(seed))
}

fn conv2d(c: &mut Criterion) {
    let mut group = c.benchmark_group("conv2d");
    group.sample_size(10);
    for (name, c_in, c_out, side) in CONVS {
        let flops = 2 * BATCH * c_out * side * side * c_in * 9;
        group.throughput(Throughput::Elements(flops as u64));
        let x = randn(&[BATCH, c_in, side, side], 1);
        let w = randn(&[c_out, c_in, 3, 3], 2);
        let cfg = Conv2dConfig::default().padding(1);
        group.bench_function(BenchmarkId::new("forward", name), |b| b.iter(|| x.conv2d(&w, None, cfg)));
        // backward: ∂L/∂x and ∂L/∂W (input needs a gradient unless it is the image)
        let (xg, wg) = (x.detach().with_grad(), w.detach().with_grad());
        let dy = randn(&[BATCH, c_out, side, side], 3);
        group.bench_function(BenchmarkId::new("backward dx+dW", name), |b| {
            b.iter(|| xg.conv2d(&wg, None, cfg).backward_with(&dy))
        });
        group.bench_function(BenchmarkId::new("backward dW only", name), |b| {
            b.iter(|| x.conv2d(&wg, None, cfg).backward_with(&dy))
        });
    }
    group.finish();
}

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    // the Linear head (128 → 10) and a square 512 product
    for (m, k, n) in [(BATCH, 128, 10), (512, 512, 512)] {
        group.throughput(Throughput::Elements((2 * m * k * n) as u64));
        let (a, b) = (randn(&[m, k], 4), randn(&[k, n], 5));
        group.bench_function(format!("{m}x{k} · {k}x{n}"), |bench| bench.iter(|| a.matmul(&b)));
    }
    group.finish();
}

fn batch_norm(c: &mut Criterion) {
    let mut group = c.benchmark_group("batch_norm");
    group.sample_size(20);
    for (channels, side) in [(32, 32), (64, 16), (128, 8)] {
        let x = randn(&[BATCH, channels, side, side], 6).with_grad();
        let (gamma, beta) = (Tensor::ones(&[channels]).with_grad(), Tensor::zeros(&[channels]).with_grad());
        let name = format!("{channels}x{side}x{side}");
        group.bench_function(BenchmarkId::new("train forward", &name), |b| {
            b.iter(|| x.batch_norm_train(&gamma, &beta, 1e-5))
        });
        let dy = randn(&[BATCH, channels, side, side], 7);
        group.bench_function(BenchmarkId::new("train forward+backward", &name), |b| {
            b.iter(|| x.batch_norm_train(&gamma, &beta, 1e-5).0.backward_with(&dy))
        });
    }
    group.finish();
}

fn max_pool(c: &mut Criterion) {
    let mut group = c.benchmark_group("max_pool");
    group.sample_size(20);
    for (channels, side) in [(32, 32), (64, 16)] {
        let x = randn(&[BATCH, channels, side, side], 8).with_grad();
        let name = format!("{channels}x{side}x{side}");
        group.bench_function(BenchmarkId::new("forward", &name), |b| b.iter(|| x.max_pool2d(Pool2dConfig::new(2))));
        let dy = randn(&[BATCH, channels, side / 2, side / 2], 9);
        group.bench_function(BenchmarkId::new("forward+backward", &name), |b| {
            b.iter(|| x.max_pool2d(Pool2dConfig::new(2)).backward_with(&dy))
        });
    }
    group.finish();
}

criterion_group!(kernels, conv2d, matmul, batch_norm, max_pool);

/// criterion's main, after tuning the allocator as the `cnnlab` tool does
/// (otherwise every iteration would time fresh pages from the kernel).
fn main() {
    cnnlab::alloc::tune_allocator();
    kernels();
    Criterion::default().configure_from_args().final_summary();
}
