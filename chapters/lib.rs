//! The labs, one module per book chapter: the student's starter (`<chapter>/lab.rs`) or, with `--features solutions`, the reference solution (`solutions/<chapter>.rs`).
//!
//! The checks in `<chapter>/check.rs` call these modules; `cargo lab <chapter>`
//! runs them.

#[cfg_attr(not(feature = "solutions"), path = "tensors/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/tensors.rs")]
pub mod tensors;

#[cfg_attr(not(feature = "solutions"), path = "autodiff/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/autodiff.rs")]
pub mod autodiff;

#[cfg_attr(not(feature = "solutions"), path = "convolution/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/convolution.rs")]
pub mod convolution;

#[cfg_attr(not(feature = "solutions"), path = "batchnorm/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/batchnorm.rs")]
pub mod batchnorm;

#[cfg_attr(not(feature = "solutions"), path = "data/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/data.rs")]
pub mod data;

#[cfg_attr(not(feature = "solutions"), path = "preprocessing/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/preprocessing.rs")]
pub mod preprocessing;

#[cfg_attr(not(feature = "solutions"), path = "training/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/training.rs")]
pub mod training;

#[cfg_attr(not(feature = "solutions"), path = "evaluation/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/evaluation.rs")]
pub mod evaluation;

#[cfg_attr(not(feature = "solutions"), path = "folding/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/folding.rs")]
pub mod folding;

#[cfg_attr(not(feature = "solutions"), path = "fast/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/fast.rs")]
pub mod fast;

#[cfg_attr(not(feature = "solutions"), path = "cam/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/cam.rs")]
pub mod cam;

#[cfg_attr(not(feature = "solutions"), path = "gmp/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/gmp.rs")]
pub mod gmp;

#[cfg_attr(not(feature = "solutions"), path = "localization/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/localization.rs")]
pub mod localization;

#[cfg_attr(not(feature = "solutions"), path = "gradcam/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/gradcam.rs")]
pub mod gradcam;

#[cfg_attr(not(feature = "solutions"), path = "gradcampp/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/gradcampp.rs")]
pub mod gradcampp;

#[cfg_attr(not(feature = "solutions"), path = "augmented/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/augmented.rs")]
pub mod augmented;

#[cfg_attr(not(feature = "solutions"), path = "rise/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/rise.rs")]
pub mod rise;

#[cfg_attr(not(feature = "solutions"), path = "limitations/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/limitations.rs")]
pub mod limitations;

#[cfg_attr(not(feature = "solutions"), path = "filters/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/filters.rs")]
pub mod filters;

#[cfg_attr(not(feature = "solutions"), path = "patches/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/patches.rs")]
pub mod patches;

#[cfg_attr(not(feature = "solutions"), path = "synthesis/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/synthesis.rs")]
pub mod synthesis;

#[cfg_attr(not(feature = "solutions"), path = "perception/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/perception.rs")]
pub mod perception;

#[cfg_attr(not(feature = "solutions"), path = "regression/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/regression.rs")]
pub mod regression;

#[cfg_attr(not(feature = "solutions"), path = "pose/lab.rs")]
#[cfg_attr(feature = "solutions", path = "solutions/pose.rs")]
pub mod pose;
