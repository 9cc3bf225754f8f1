//! Chapter "Reverse-mode autodiff": the gradient store, a hand-written op, and the gradient check.
//!
//! Run: cargo run --release --example 02_autodiff [-- --book]
//! Writes finite_difference_error.png to target/figures (book/src/figures with --book).

use cnnlab::gradcheck::{gradcheck, GradcheckConfig};
use cnnlab::io::figures_dir;
use cnnlab::viz::plot::LinePlot;
use cnnlab::{Element, Tensor};

// ANCHOR: softplus
/// softplus(x) = ln(1 + eˣ), whose derivative is the logistic function σ(x).
fn softplus(x: &Tensor<f64>) -> Tensor<f64> {
    let y: Vec<f64> = x.data().iter().map(|&v| (1.0 + v.exp()).ln()).collect();
    let saved = x.detach();
    Tensor::from_op("softplus", y, x.shape(), &[x], move |grad_y| {
        // ∂L/∂x = ∂L/∂y · σ(x)
        vec![Some(grad_y.mul(&saved.sigmoid()))]
    })
}
// ANCHOR_END: softplus

/// φ(x) = ⟨v, softmax(x)⟩ with fixed v, in any precision.
fn phi<E: Element>(x: &[f64]) -> f64 {
    let v: Vec<f64> = (0..x.len()).map(|i| (i as f64 * 1.7).sin()).collect();
    let t = Tensor::<E>::from_vec(x.iter().map(|&a| E::from_f64(a)).collect(), &[x.len()]);
    let y = t.softmax(0);
    y.data().iter().zip(&v).map(|(a, b)| a.to_f64() * b).sum()
}

fn main() {
    // ANCHOR: store
    let x = Tensor::<f64>::from_vec(vec![-1.0, 0.5, 2.0], &[3]).with_grad();
    let hidden = softplus(&x);
    let loss = hidden.mul(&hidden).sum(); // L = Σ softplus(x)²
    let grads = loss.backward();
    println!("∂L/∂x      = {:?}", grads.wrt(&x).data());
    println!("∂L/∂hidden = {:?}  (= 2·hidden)", grads.wrt(&hidden).data());
    // ANCHOR_END: store

    // ANCHOR: check
    let report =
        gradcheck(|t| softplus(&t[0]), &[Tensor::from_vec(vec![-1.0, 0.5, 2.0], &[3])], &GradcheckConfig::default());
    println!("gradcheck(softplus): {report:?}");
    // ANCHOR_END: check

    // Why the checks run in f64: the error of a central difference against ε
    let x0 = [0.3, -1.2, 0.8, 2.0];
    let exact = {
        let t = Tensor::<f64>::from_vec(x0.to_vec(), &[4]).with_grad();
        let v: Vec<f64> = (0..4).map(|i| (i as f64 * 1.7).sin()).collect();
        let g = t.softmax(0).mul(&Tensor::from_vec(v, &[4])).sum().backward();
        g.wrt(&t).data()[0]
    };
    let error_at = |eps: f64, f32_path: bool| {
        let (mut plus, mut minus) = (x0, x0);
        plus[0] += eps;
        minus[0] -= eps;
        let (p, m) =
            if f32_path { (phi::<f32>(&plus), phi::<f32>(&minus)) } else { (phi::<f64>(&plus), phi::<f64>(&minus)) };
        (((p - m) / (2.0 * eps) - exact).abs() / exact.abs()).max(1e-17)
    };
    let eps: Vec<f64> = (1..=24).map(|k| 10f64.powf(-(k as f64) / 2.0)).collect();
    let curve = |f32_path| eps.iter().map(|&e| (e, error_at(e, f32_path))).collect();
    let mut plot = LinePlot::new("Central difference error", "step eps", "relative error")
        .with("f32", curve(true))
        .with("f64", curve(false));
    (plot.log_x, plot.log_y) = (true, true);
    let out = figures_dir().join("finite_difference_error.png");
    cnnlab::io::save_png(&out, &plot.render(640, 400)).expect("write figure");
    println!("wrote {}", out.display());
}
