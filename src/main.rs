//! The `cnnlab` command-line tool: train, evaluate, explain and benchmark CNNs.

mod cli;

fn main() {
    if let Err(e) = cli::run() {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
