//! Chapter "Training a CNN": learning-rate schedules and augmentation, drawn.
//!
//! Run: cargo run --release --example 07_training [-- --book]
//! Writes lr_schedules.png and augmentation.png to target/figures (book/src/figures with --book).

use cnnlab::data::augment::Augment;
use cnnlab::data::preprocess::{Normalization, Preprocessing};
use cnnlab::data::shapes::{generate, ShapesConfig};
use cnnlab::io::figures_dir;
use cnnlab::optim::LrSchedule;
use cnnlab::viz::labelled_row;
use cnnlab::viz::plot::LinePlot;
use image::{Rgb, RgbImage};

fn main() -> Result<(), cnnlab::io::Error> {
    let figures = figures_dir();
    // ANCHOR: schedules
    let (base, total) = (0.1, 1000);
    let schedules = [
        ("step", LrSchedule::Step { every: 333, gamma: 0.1 }),
        ("cosine", LrSchedule::Cosine { min_factor: 0.0 }),
        ("warm-up + cosine", LrSchedule::WarmupCosine { warmup: 100, min_factor: 0.0 }),
        ("one-cycle", LrSchedule::OneCycle { pct_start: 0.25 }),
    ];
    // ANCHOR_END: schedules
    let mut plot = LinePlot::new("Learning-rate schedules", "step", "learning rate");
    for (name, s) in schedules {
        plot = plot.with(name, (0..=total).step_by(5).map(|t| (t as f64, s.lr_at(base, t, total))).collect());
    }
    cnnlab::io::save_png(&figures.join("lr_schedules.png"), &plot.render(640, 400))?;

    // one image, seven random augmentations (crop with padding 4, flip, translation 2, cutout 12)
    let data = generate(&ShapesConfig::default(), 16, 0);
    let pre = Preprocessing::fit(Normalization::ChannelMean, &data);
    let recipe = Augment { crop_padding: 4, flip: true, translate: 2, cutout: 12, ..Augment::none() };
    let mut panels = Vec::new();
    for epoch in 0..8 {
        let mut values = vec![0.0; data.image_len()];
        pre.apply(data.image(3), &mut values);
        if epoch > 0 {
            recipe.apply(&mut values, (3, 32, 32), 0, epoch, 3);
        }
        let bytes = pre.invert(&values);
        let img = RgbImage::from_fn(128, 128, |x, y| {
            let at = (y / 4 * 32 + x / 4) as usize;
            Rgb([bytes[at], bytes[1024 + at], bytes[2048 + at]])
        });
        panels.push((img, if epoch == 0 { "original".to_string() } else { format!("epoch {epoch}") }));
    }
    let refs: Vec<_> = panels.iter().map(|(i, c)| (i, c.as_str())).collect();
    cnnlab::io::save_png(&figures.join("augmentation.png"), &labelled_row(&refs, 8))?;
    println!("wrote lr_schedules.png and augmentation.png in {}", figures.display());
    Ok(())
}
