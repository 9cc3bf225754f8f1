//! Command-line parsing and the subcommands.

use clap::{Parser, Subcommand};
use cnnlab::io::Result;
use cnnlab::models::Arch;

/// Train, evaluate, explain and benchmark small CNNs, from scratch.
#[derive(Parser)]
#[command(name = "cnnlab", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Throughput of training and inference on random CIFAR-sized batches.
    Bench {
        /// Architecture.
        #[arg(long, default_value = "smallcnn", value_parser = parse_arch)]
        model: Arch,
        /// Images per batch.
        #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..))]
        batch: u64,
        /// Timed steps.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
        steps: u64,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn parse_arch(s: &str) -> std::result::Result<Arch, String> {
    s.parse().map_err(|e: cnnlab::io::Error| e.message)
}

/// Parses the command line and runs the subcommand.
pub fn run() -> Result<()> {
    match Cli::parse().command {
        Command::Bench {
            model,
            batch,
            steps,
            threads,
            json,
        } => {
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let r = cnnlab::bench::run(model, batch as usize, steps as usize, 2, threads);
            if json {
                println!(
                    "{}",
                    serde_json::to_string(&r).expect("plain numbers serialise")
                );
            } else {
                println!(
                    "{} batch {} threads {}: train {:.1} images/s, inference {:.1} images/s, peak RSS {:.0} MiB",
                    r.model, r.batch, r.threads, r.train_images_per_sec, r.infer_images_per_sec, r.peak_rss_mb
                );
            }
        }
    }
    Ok(())
}
