//! Getting hold of a layer: its feature maps A^k, the class scores y^c, and ∂y^c/∂A^k.

use super::Target;
use crate::io::{Error, Result};
use crate::nn::{Module, StateKind};
use crate::{enable_grad, Tensor};

/// One forward pass seen from a chosen layer.
pub struct Capture {
    /// Class scores y (logits, before softmax), `[N, classes]`.
    pub logits: Tensor,
    /// The layer's output A, `[N, K, h, w]`: the feature maps f_k.
    pub feature_maps: Tensor,
}

// ANCHOR: capture
/// Runs `model` in evaluation mode on `x` and captures the output of the
/// layer called `layer`. The captured maps are re-entered into the graph as a
/// fresh leaf that requires gradients, so a backward pass from the scores
/// stops there: it costs only the layers above, and ∂y^c/∂A is one lookup.
///
/// # Errors
/// When no layer has that name (the message lists every name with its
/// output shape), or the layer's output is not a stack of 2-D feature maps.
pub fn capture(model: &mut dyn Module, x: &Tensor, layer: &str) -> Result<Capture> {
    model.set_training(false);
    let mut feature_maps = None;
    let mut seen = Vec::new();
    let logits = enable_grad(|| {
        model.forward_inspect(x, "", &mut |name, output| {
            seen.push(format!("{name} {:?}", &output.shape()[1..]));
            if name == layer && output.rank() == 4 {
                let leaf = output.detach().with_grad();
                feature_maps = Some(leaf.clone());
                leaf
            } else {
                output
            }
        })
    });
    match feature_maps {
        Some(feature_maps) => Ok(Capture { logits, feature_maps }),
        None => Err(layer_error(layer, &seen)),
    }
}
// ANCHOR_END: capture

/// The error for a `--layer` that names no layer, or one whose output is
/// not a stack of feature maps; `seen` lists every layer as "name [shape]".
pub fn layer_error(layer: &str, seen: &[String]) -> Error {
    if seen.iter().any(|s| s.split(' ').next() == Some(layer)) {
        Error::msg(format!(
            "--layer {layer}: its output is not a stack of feature maps [N, K, h, w]; choose a conv layer:\n  {}",
            seen.join("\n  ")
        ))
    } else {
        Error::msg(format!(
            "--layer: no layer is called '{layer}'; the layers (with output shapes) are:\n  {}",
            seen.join("\n  ")
        ))
    }
}

/// The target class of each image, checked against the number of classes.
///
/// # Errors
/// When a class index is out of range, or a per-image list has the wrong length.
pub fn resolve_targets(logits: &Tensor, target: &Target) -> Result<Vec<usize>> {
    let (n, classes) = (logits.shape()[0], logits.shape()[1]);
    let check = |c: usize| {
        if c < classes {
            Ok(c)
        } else {
            Err(Error::msg(format!("--class {c}: out of range; the model has classes 0..{}", classes - 1)))
        }
    };
    match target {
        Target::Top => Ok(logits.argmax(1)),
        Target::Class(c) => Ok(vec![check(*c)?; n]),
        Target::PerImage(list) if list.len() != n => {
            Err(Error::msg(format!("{} target classes for {n} images", list.len())))
        }
        Target::PerImage(list) => list.iter().map(|&c| check(c)).collect(),
    }
}

// ANCHOR: class_gradients
/// ∂y^{c_n}/∂A for every image n at once: seeding backward with a one-hot row
/// per image is the same as summing the chosen scores, because in evaluation
/// mode the images do not interact.
pub fn class_gradients(capture: &Capture, targets: &[usize]) -> Tensor {
    let classes = capture.logits.shape()[1];
    let mut seed = vec![0f32; targets.len() * classes];
    targets.iter().enumerate().for_each(|(n, &c)| seed[n * classes + c] = 1.0);
    let seed = Tensor::from_vec(seed, capture.logits.shape());
    capture.logits.backward_with(&seed).wrt_or_zeros(&capture.feature_maps)
}
// ANCHOR_END: class_gradients

/// Runs `f` with every parameter of `model` detached (so no backward pass
/// computes weight gradients), then puts the original parameters back.
pub fn frozen<R>(model: &mut dyn Module, f: impl FnOnce(&mut dyn Module) -> R) -> R {
    let mut saved = Vec::new();
    model.visit_state("", &mut |_, t, kind| {
        if kind == StateKind::Parameter {
            saved.push(t.clone());
            *t = t.detach();
        }
    });
    let out = f(model);
    let mut saved = saved.into_iter();
    model.visit_state("", &mut |_, t, kind| {
        if kind == StateKind::Parameter {
            *t = saved.next().expect("the same parameters are visited twice");
        }
    });
    out
}
