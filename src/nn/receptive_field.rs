//! Receptive fields: which input pixels a unit of a layer can see, from the layers' kernels, strides, padding and dilation.

/// One axis of a receptive field. Unit i of the layer sees the input pixels
/// `start + i·jump` up to `start + i·jump + size − 1` along this axis
/// (before clipping to the image: negative positions, and positions past
/// the edge, fall in the padding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    /// How many input pixels one unit sees.
    pub size: usize,
    /// How far apart in the input two neighbouring units' fields start (the product of the strides).
    pub jump: usize,
    /// Where unit 0's field starts (negative: in the padding).
    pub start: isize,
}

impl Axis {
    /// The input itself: each pixel sees itself.
    pub const PIXEL: Axis = Axis { size: 1, jump: 1, start: 0 };

    // ANCHOR: window
    /// The field after a sliding window of `kernel` taps spaced `dilation`
    /// apart, moved by `stride`, over an input padded by `padding`: the
    /// window spans d(k − 1) + 1 positions of its input, each `jump` pixels apart, so
    ///
    /// size' = size + d(k − 1)·jump,   jump' = jump·stride,   start' = start − padding·jump.
    pub fn window(self, kernel: usize, stride: usize, padding: usize, dilation: usize) -> Axis {
        Axis {
            size: self.size + dilation * (kernel - 1) * self.jump,
            jump: self.jump * stride,
            start: self.start - (padding * self.jump) as isize,
        }
    }
    // ANCHOR_END: window

    /// The input pixels unit `i` sees, as a half-open range `[first, end)`
    /// (not clipped to the image).
    pub fn span(&self, i: usize) -> (isize, isize) {
        let first = self.start + (i * self.jump) as isize;
        (first, first + self.size as isize)
    }
}

/// The receptive field of a layer's units, along rows and columns; after
/// global pooling every unit sees the whole image (`global`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceptiveField {
    /// Along the image's height.
    pub rows: Axis,
    /// Along the image's width.
    pub cols: Axis,
    /// True after global pooling: each unit sees every pixel.
    pub global: bool,
}

impl ReceptiveField {
    /// The input image: each pixel sees itself.
    pub const PIXEL: ReceptiveField = ReceptiveField { rows: Axis::PIXEL, cols: Axis::PIXEL, global: false };

    /// After a 2-D sliding window (convolution or pooling); arguments are (rows, columns).
    pub fn window(
        self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
    ) -> ReceptiveField {
        ReceptiveField {
            rows: self.rows.window(kernel.0, stride.0, padding.0, dilation.0),
            cols: self.cols.window(kernel.1, stride.1, padding.1, dilation.1),
            global: self.global,
        }
    }

    /// After global pooling.
    pub fn whole_image(self) -> ReceptiveField {
        ReceptiveField { global: true, ..self }
    }

    /// The input box unit (y, x) sees in an `h`×`w` image: rows `y0..y1`,
    /// columns `x0..x1`, half-open, before clipping (so the part that falls
    /// in the padding can be drawn as such).
    pub fn input_box(&self, (y, x): (usize, usize), (h, w): (usize, usize)) -> [isize; 4] {
        if self.global {
            return [0, 0, h as isize, w as isize];
        }
        let ((y0, y1), (x0, x1)) = (self.rows.span(y), self.cols.span(x));
        [y0, x0, y1, x1]
    }
}
