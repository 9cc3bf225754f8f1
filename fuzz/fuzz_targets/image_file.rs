//! An image file through cnnlab's decode path, at the model's size and at its own.
#![no_main]
use cnnlab::data::image_file::{decode_image, InputSize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("image.png");
    let _ = decode_image(path, data, [3, 32, 32], InputSize::Model);
    let _ = decode_image(path, data, [1, 32, 32], InputSize::Native);
});
