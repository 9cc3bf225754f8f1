//! Chapter "Batch normalization": train vs eval, running averages, folding.
//!
//! Run: cargo run --release --example 04_batchnorm [-- --book]
//! Writes batchnorm_running_stats.png to target/figures (book/src/figures with --book).

use cnnlab::io::figures_dir;
use cnnlab::nn::{fold_batchnorm, BatchNorm, Conv2d, Module, Sequential};
use cnnlab::viz::plot::LinePlot;
use cnnlab::{no_grad, Conv2dConfig, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() {
    let mut rng = StdRng::seed_from_u64(0);
    // activations with true mean 3 and variance 4 (std 2), 16 per batch
    let mut bn = BatchNorm::new_1d(1);
    let (mut mean_curve, mut var_curve) = (vec![], vec![]);
    for step in 0..60 {
        let batch = Tensor::<f32>::randn(&[16, 1], &mut rng).mul_scalar(2.0).add_scalar(3.0);
        bn.forward(&batch); // training mode: batch statistics, running averages updated
        mean_curve.push((step as f64 + 1.0, bn.running_mean.item() as f64));
        var_curve.push((step as f64 + 1.0, bn.running_var.item() as f64));
    }
    println!(
        "after 60 batches: running mean {:.3} (true 3), running var {:.3} (true 4)",
        bn.running_mean.item(),
        bn.running_var.item()
    );

    // ANCHOR: train_vs_eval
    let one = Tensor::from_vec(vec![5.0], &[1, 1]);
    let pair = Tensor::from_vec(vec![5.0, 1.0], &[2, 1]);
    bn.set_training(false);
    let eval_alone = bn.forward(&one).item(); // (5 − μ_run)/σ_run: same alone or in a batch
    let eval_pair = bn.forward(&pair).data()[0];
    bn.set_training(true);
    let train_pair = bn.forward(&pair).data()[0]; // (5 − 3)/2 with the pair's own statistics
                                                  // ANCHOR_END: train_vs_eval
    println!("x = 5 in eval mode: {eval_alone:.4} alone, {eval_pair:.4} in a pair; in training mode in a pair: {train_pair:.4}");

    // ANCHOR: folding
    let mut model = Sequential::new()
        .push(Conv2d::new(3, 8, 3, Conv2dConfig::default().padding(1), false, &mut rng))
        .push(BatchNorm::new_2d(8));
    for _ in 0..20 {
        model.forward(&Tensor::randn(&[8, 3, 6, 6], &mut rng).add_scalar(1.0)); // collect running statistics
    }
    model.set_training(false);
    let x = Tensor::randn(&[2, 3, 6, 6], &mut rng);
    let before = no_grad(|| model.forward(&x));
    fold_batchnorm(&mut model); // conv + BN -> one conv with bias
    let after = no_grad(|| model.forward(&x));
    // ANCHOR_END: folding
    let diff = before.data().iter().zip(after.data()).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    println!("folded model:\n{}\nlargest difference from the unfolded model: {diff:.2e}", model.summary());

    let plot = LinePlot::new("BatchNorm running averages (momentum 0.1)", "training batches", "value")
        .with("running mean", mean_curve)
        .with("running var", var_curve)
        .with("true mean 3", vec![(1.0, 3.0), (60.0, 3.0)])
        .with("true var 4", vec![(1.0, 4.0), (60.0, 4.0)]);
    let out = figures_dir().join("batchnorm_running_stats.png");
    cnnlab::io::save_png(&out, &plot.render(640, 400)).expect("write figure");
    println!("wrote {}", out.display());
}
