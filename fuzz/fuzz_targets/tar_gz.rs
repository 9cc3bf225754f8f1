//! A `.tar.gz` archive, every member read.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("data.tar.gz");
    let _ = cnnlab::data::archive::for_each_member_in(path, data, |_, read| {
        let _ = read()?;
        Ok(true)
    });
});
