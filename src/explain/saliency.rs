//! Vanilla gradient saliency (Simonyan et al. 2014): how much each pixel's change moves the class score.

use super::capture::resolve_targets;
use super::gradcam::Maps;
use super::Target;
use crate::io::Result;
use crate::nn::Module;
use crate::viz::Map;
use crate::{enable_grad, Tensor};

// ANCHOR: saliency
/// M(i, j) = max over channels ch of |∂y^c/∂x_{ch,i,j}|, for each image of the
/// batch `x`, at input resolution.
///
/// # Errors
/// When `class` is out of range.
pub fn saliency(model: &mut dyn Module, x: &Tensor, target: &Target) -> Result<Maps> {
    let (n, c, height, width) = x.dims4("saliency");
    model.set_training(false);
    let input = x.detach().with_grad();
    let logits = enable_grad(|| model.forward(&input));
    let targets = resolve_targets(&logits, target)?;
    let classes = logits.shape()[1];
    let mut seed = vec![0f32; n * classes];
    targets.iter().enumerate().for_each(|(i, &t)| seed[i * classes + t] = 1.0);
    let grads = logits.backward_with(&Tensor::from_vec(seed, &[n, classes])).wrt_or_zeros(&input);
    let plane = height * width;
    let maps = grads
        .data()
        .chunks_exact(c * plane)
        .map(|g| {
            let values = (0..plane).map(|p| (0..c).map(|ch| g[ch * plane + p].abs()).fold(0.0, f32::max)).collect();
            Map::new(height, width, values)
        })
        .collect();
    Ok((maps, logits.detach(), targets))
}
// ANCHOR_END: saliency
