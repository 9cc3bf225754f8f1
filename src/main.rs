//! The `cnnlab` command-line tool.
fn main() {}
