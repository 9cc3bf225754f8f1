//! Lab "Localization as regression": a box from four outputs, validation scores of boxes and classes, and α chosen by them.
//!
//! Replace each `todo!`, then run `cargo lab regression`.
#![allow(unused_variables)]

// ANCHOR: task
/// An axis-aligned box in pixels: columns `x0..x1`, rows `y0..y1`, the ends exclusive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Box2 {
    /// Left column.
    pub x0: f32,
    /// Top row.
    pub y0: f32,
    /// One past the right column.
    pub x1: f32,
    /// One past the bottom row.
    pub y1: f32,
}

/// The box that four outputs t = (c_x / W, c_y / H, w / W, h / H) stand for,
/// in pixels of an `h`×`w` image: centre ± half the size, a negative width
/// or height counted as 0, every corner clamped into [0, W] or [0, H].
pub fn box_from_outputs(t: [f32; 4], (h, w): (usize, usize)) -> Box2 {
    todo!("scale the centre and size by the image, then clamp the corners")
}

/// What a localize network scored on a set of images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scores {
    /// Share of images whose class (the argmax of the K class scores) is right.
    pub accuracy: f64,
    /// Mean IoU of the regressed box with the true box.
    pub mean_iou: f64,
    /// Share of images with the right class *and* IoU ≥ 0.5.
    pub correct_localization: f64,
}

/// Scores `outputs` (one row per image: K class scores, then the four box
/// outputs) against the true `labels` and `boxes` of `h`×`w` images.
pub fn scores(outputs: &[Vec<f32>], labels: &[usize], boxes: &[Box2], (h, w): (usize, usize)) -> Scores {
    todo!("IoU is the intersection's area over the union's; 0 when the union is empty")
}

/// Chooses α from `(α, validation scores)` pairs: the highest correct
/// localization; between equals, the higher mean IoU; then the smaller α.
/// Never the loss: α changes what the loss measures.
pub fn choose_alpha(points: &[(f64, Scores)]) -> f64 {
    todo!("compare (correct localization, mean IoU) pairs")
}
// ANCHOR_END: task
