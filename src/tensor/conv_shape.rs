//! The shape arithmetic of a 2-D convolution: its configuration, the output size, and the checked geometry every kernel reads.

/// Stride, padding, dilation and groups of a convolution (PyTorch's meaning).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dConfig {
    /// Step between output pixels, (vertical, horizontal).
    pub stride: (usize, usize),
    /// Zeros added on each side, (vertical, horizontal).
    pub padding: (usize, usize),
    /// Spacing between kernel taps, (vertical, horizontal).
    pub dilation: (usize, usize),
    /// Input and output channels are split into this many independent groups.
    pub groups: usize,
}

impl Default for Conv2dConfig {
    fn default() -> Self {
        Conv2dConfig { stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1 }
    }
}

impl Conv2dConfig {
    /// Same stride in both directions.
    pub fn stride(self, s: usize) -> Self {
        Conv2dConfig { stride: (s, s), ..self }
    }
    /// Same padding on all sides.
    pub fn padding(self, p: usize) -> Self {
        Conv2dConfig { padding: (p, p), ..self }
    }
    /// Same dilation in both directions.
    pub fn dilation(self, d: usize) -> Self {
        Conv2dConfig { dilation: (d, d), ..self }
    }
    /// Number of groups.
    pub fn groups(self, g: usize) -> Self {
        Conv2dConfig { groups: g, ..self }
    }
}

/// Output size along one axis: ⌊(in + 2·pad − dil·(k − 1) − 1) / stride⌋ + 1,
/// or `None` when the dilated kernel does not fit in the padded input.
pub fn conv_output_size(input: usize, kernel: usize, stride: usize, pad: usize, dil: usize) -> Option<usize> {
    let span = dil * (kernel - 1) + 1;
    (input + 2 * pad >= span && stride > 0).then(|| (input + 2 * pad - span) / stride + 1)
}

/// All sizes of one convolution, checked once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
    pub cfg: Conv2dConfig,
}

impl Geometry {
    pub(crate) fn new(x: &[usize], weight: &[usize], cfg: Conv2dConfig) -> Self {
        let (n, c_in, h, w) = match *x {
            [n, c, h, w] => (n, c, h, w),
            _ => panic!("conv2d: input must be NCHW, got shape {x:?}"),
        };
        let (c_out, c_per_group, kh, kw) = match *weight {
            [o, c, kh, kw] => (o, c, kh, kw),
            _ => panic!("conv2d: weight must be OIHW, got shape {weight:?}"),
        };
        let g = cfg.groups;
        assert!(
            g > 0 && c_in % g == 0 && c_out % g == 0 && c_per_group == c_in / g,
            "conv2d: input {x:?} and weight {weight:?} do not match with groups={g}"
        );
        let oh = conv_output_size(h, kh, cfg.stride.0, cfg.padding.0, cfg.dilation.0);
        let ow = conv_output_size(w, kw, cfg.stride.1, cfg.padding.1, cfg.dilation.1);
        let (Some(oh), Some(ow)) = (oh, ow) else {
            panic!("conv2d: kernel {kh}x{kw} with {cfg:?} does not fit input {x:?}");
        };
        Geometry { n, c_in, h, w, c_out, kh, kw, oh, ow, cfg }
    }

    /// Rows of the im2col matrix of one group: (C/groups)·kh·kw.
    pub(crate) fn col_rows(&self) -> usize {
        self.c_in / self.cfg.groups * self.kh * self.kw
    }
    /// Output pixels per channel: oh·ow.
    pub(crate) fn out_pixels(&self) -> usize {
        self.oh * self.ow
    }
    /// Values per input image: C·H·W.
    pub(crate) fn in_image(&self) -> usize {
        self.c_in * self.h * self.w
    }
    /// Values per output image: O·oh·ow.
    pub(crate) fn out_image(&self) -> usize {
        self.c_out * self.oh * self.ow
    }
}
