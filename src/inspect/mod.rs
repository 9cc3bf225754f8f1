//! Looking inside a trained CNN: its filters, its feature maps, the image patches that most excite a unit, and images synthesised by gradient ascent.

pub mod filters;
pub mod frequency;
pub mod patches;
pub mod synthesis;

use crate::io::{Error, Result};
use crate::nn::{Module, ReceptiveField};
use crate::{no_grad, Tensor};

// ANCHOR: receptive_fields
/// The receptive field of every layer, under the names `explain --layer`
/// uses (those of [`Module::forward_inspect`]), in forward order.
pub fn receptive_fields(model: &dyn Module) -> Vec<(String, ReceptiveField)> {
    let mut fields = Vec::new();
    model.receptive_field(ReceptiveField::PIXEL, "", &mut |name, field| {
        if !name.is_empty() {
            fields.push((name.to_string(), field));
        }
    });
    fields
}
// ANCHOR_END: receptive_fields

/// The receptive field of the layer called `layer`.
///
/// # Errors
/// When no layer has that name (the message lists them).
pub fn receptive_field_of(model: &dyn Module, layer: &str) -> Result<ReceptiveField> {
    let fields = receptive_fields(model);
    fields.iter().find(|(name, _)| name == layer).map(|(_, f)| *f).ok_or_else(|| {
        let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        Error::msg(format!("--layer: no layer is called '{layer}'; the layers are: {}", names.join(", ")))
    })
}

/// The outputs of the layers `wanted` (every layer with 2-D feature maps
/// when `wanted` is empty) for the batch `x`, in evaluation mode, without a
/// graph: `(name, [N, K, h, w])` in forward order.
///
/// # Errors
/// When a wanted layer does not exist or its output is not a stack of
/// feature maps; the message lists the layers with their output shapes.
pub fn feature_maps(model: &mut dyn Module, x: &Tensor, wanted: &[String]) -> Result<Vec<(String, Tensor)>> {
    model.set_training(false);
    let (mut found, mut seen) = (Vec::new(), Vec::new());
    no_grad(|| {
        model.forward_inspect(x, "", &mut |name, output| {
            seen.push(format!("{name} {:?}", &output.shape()[1..]));
            let spatial = output.rank() == 4 && output.shape()[2] * output.shape()[3] > 1;
            if (wanted.is_empty() && spatial) || (wanted.iter().any(|w| w == name) && output.rank() == 4) {
                found.push((name.to_string(), output.clone()));
            }
            output
        })
    });
    if let Some(missing) = wanted.iter().find(|w| !found.iter().any(|(n, _)| n == *w)) {
        return Err(crate::explain::capture::layer_error(missing, &seen));
    }
    Ok(found)
}
