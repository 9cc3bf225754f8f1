//! CAM (Zhou et al. 2016): M_c(x, y) = Σ_k w_k^c f_k(x, y), read off a network that ends in global pooling and one Linear layer.

use super::capture::{capture, resolve_targets};
use super::Target;
use crate::io::{Error, Result};
use crate::models::{Model, ResNet};
use crate::nn::{Flatten, GlobalAvgPool, GlobalMaxPool, Linear, Scale, Sequential};
use crate::viz::Map;
use crate::{no_grad, Tensor};

/// How the head pools the last feature maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// Global average pooling: S_c = b_c + Σ_k w_k^c · (1/Z) Σ_xy f_k(x, y).
    Average,
    /// Global max pooling: S_c = b_c + Σ_k w_k^c · max_xy f_k(x, y).
    Max,
}

/// The classifier head a CAM needs: global pooling, then one Linear layer.
pub struct CamHead {
    /// w_k^c, `[classes, K]` (the Linear layer's weight).
    pub class_weights: Tensor,
    /// b_c, `[classes]`.
    pub bias: Tensor,
    /// The pooling before the Linear layer.
    pub pooling: Pooling,
}

/// Finds the CAM head of `model`.
///
/// # Errors
/// For networks without global pooling followed by a Linear layer (`vgg-fc`).
pub fn cam_head(model: &mut Model) -> Result<CamHead> {
    let refuse = || {
        Error::msg(format!(
            "CAM needs global pooling followed by one Linear layer, and {} has fully connected layers \
             after its convolutions instead; use gradcam (or gradcam++), which works on any CNN",
            model.arch
        ))
    };
    // a fixed output scale s after the Linear layer (fastcnn) scales w_k^c and b_c alike
    let head = |linear: &Linear, pooling, s: f64| CamHead {
        class_weights: linear.weight.detach().mul_scalar(s),
        bias: match &linear.bias {
            Some(b) => b.detach().mul_scalar(s),
            None => Tensor::zeros(&[linear.weight.shape()[0]]),
        },
        pooling,
    };
    if let Some(resnet) = model.net.as_any_mut().downcast_mut::<ResNet>() {
        return Ok(head(resnet.linear(), Pooling::Average, 1.0));
    }
    let seq = model.net.as_any_mut().downcast_mut::<Sequential>().ok_or_else(refuse)?;
    let mut n = seq.layers.len();
    let mut scale = 1.0;
    if let Some(&mut Scale(s)) = seq.layers.last_mut().and_then(|l| l.as_any_mut().downcast_mut::<Scale>()) {
        (scale, n) = (s, n - 1);
    }
    if n < 3 || seq.layers[n - 2].as_any_mut().downcast_mut::<Flatten>().is_none() {
        return Err(refuse());
    }
    let pool = seq.layers[n - 3].as_any_mut();
    let pooling = if pool.downcast_mut::<GlobalAvgPool>().is_some() {
        Pooling::Average
    } else if pool.downcast_mut::<GlobalMaxPool>().is_some() {
        Pooling::Max
    } else {
        return Err(refuse());
    };
    let linear = seq.layers[n - 1].as_any_mut().downcast_mut::<Linear>().ok_or_else(refuse)?;
    Ok(head(linear, pooling, scale))
}

// ANCHOR: cam
/// M_c(x, y) = Σ_k w_k^c f_k(x, y) for one image's feature maps
/// `feature_maps` (`[K, h, w]`, flattened) and the class weights of class c.
pub fn class_activation_map(feature_maps: &[f32], class_weights: &[f32], (h, w): (usize, usize)) -> Map {
    let mut cam = vec![0f32; h * w];
    for (f_k, &w_kc) in feature_maps.chunks_exact(h * w).zip(class_weights) {
        cam.iter_mut().zip(f_k).for_each(|(m, &f)| *m += w_kc * f);
    }
    Map::new(h, w, cam)
}
// ANCHOR_END: cam

/// Raw CAMs (at the feature maps' resolution) for a batch `x`, for `class`
/// or each image's top class; also returns the scores and the target classes.
///
/// # Errors
/// When the model has no CAM head, or `class` is out of range.
pub fn cam(model: &mut Model, x: &Tensor, target: &Target) -> Result<(Vec<Map>, Tensor, Vec<usize>)> {
    let head = cam_head(model)?;
    let layer = model.arch.feature_layer();
    let captured = no_grad(|| capture(model, x, layer))?;
    let targets = resolve_targets(&captured.logits, target)?;
    let (_, k, h, w) = captured.feature_maps.dims4("cam");
    let weights = head.class_weights.data();
    let maps = captured
        .feature_maps
        .data()
        .chunks_exact(k * h * w)
        .zip(&targets)
        .map(|(f, &c)| class_activation_map(f, &weights[c * k..(c + 1) * k], (h, w)))
        .collect();
    Ok((maps, captured.logits, targets))
}
