//! Lab "Maximally activating patches": receptive-field arithmetic — the field after each window, and the pixels a unit sees.
//!
//! Replace each `todo!`, then run `cargo lab patches`.
#![allow(unused_variables)]

// ANCHOR: task
/// One axis of a receptive field: unit i of a layer sees the input pixels
/// `start + i·jump` to `start + i·jump + size − 1` (negative positions, and
/// positions past the image's edge, lie in the padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// How many input pixels one unit sees.
    pub size: usize,
    /// The distance in input pixels between neighbouring units' fields.
    pub jump: usize,
    /// The first input pixel of unit 0's field.
    pub start: isize,
}

/// The field of a layer's units after a sliding window (a convolution or a
/// pool) of `kernel` taps spaced `dilation` apart, moved by `stride`, over
/// its input padded by `padding` — given `input`, the field of the
/// window's input units:
///
/// size' = size + d(k − 1)·jump,  jump' = jump·stride,  start' = start − padding·jump.
pub fn after_window(input: Field, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Field {
    todo!("one line per formula")
}

/// The field of a chain of windows, each `(kernel, stride, padding,
/// dilation)`, starting from the input pixels themselves (size 1, jump 1, start 0).
pub fn chain(windows: &[(usize, usize, usize, usize)]) -> Field {
    todo!("fold after_window over the windows")
}

/// The input pixels unit `i` sees along this axis, clipped to an image of
/// `image` pixels: a half-open range `[first, end)`; empty (first = end)
/// when the field lies wholly in the padding.
pub fn pixels_seen(field: Field, i: usize, image: usize) -> (usize, usize) {
    todo!("the unclipped range, then clip both ends to 0..image")
}
// ANCHOR_END: task
