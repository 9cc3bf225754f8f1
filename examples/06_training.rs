//! Chapter "Training a CNN": loads a dataset and prints what a run would see.
//!
//! Run: cargo run --release --example 06_training -- [shapes|cifar10|PATH]

use cnnlab::data::preprocess::{Normalization, Preprocessing};
use std::time::Instant;

fn main() -> Result<(), cnnlab::io::Error> {
    let spec = std::env::args().nth(1).unwrap_or_else(|| "shapes".into()).parse()?;
    let start = Instant::now();
    let splits = cnnlab::data::load(&spec, 0)?;
    println!(
        "{spec}: {} train / {} test images of {:?} in {:.1} s",
        splits.train.len(),
        splits.test.len(),
        splits.train.shape,
        start.elapsed().as_secs_f64()
    );
    println!("classes: {:?}", splits.train.classes);
    println!("train images per class: {:?}", splits.train.class_counts());
    // ANCHOR: fit
    for mode in [Normalization::MeanImage, Normalization::ChannelMean, Normalization::ChannelMeanStd] {
        let pre = Preprocessing::fit(mode, &splits.train); // training split only
        println!("{mode:?}: mean[..3] = {:.4?}, std = {:.4?}", &pre.mean[..3], pre.std);
    }
    // ANCHOR_END: fit
    Ok(())
}
