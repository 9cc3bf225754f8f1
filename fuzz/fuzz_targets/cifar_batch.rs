//! A CIFAR-10 binary batch (`data_batch_N.bin`, `test_batch.bin`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cnnlab::data::cifar::parse_batch(std::path::Path::new("data_batch_1.bin"), data);
});
