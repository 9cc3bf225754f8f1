//! An `optimizer.safetensors` checked against a smallcnn before resume uses it.
#![no_main]
use cnnlab::models::{Arch, Model};
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

thread_local! {
    static MODEL: RefCell<Model> = RefCell::new(Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap());
}

fuzz_target!(|data: &[u8]| {
    MODEL.with(|m| {
        let path = std::path::Path::new("optimizer.safetensors");
        let _ = cnnlab::train::optimizer_state_from_bytes(path, data, &mut m.borrow_mut());
    });
});
