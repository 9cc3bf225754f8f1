//! Explaining a CNN's decision: CAM, Grad-CAM, Grad-CAM++, Smooth Grad-CAM++, Augmented Grad-CAM, RISE and gradient saliency.
//!
//! Every method returns *raw* maps — at the resolution it works at, before
//! upsampling and normalisation — because those are separate, explicit
//! steps ([`Map::upsample`], [`Map::normalized`]).

pub mod augmented;
pub mod cam;
pub mod capture;
pub mod gradcam;
pub mod grid;
pub mod rise;
pub mod saliency;
pub mod separability;

/// The saliency map every method returns (defined in `viz`, which draws it).
pub use crate::viz::Map;
pub use augmented::AugmentedOptions;
pub use gradcam::{Maps, SmoothOptions};
pub use rise::RiseOptions;

use crate::io::{Error, Result};
use crate::models::Model;
use crate::Tensor;

/// The saliency methods, as named on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Class activation mapping (needs GAP + Linear).
    Cam,
    /// Gradient-weighted CAM.
    GradCam,
    /// Grad-CAM++.
    GradCamPlusPlus,
    /// Grad-CAM++ with derivatives averaged over noisy inputs.
    SmoothGradCamPlusPlus,
    /// Grad-CAMs of augmented images, super-resolved.
    AugmentedGradCam,
    /// Randomised input sampling.
    Rise,
    /// |∂y^c/∂x|, the plain gradient.
    Saliency,
}

impl Method {
    /// Every method, in the order tables and grids show them.
    pub const ALL: [Method; 7] = [
        Method::Cam,
        Method::GradCam,
        Method::GradCamPlusPlus,
        Method::SmoothGradCamPlusPlus,
        Method::AugmentedGradCam,
        Method::Rise,
        Method::Saliency,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Method::Cam => "cam",
            Method::GradCam => "gradcam",
            Method::GradCamPlusPlus => "gradcam++",
            Method::SmoothGradCamPlusPlus => "smooth-gradcam++",
            Method::AugmentedGradCam => "augmented-gradcam",
            Method::Rise => "rise",
            Method::Saliency => "saliency",
        }
    }

    /// The fraction of the map's maximum above which a pixel counts as
    /// object when a box is drawn: 20% for CAM (Zhou et al.), 15% for the
    /// others (Selvaraju et al. use 15% for Grad-CAM).
    pub fn default_threshold(self) -> f32 {
        match self {
            Method::Cam => 0.20,
            _ => 0.15,
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Method::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<_> = Method::ALL.iter().map(|m| m.name()).collect();
            Error::msg(format!("unknown method '{s}'; choose one of: {}", names.join(", ")))
        })
    }
}

/// Which class to explain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Each image's top prediction.
    Top,
    /// The same class for every image.
    Class(usize),
    /// One class per image (e.g. the true labels, for GT-known localization).
    PerImage(Vec<usize>),
}

/// Settings shared by all methods.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The layer for the Grad-CAM family (default: the architecture's last conv block).
    pub layer: Option<String>,
    /// Smooth Grad-CAM++ settings.
    pub smooth: SmoothOptions,
    /// Augmented Grad-CAM settings.
    pub augmented: AugmentedOptions,
    /// RISE settings.
    pub rise: RiseOptions,
}

// ANCHOR: explain
/// Raw maps of `method` for each image of the normalised batch `x`, for
/// `target`, with the class scores and targets.
/// The model is switched to evaluation mode; its parameters are not changed.
///
/// # Errors
/// CAM on a network without GAP + Linear; `--layer` on CAM (it has one
/// layer by definition); unknown layers; classes out of range; class scores
/// that are not finite (weights that overflow float32 on these images).
pub fn explain(model: &mut Model, x: &Tensor, method: Method, target: &Target, opts: &Options) -> Result<Maps> {
    let default_layer = model.arch.feature_layer();
    let layer = opts.layer.as_deref().unwrap_or(default_layer);
    if method == Method::Cam {
        if layer != default_layer {
            return Err(Error::msg(format!(
                "--layer {layer}: CAM is defined on the feature maps right before global pooling \
                 (layer {default_layer}); use gradcam to explain another layer"
            )));
        }
        return finite_scores(cam::cam(model, x, target)?);
    }
    let maps = capture::frozen(model, |model| match method {
        Method::Cam => unreachable!("handled above"),
        Method::GradCam => gradcam::gradcam(model, x, layer, target),
        Method::GradCamPlusPlus => gradcam::gradcam_pp(model, x, layer, target),
        Method::SmoothGradCamPlusPlus => gradcam::smooth_gradcam_pp(model, x, layer, target, opts.smooth),
        Method::AugmentedGradCam => {
            augmented::augmented_gradcam(model, x, layer, target, &opts.augmented).map(|(maps, _)| maps)
        }
        Method::Rise => rise::rise(model, x, target, &opts.rise),
        Method::Saliency => saliency::saliency(model, x, target),
    })?;
    finite_scores(maps)
}
// ANCHOR_END: explain

/// `maps` unchanged if every class score is finite; an error otherwise (a
/// map and a probability computed from an infinite score would be NaN).
fn finite_scores(maps: Maps) -> Result<Maps> {
    let scores = maps.1.data();
    let classes = scores.len() / maps.0.len().max(1);
    match scores.iter().position(|s| !s.is_finite()) {
        None => Ok(maps),
        Some(at) => Err(Error::msg(format!(
            "class scores not finite: image {} of the batch, class {} is {}; the network's weights \
             overflow float32 on this image, so no map or probability can be computed",
            at / classes.max(1),
            at % classes.max(1),
            scores[at]
        ))),
    }
}
