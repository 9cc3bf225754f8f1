//! Reference solution of the lab "Maximally activating patches".

/// One axis of a receptive field: unit i of a layer sees the input pixels
/// `start + i·jump` to `start + i·jump + size − 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// How many input pixels one unit sees.
    pub size: usize,
    /// The distance in input pixels between neighbouring units' fields.
    pub jump: usize,
    /// The first input pixel of unit 0's field.
    pub start: isize,
}

/// The field after a sliding window.
pub fn after_window(input: Field, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Field {
    Field {
        size: input.size + dilation * (kernel - 1) * input.jump,
        jump: input.jump * stride,
        start: input.start - (padding * input.jump) as isize,
    }
}

/// The field of a chain of windows.
pub fn chain(windows: &[(usize, usize, usize, usize)]) -> Field {
    let pixel = Field { size: 1, jump: 1, start: 0 };
    windows.iter().fold(pixel, |f, &(k, s, p, d)| after_window(f, k, s, p, d))
}

/// The input pixels unit `i` sees, clipped to the image.
pub fn pixels_seen(field: Field, i: usize, image: usize) -> (usize, usize) {
    let first = field.start + (i * field.jump) as isize;
    let end = first + field.size as isize;
    let clip = |v: isize| v.clamp(0, image as isize) as usize;
    (clip(first), clip(end).max(clip(first)))
}
