//! Reference solution of the lab "Reverse-mode autodiff": SiLU and a row scaling, each one graph node with a hand-written backward pass.

use cnnlab::Tensor;

/// σ(v) = 1/(1 + e^(−v)).
fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// silu(x) = x·σ(x); silu′(x) = σ(x)·(1 + x·(1 − σ(x))).
pub fn silu(x: &Tensor<f64>) -> Tensor<f64> {
    let y: Vec<f64> = x.data().iter().map(|&v| v * sigmoid(v)).collect();
    let saved = x.detach();
    Tensor::from_op("silu", y, x.shape(), &[x], move |grad_y| {
        let grad_x: Vec<f64> = saved
            .data()
            .iter()
            .zip(grad_y.data())
            .map(|(&v, &g)| {
                let s = sigmoid(v);
                g * s * (1.0 + v * (1.0 - s))
            })
            .collect();
        vec![Some(Tensor::from_vec(grad_x, saved.shape()))]
    })
}

/// y_ij = s_i·x_ij; ∂L/∂x_ij = s_i·∂L/∂y_ij and ∂L/∂s_i = Σ_j x_ij·∂L/∂y_ij.
pub fn scale_rows(x: &Tensor<f64>, s: &Tensor<f64>) -> Tensor<f64> {
    let [n, d] = x.shape() else { panic!("scale_rows: x must be [n, d], got {:?}", x.shape()) };
    let (n, d) = (*n, *d);
    assert_eq!(s.shape(), [n], "scale_rows: s must be [{n}] for x of shape {:?}", x.shape());
    let y: Vec<f64> =
        x.data().chunks(d).zip(s.data()).flat_map(|(row, &s_i)| row.iter().map(move |&v| s_i * v)).collect();
    let (saved_x, saved_s) = (x.detach(), s.detach());
    Tensor::from_op("scale_rows", y, &[n, d], &[x, s], move |grad_y| {
        let rows = saved_x.data().chunks(d).zip(grad_y.data().chunks(d)).zip(saved_s.data());
        let mut grad_x = Vec::with_capacity(n * d);
        let mut grad_s = Vec::with_capacity(n);
        for ((x_i, g_i), &s_i) in rows {
            grad_x.extend(g_i.iter().map(|&g| s_i * g));
            grad_s.push(x_i.iter().zip(g_i).map(|(&v, &g)| v * g).sum());
        }
        vec![Some(Tensor::from_vec(grad_x, &[n, d])), Some(Tensor::from_vec(grad_s, &[n]))]
    })
}
