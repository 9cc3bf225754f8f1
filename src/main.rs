//! The `cnnlab` command-line tool: train, evaluate, explain and benchmark CNNs.

mod cli;

fn main() {
    cnnlab::alloc::tune_allocator();
    match cli::run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
