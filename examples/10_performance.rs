//! Chapter "Where the time goes": throughput of smallcnn at batch 1, 8, 32, 128 on 1 and 2 threads.
//!
//! Run on a quiet machine: cargo run --release --example 10_performance
//! Writes book/src/figures/throughput.png (batch on a log axis) and prints the table the chapter quotes.

use cnnlab::bench;
use cnnlab::models::Arch;
use cnnlab::viz::plot::LinePlot;
use std::path::Path;

fn main() -> Result<(), cnnlab::io::Error> {
    cnnlab::alloc::tune_allocator(); // as the cnnlab tool does
    let figures = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/figures");
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
