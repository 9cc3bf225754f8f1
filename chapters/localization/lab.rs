//! Lab "Weakly supervised localization": from a saliency map to a bounding box (threshold, largest 8-connected component), and intersection over union.
//!
//! Replace each `todo!`, then run `cargo lab localization`.
#![allow(unused_variables)]

// ANCHOR: task
/// An axis-aligned box in pixels: columns `x0..x1`, rows `y0..y1`, the ends
/// exclusive (a single pixel at (y, x) is the box (x, y, x + 1, y + 1)).
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

/// Intersection over union: area(a ∩ b) / area(a ∪ b); 0 when the union is empty.
pub fn iou(a: &Box2, b: &Box2) -> f32 {
    todo!("the intersection is a box too (possibly empty)")
}

/// The lecture's recipe for a box from a map (`h`×`w`, row-major): keep the
/// pixels whose value is ≥ `threshold` × the map's maximum, find the largest
/// 8-connected component of them (neighbours include the diagonals), and
/// return its bounding box. Between components of equal size, the one met
/// first in row-major order wins. `None` when the maximum is not positive.
pub fn box_from_map(map: &[f32], (h, w): (usize, usize), threshold: f32) -> Option<Box2> {
    todo!("a flood fill from every kept pixel not yet visited")
}
// ANCHOR_END: task
