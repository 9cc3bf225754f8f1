//! Chapter "Where the time goes": throughput of smallcnn at batch 1, 8, 32, 128 on 1 and 2 threads.
//!
//! Run on a quiet machine: cargo run --release --example 10_performance [-- --book]
//! Writes throughput.png (batch on a log axis) to target/figures (book/src/figures
//! with --book) and prints the table the chapter quotes.
//! With `-- layers`: the per-layer convolution table instead (forward, ∂L/∂W, ∂L/∂x of smallcnn's six
//! convolutions at batch 128; run it once more with CNNLAB_KERNELS=portable for the im2col column);
//! `-- layers resnet20`: the same for ResNet-20's six kinds of convolution; `-- layers fastcnn`: for
//! fastcnn's five kinds of 3×3 convolution (the recipe's batch is 1,024; the table keeps 128).

use cnnlab::bench;
use cnnlab::io::figures_dir;
use cnnlab::models::Arch;
use cnnlab::viz::plot::LinePlot;
use cnnlab::{Conv2dConfig, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use std::time::Instant;

fn main() -> Result<(), cnnlab::io::Error> {
    cnnlab::alloc::tune_allocator(); // as the cnnlab tool does
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--book").collect();
    if args.first().map(String::as_str) == Some("layers") {
        layer_table(args.get(1).map(String::as_str).unwrap_or("smallcnn"));
        return Ok(());
    }
    let figures = figures_dir();
    let batches = [1, 8, 32, 128];
    let mut plot = LinePlot::new("smallcnn on CIFAR-sized input", "images per batch", "images per second");
    plot.log_x = true;
    println!("| threads | batch | train images/s | inference images/s |");
    println!("|---|---|---|---|");
    for threads in [1, 2] {
        let (mut train, mut infer) = (Vec::new(), Vec::new());
        for batch in batches {
            // about 2,500 images per measurement, at least 3 steps
            let steps = (2560 / batch).clamp(3, 200);
            let r = bench::run(Arch::SmallCnn, batch, steps, 2, threads, false);
            println!("| {threads} | {batch} | {:.0} | {:.0} |", r.train_images_per_sec, r.infer_images_per_sec);
            train.push((batch as f64, r.train_images_per_sec));
            infer.push((batch as f64, r.infer_images_per_sec));
        }
        plot = plot
            .with(&format!("training, {threads} thread(s)"), train)
            .with(&format!("inference, {threads} thread(s)"), infer);
    }
    cnnlab::io::save_png(&figures.join("throughput.png"), &plot.render(640, 420))?;
    println!("wrote {}", figures.join("throughput.png").display());
    Ok(())
}

/// The best of 25 runs of `f`, in milliseconds.
fn best_ms(mut f: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..25 {
        let started = Instant::now();
        f();
        best = best.min(started.elapsed().as_secs_f64());
    }
    best * 1e3
}

/// Time and GFLOP/s of each of smallcnn's (or ResNet-20's, fastcnn's) convolutions at
/// batch 128: the forward pass (no graph), and each backward product on its own.
fn layer_table(model: &str) {
    // (c_in, c_out, input side, stride), 3×3 kernels with padding 1
    let smallcnn =
        [(3, 32, 32, 1), (32, 32, 32, 1), (32, 64, 16, 1), (64, 64, 16, 1), (64, 128, 8, 1), (128, 128, 8, 1)];
    let resnet = [(3, 16, 32, 1), (16, 16, 32, 1), (16, 32, 32, 2), (32, 32, 16, 1), (32, 64, 16, 2), (64, 64, 8, 1)];
    // fastcnn's 256 → 256 at 7×7 occurs twice (end of group 2, start of group 3)
    let fastcnn = [(24, 64, 31, 1), (64, 64, 15, 1), (64, 256, 15, 1), (256, 256, 7, 1), (256, 256, 3, 1)];
    let layers: &[(usize, usize, usize, usize)] = match model {
        "resnet20" => &resnet,
        "fastcnn" => &fastcnn,
        "smallcnn" => &smallcnn,
        other => {
            eprintln!("10_performance: unknown model '{other}' (smallcnn, resnet20 or fastcnn)");
            std::process::exit(2);
        }
    };
    println!("| layer | forward | ∂L/∂W | ∂L/∂x |");
    println!("|---|---|---|---|");
    for &(c_in, c_out, side, stride) in layers {
        let mut rng = StdRng::seed_from_u64(1);
        let out_side = side / stride;
        let x = Tensor::<f32>::randn(&[128, c_in, side, side], &mut rng);
        let w = Tensor::<f32>::randn(&[c_out, c_in, 3, 3], &mut rng);
        let dy = Tensor::<f32>::randn(&[128, c_out, out_side, out_side], &mut rng);
        let cfg = Conv2dConfig::default().padding(1).stride(stride);
        let forward = cnnlab::no_grad(|| best_ms(|| drop(x.conv2d(&w, None, cfg))));
        let only_dx = x.detach().with_grad().conv2d(&w, None, cfg); // graph whose only leaf is x
        let dx = best_ms(|| drop(only_dx.backward_with(&dy)));
        let only_dw = x.conv2d(&w.detach().with_grad(), None, cfg); // … whose only leaf is W
        let dw = best_ms(|| drop(only_dw.backward_with(&dy)));
        let gflop = 2.0 * 128.0 * (c_out * out_side * out_side * c_in * 9) as f64 / 1e9;
        let cell = |ms: f64| format!("{ms:.1} ms, {:.0} GFLOP/s", gflop / ms * 1e3);
        let strided = if stride > 1 { format!(", stride {stride}") } else { String::new() };
        println!("| {c_in} → {c_out} at {side}×{side}{strided} | {} | {} | {} |", cell(forward), cell(dw), cell(dx));
    }
}
