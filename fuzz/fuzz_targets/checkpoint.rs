//! A checkpoint file: the safetensors container, its metadata, the model it describes, its tensors.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cnnlab::checkpoint::load_from_bytes(std::path::Path::new("fuzz.safetensors"), data);
});
