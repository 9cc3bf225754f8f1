//! Reference solution of the lab "Input synthesis by gradient ascent".

/// Shifts every plane by (dy, dx) with wrap-around.
pub fn roll(image: &[f32], [c, h, w]: [usize; 3], (dy, dx): (isize, isize)) -> Vec<f32> {
    let mut out = vec![0.0; c * h * w];
    for ch in 0..c {
        for y in 0..h {
            let ty = (y as isize + dy).rem_euclid(h as isize) as usize;
            for x in 0..w {
                let tx = (x as isize + dx).rem_euclid(w as isize) as usize;
                out[ch * h * w + ty * w + tx] = image[ch * h * w + y * w + x];
            }
        }
    }
    out
}

/// One step of gradient ascent on S_c(I) − λ‖I‖² with jitter.
pub fn ascent_step(
    image: &[f32],
    shape: [usize; 3],
    score_gradient: &dyn Fn(&[f32]) -> Vec<f32>,
    lambda: f32,
    lr: f32,
    shift: (isize, isize),
) -> Vec<f32> {
    let shifted = roll(image, shape, shift);
    let g = roll(&score_gradient(&shifted), shape, (-shift.0, -shift.1));
    image.iter().zip(&g).map(|(&v, &g)| v + lr * (g - 2.0 * lambda * v)).collect()
}
