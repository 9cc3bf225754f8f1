//! A run folder's JSON: `config.json` (parsed and validated as a resume would) and `metrics.jsonl`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("config.json");
    if let Ok(cfg) = cnnlab::train::parse_config(path, data) {
        let _ = cfg.validate();
    }
    let _ = cnnlab::train::parse_metrics(std::path::Path::new("metrics.jsonl"), data);
});
