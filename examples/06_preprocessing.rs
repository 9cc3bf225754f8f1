//! Chapter "Preprocessing": the three normalisations, fitted on the training split only.
//!
//! Run: cargo run --release --example 06_preprocessing -- [shapes|cifar10|PATH] [--book]
//! Writes preprocessing.png to target/figures (book/src/figures with --book).

use cnnlab::data::preprocess::{Normalization, Preprocessing};
use cnnlab::io::figures_dir;
use cnnlab::viz::{gray_image, labelled_row};
use image::{Rgb, RgbImage};

/// CHW values shown as an RGB picture, each channel stretched to its own min..max.
fn picture(values: &[f32], h: usize, w: usize, scale: u32) -> RgbImage {
    let plane = h * w;
    let range = |c: usize| {
        let p = &values[c * plane..(c + 1) * plane];
        p.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &v| (l.min(v), u.max(v)))
    };
    let ranges = [range(0), range(1), range(2)];
    RgbImage::from_fn(w as u32 * scale, h as u32 * scale, |x, y| {
        let at = (y / scale) as usize * w + (x / scale) as usize;
        Rgb(std::array::from_fn(|c| {
            let (lo, hi) = ranges[c];
            (255.0 * (values[c * plane + at] - lo) / (hi - lo).max(1e-6)) as u8
        }))
    })
}

fn main() -> Result<(), cnnlab::io::Error> {
    let spec = std::env::args().skip(1).find(|a| a != "--book").unwrap_or_else(|| "shapes".into()).parse()?;
    let splits = cnnlab::data::load(&spec, 0)?;
    let [_, h, w] = splits.train.shape;
    println!("{spec}: {} training images of {:?}", splits.train.len(), splits.train.shape);
    let image = splits.test.image(0);
    let raw: Vec<f32> = image.iter().map(|&v| v as f32).collect();
    let mut panels = vec![(picture(&raw, h, w, 4), "test image".to_string())];
    // ANCHOR: fit
    for mode in [Normalization::MeanImage, Normalization::ChannelMean, Normalization::ChannelMeanStd] {
        let pre = Preprocessing::fit(mode, &splits.train); // statistics from the training split only
        let mut normalised = vec![0.0; image.len()];
        pre.apply(image, &mut normalised); // the same transformation at test time
                                           // ANCHOR_END: fit
        let (lo, hi) = normalised.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &v| (l.min(v), u.max(v)));
        println!(
            "{mode:?}: channel means {:.4?}, stds {:.4?}; normalised test image in [{lo:.2}, {hi:.2}]",
            &pre.mean[..3.min(pre.mean.len())],
            pre.std
        );
        if mode == Normalization::MeanImage {
            panels.push((picture(&pre.mean, h, w, 4), "mean image".into()));
            let red: Vec<f32> = pre.mean[..h * w].to_vec();
            panels.push((gray_image(&red, h, w, 4), "mean, red".into()));
        }
        panels.push((picture(&normalised, h, w, 4), format!("{mode:?}").replace("Channel", "ch.")));
    }
    let refs: Vec<_> = panels.iter().map(|(i, c)| (i, c.as_str())).collect();
    let out = figures_dir().join("preprocessing.png");
    cnnlab::io::save_png(&out, &labelled_row(&refs, 10))?;
    println!("wrote {}", out.display());
    Ok(())
}
