//! Lab "Training a CNN": the cross-entropy loss with label smoothing and its gradient, and one step of SGD with momentum, Nesterov and weight decay.
//!
//! Replace each `todo!`, then run `cargo lab training`.
#![allow(unused_variables)]

// ANCHOR: task
/// Cross-entropy of a batch of logits z (`[n, classes]`, row-major) against
/// integer labels, with label smoothing ε: the target of row i is
/// q = (1 − ε)·onehot(label_i) + ε/classes, and
/// L = −(1/n)·Σ_i Σ_c q_ic · log softmax(z_i)_c.
///
/// Returns (L, ∂L/∂z). It must stay finite for logits of any size
/// (±10,000 included): never exponentiate a large positive number.
pub fn cross_entropy(logits: &[f64], labels: &[usize], classes: usize, smoothing: f64) -> (f64, Vec<f64>) {
    todo!("a stable log-softmax per row, the loss, then the gradient (it is short)")
}

/// The velocity buffer of one parameter tensor: `None` before the first step.
pub type Velocity = Option<Vec<f32>>;

/// One SGD step on one parameter tensor, as `torch.optim.SGD` does it
/// (dampening 0). With learning rate η, momentum μ and weight decay λ, for
/// every element: d = g + λ·p; if μ ≠ 0, v ← μ·v + d (v = d on the first
/// step) and then d = d + μ·v with Nesterov, d = v without; finally
/// p ← p − η·d.
pub fn sgd_step(
    params: &mut [f32],
    grads: &[f32],
    velocity: &mut Velocity,
    lr: f32,
    momentum: f32,
    nesterov: bool,
    weight_decay: f32,
) {
    todo!("the update above, element by element")
}
// ANCHOR_END: task
