//! Reference solution of the lab "Filters and activation maps".

/// A filter as grey levels, zero at mid-grey, on its own symmetric scale.
pub fn signed_grey(filter: &[f32]) -> Vec<u8> {
    let s = filter.iter().fold(0f32, |m, v| m.max(v.abs()));
    filter
        .iter()
        .map(|&v| {
            let t = if s > 0.0 { 0.5 + 0.5 * v / s } else { 0.5 };
            (t * 255.0).round().clamp(0.0, 255.0) as u8
        })
        .collect()
}

/// One activation map: correlation with one filter, zero padding, stride 1, then ReLU.
pub fn activation_map(
    image: &[f32],
    [c, h, w]: [usize; 3],
    filter: &[f32],
    (kh, kw): (usize, usize),
    bias: f32,
    pad: usize,
) -> Vec<f32> {
    let (oh, ow) = (h + 2 * pad + 1 - kh, w + 2 * pad + 1 - kw);
    let mut out = vec![0.0; oh * ow];
    for oy in 0..oh {
        for ox in 0..ow {
            let mut sum = bias;
            for ch in 0..c {
                for i in 0..kh {
                    for j in 0..kw {
                        let (y, x) = ((oy + i) as isize - pad as isize, (ox + j) as isize - pad as isize);
                        if y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w {
                            sum += filter[(ch * kh + i) * kw + j] * image[(ch * h + y as usize) * w + x as usize];
                        }
                    }
                }
            }
            out[oy * ow + ox] = sum.max(0.0);
        }
    }
    out
}

/// The `n` channels with the largest mean activation, largest first.
pub fn strongest_channels(maps: &[f32], [k, h, w]: [usize; 3], n: usize) -> Vec<usize> {
    let means: Vec<f32> = maps.chunks(h * w).take(k).map(|p| p.iter().sum::<f32>() / (h * w) as f32).collect();
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| means[b].total_cmp(&means[a]).then(a.cmp(&b)));
    order.truncate(n);
    order
}
