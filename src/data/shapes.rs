//! The built-in `shapes` dataset: one shape per image on a cluttered background, with its box and keypoints.
//!
//! Each image holds one object from 10 classes at a random position, size,
//! rotation and colour, on a background of smooth colour gradients, pixel
//! noise and distractor strokes and dots that carry no class information. A
//! classifier must therefore find the object, and since every image comes with
//! the object's ground-truth bounding box, localisation from saliency maps can
//! be measured exactly. Images are generated in parallel; image i depends only
//! on (seed, i), so any subset is reproducible on any number of threads.

use super::{BBox, Dataset};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::f32::consts::PI;

/// The ten classes, index = label.
pub const CLASSES: [&str; 10] =
    ["circle", "square", "triangle", "cross", "star", "ring", "hexagon", "diamond", "crescent", "semicircle"];

/// The two classes of the binary variant.
pub const BINARY_CLASSES: [&str; 2] = ["circle", "square"];

/// Size and difficulty of the generated images.
#[derive(Clone, Debug)]
pub struct ShapesConfig {
    /// Width and height in pixels.
    pub size: usize,
    /// Two classes (circle, square) instead of ten.
    pub binary: bool,
    /// Number of distractor strokes per image (up to).
    pub strokes: usize,
    /// Standard deviation of the pixel noise, in grey levels.
    pub noise: f32,
}

impl Default for ShapesConfig {
    fn default() -> Self {
        ShapesConfig { size: 32, binary: false, strokes: 4, noise: 10.0 }
    }
}

/// A regular polygon with `n` corners on the unit circle, first corner at the top.
fn polygon(n: usize, radius: f32) -> Vec<[f32; 2]> {
    (0..n)
        .map(|k| {
            let a = -PI / 2.0 + 2.0 * PI * k as f32 / n as f32;
            [radius * a.cos(), radius * a.sin()]
        })
        .collect()
}

/// A five-pointed star: outer and inner corners alternating.
fn star() -> Vec<[f32; 2]> {
    (0..10)
        .map(|k| {
            let a = -PI / 2.0 + PI * k as f32 / 5.0;
            let r = if k % 2 == 0 { 1.0 } else { 0.42 };
            [r * a.cos(), r * a.sin()]
        })
        .collect()
}

/// Even–odd rule: is (u, v) inside the polygon?
fn inside_polygon(corners: &[[f32; 2]], u: f32, v: f32) -> bool {
    let mut inside = false;
    let mut j = corners.len() - 1;
    for i in 0..corners.len() {
        let ([xi, yi], [xj, yj]) = (corners[i], corners[j]);
        if (yi > v) != (yj > v) && u < (xj - xi) * (v - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

// ANCHOR: shape
/// How a class decides whether a point is inside it.
#[derive(Clone, Copy, PartialEq)]
enum Outline {
    Circle,
    Ring,
    Cross,
    Crescent,
    Semicircle,
    Polygon,
}

/// The outline of one class in its own frame: unit radius, centred at 0.
struct Shape {
    outline: Outline,
    corners: Vec<[f32; 2]>,
    keypoints: Vec<[f32; 2]>,
}

impl Shape {
    fn new(class: &str) -> Self {
        let (outline, corners) = match class {
            "circle" => (Outline::Circle, vec![]),
            "ring" => (Outline::Ring, vec![]),
            "cross" => (Outline::Cross, vec![]),
            "crescent" => (Outline::Crescent, vec![]),
            "semicircle" => (Outline::Semicircle, vec![]),
            "square" => (Outline::Polygon, vec![[-0.7, -0.7], [0.7, -0.7], [0.7, 0.7], [-0.7, 0.7]]),
            "triangle" => (Outline::Polygon, polygon(3, 1.0)),
            "hexagon" => (Outline::Polygon, polygon(6, 0.95)),
            "diamond" => (Outline::Polygon, vec![[0.0, -1.0], [0.55, 0.0], [0.0, 1.0], [-0.55, 0.0]]),
            "star" => (Outline::Polygon, star()),
            other => panic!("shapes: unknown class {other}"),
        };
        // characteristic points: corners, arm tips, or four points on the rim
        let keypoints = match class {
            "cross" => vec![[0.0, -0.95], [0.95, 0.0], [0.0, 0.95], [-0.95, 0.0]],
            "semicircle" => vec![[-0.95, 0.0], [0.95, 0.0], [0.0, 0.95]],
            "star" => corners.iter().step_by(2).copied().collect(),
            "circle" | "ring" | "crescent" => polygon(4, 0.9),
            _ => corners.clone(),
        };
        Shape { outline, corners, keypoints }
    }

    /// Is the point (u, v) of the shape's frame inside the shape?
    fn contains(&self, u: f32, v: f32) -> bool {
        let r2 = u * u + v * v;
        match self.outline {
            Outline::Circle => r2 <= 0.85 * 0.85,
            Outline::Ring => (0.55 * 0.55..=0.95 * 0.95).contains(&r2),
            Outline::Cross => (u.abs() <= 0.27 && v.abs() <= 0.95) || (v.abs() <= 0.27 && u.abs() <= 0.95),
            Outline::Crescent => r2 <= 0.9 * 0.9 && (u - 0.4).powi(2) + v * v > 0.7 * 0.7,
            Outline::Semicircle => r2 <= 0.95 * 0.95 && v >= 0.0,
            Outline::Polygon => inside_polygon(&self.corners, u, v),
        }
    }
}
// ANCHOR_END: shape

/// One generated image: CHW bytes, label, box, keypoints.
type Rendered = (Vec<u8>, usize, BBox, Vec<[f32; 2]>);

/// Generates `count` images with labels, boxes and keypoints.
pub fn generate(cfg: &ShapesConfig, count: usize, seed: u64) -> Dataset {
    generate_images(cfg, &(0..count).collect::<Vec<_>>(), seed)
}

/// Images `indices` of the dataset [`generate`] would make (image i depends
/// only on the seed and i), in that order: a run that uses a few images
/// generates only those.
pub fn generate_images(cfg: &ShapesConfig, indices: &[usize], seed: u64) -> Dataset {
    let classes: Vec<&'static str> = if cfg.binary { BINARY_CLASSES.to_vec() } else { CLASSES.to_vec() };
    let shapes: Vec<Shape> = classes.iter().map(|&c| Shape::new(c)).collect();
    let rendered: Vec<Rendered> = indices
        .par_iter()
        .with_min_len(64)
        .map(|&i| {
            let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64);
            let label = rng.random_range(0..shapes.len());
            let (pixels, bbox, keypoints) = render(cfg, &shapes[label], &mut rng);
            (pixels, label, bbox, keypoints)
        })
        .collect();
    let mut data = Dataset {
        classes: classes.iter().map(|c| c.to_string()).collect(),
        shape: [3, cfg.size, cfg.size],
        ..Dataset::default()
    };
    for (pixels, label, bbox, keypoints) in rendered {
        data.images.extend_from_slice(&pixels);
        data.labels.push(label);
        data.boxes.push(bbox);
        data.keypoints.push(keypoints);
    }
    data
}

/// A random saturated colour whose brightness contrasts with `background` (0–255 grey).
pub(super) fn contrasting_colour(background: f32, rng: &mut StdRng) -> [f32; 3] {
    let hue = rng.random::<f32>() * 6.0;
    let bright = background < 128.0;
    let (hi, lo) = if bright { (255.0, rng.random_range(90.0..160.0)) } else { (rng.random_range(60.0..120.0), 0.0) };
    let f = hue.fract();
    let mix = lo + (hi - lo) * f;
    let fall = hi - (hi - lo) * f;
    match hue as usize {
        0 => [hi, mix, lo],
        1 => [fall, hi, lo],
        2 => [lo, hi, mix],
        3 => [lo, fall, hi],
        4 => [mix, lo, hi],
        _ => [hi, lo, fall],
    }
}

/// A random colour with a linear gradient across an `s`×`s` image (CHW,
/// 0–255 as f32), and the colour's mean grey level.
pub(super) fn background(s: usize, rng: &mut StdRng) -> (Vec<f32>, f32) {
    let sf = s as f32;
    let base: [f32; 3] = std::array::from_fn(|_| rng.random_range(40.0..215.0));
    let slope: [f32; 3] = std::array::from_fn(|_| rng.random_range(-50.0..50.0));
    let (dir_sin, dir_cos) = (rng.random::<f32>() * 2.0 * PI).sin_cos();
    let mut img = vec![0f32; 3 * s * s];
    for y in 0..s {
        for x in 0..s {
            let t = ((x as f32 / sf - 0.5) * dir_cos + (y as f32 / sf - 0.5) * dir_sin) * 2.0;
            (0..3).for_each(|c| img[c * s * s + y * s + x] = base[c] + slope[c] * t);
        }
    }
    (img, base.iter().sum::<f32>() / 3.0)
}

// ANCHOR: render
/// Draws one image: background gradient, distractors, the object (2×2
/// supersampled), noise. Returns CHW bytes, the object's box and keypoints.
fn render(cfg: &ShapesConfig, shape: &Shape, rng: &mut StdRng) -> (Vec<u8>, BBox, Vec<[f32; 2]>) {
    let s = cfg.size;
    let sf = s as f32;
    let (mut img, grey) = background(s, rng);
    draw_distractors(cfg, &mut img, rng);
    // the object: position, size, rotation, colour
    let radius = rng.random_range(0.2 * sf..0.32 * sf);
    let (cx, cy) = (rng.random_range(radius..sf - radius), rng.random_range(radius..sf - radius));
    let angle = rng.random::<f32>() * 2.0 * PI;
    let (sin, cos) = angle.sin_cos();
    let colour = contrasting_colour(grey, rng);
    let to_frame = |px: f32, py: f32| {
        let (dx, dy) = ((px - cx) / radius, (py - cy) / radius);
        (cos * dx + sin * dy, -sin * dx + cos * dy)
    };
    let (mut x0, mut y0, mut x1, mut y1) = (s, s, 0, 0);
    // only pixels within the circle that circumscribes the shape can be covered
    let span = |c: f32| (c - radius - 1.0).max(0.0) as usize..((c + radius + 1.0).ceil() as usize).min(s);
    for y in span(cy) {
        for x in span(cx) {
            let hits = [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)]
                .iter()
                .filter(|(ox, oy)| {
                    let (u, v) = to_frame(x as f32 + ox, y as f32 + oy);
                    shape.contains(u, v)
                })
                .count();
            let cover = hits as f32 / 4.0;
            if cover > 0.0 {
                (0..3).for_each(|c| {
                    let p = &mut img[c * s * s + y * s + x];
                    *p = (1.0 - cover) * *p + cover * colour[c];
                });
            }
            if cover >= 0.5 {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x + 1), y1.max(y + 1));
            }
        }
    }
    let bbox = BBox { x0: x0 as f32, y0: y0 as f32, x1: x1 as f32, y1: y1 as f32 };
    let keypoints = shape
        .keypoints
        .iter()
        .map(|&[u, v]| [cx + radius * (cos * u - sin * v), cy + radius * (sin * u + cos * v)])
        .collect();
    let bytes = img.iter().map(|&v| (v + cfg.noise * noise(rng)).round().clamp(0.0, 255.0) as u8).collect();
    (bytes, bbox, keypoints)
}
// ANCHOR_END: render

/// Approximately N(0, 1) pixel noise: the sum of four uniforms, rescaled
/// (Irwin–Hall; cheap, and the exact tails do not matter for noise).
pub(super) fn noise(rng: &mut StdRng) -> f32 {
    let sum: f32 = (0..4).map(|_| rng.random::<f32>()).sum();
    (sum - 2.0) * 3f32.sqrt()
}

/// Thin random strokes and small dots in random colours: clutter without class information.
pub(super) fn draw_distractors(cfg: &ShapesConfig, img: &mut [f32], rng: &mut StdRng) {
    let s = cfg.size;
    let sf = s as f32;
    let paint = |img: &mut [f32], x: f32, y: f32, colour: &[f32; 3], alpha: f32| {
        let (xi, yi) = (x.floor() as isize, y.floor() as isize);
        if xi >= 0 && yi >= 0 && (xi as usize) < s && (yi as usize) < s {
            let at = yi as usize * s + xi as usize;
            (0..3).for_each(|c| img[c * s * s + at] = (1.0 - alpha) * img[c * s * s + at] + alpha * colour[c]);
        }
    };
    for _ in 0..rng.random_range(1..=cfg.strokes.max(1)) {
        let colour: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.0..255.0));
        let (x, y) = (rng.random_range(0.0..sf), rng.random_range(0.0..sf));
        let (a, len) = (rng.random::<f32>() * 2.0 * PI, rng.random_range(0.3 * sf..0.9 * sf));
        let steps = (len * 2.0) as usize;
        for k in 0..steps {
            let t = k as f32 / 2.0;
            paint(img, x + t * a.cos(), y + t * a.sin(), &colour, 0.7);
        }
    }
    for _ in 0..rng.random_range(2..8) {
        let colour: [f32; 3] = std::array::from_fn(|_| rng.random_range(0.0..255.0));
        let (x, y) = (rng.random_range(0.0..sf), rng.random_range(0.0..sf));
        for (dx, dy) in [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)] {
            paint(img, x + dx, y + dy, &colour, 0.8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_per_image_and_boxes_hold_the_object() {
        let cfg = ShapesConfig::default();
        let a = generate(&cfg, 50, 7);
        let b = generate(&cfg, 20, 7);
        assert_eq!(&a.images[..b.images.len()], &b.images[..]);
        assert_eq!(&a.labels[..20], &b.labels[..]);
        for (bbox, kps) in a.boxes.iter().zip(&a.keypoints) {
            assert!(bbox.area() >= 25.0, "object too small: {bbox:?}");
            assert!(bbox.x1 <= 32.0 && bbox.y1 <= 32.0);
            for &[x, y] in kps {
                assert!(x >= bbox.x0 - 2.0 && x <= bbox.x1 + 2.0 && y >= bbox.y0 - 2.0 && y <= bbox.y1 + 2.0);
            }
        }
        assert_ne!(generate(&cfg, 5, 8).images, generate(&cfg, 5, 7).images);
    }

    #[test]
    fn classes_are_balanced_and_binary_has_two() {
        let d = generate(&ShapesConfig::default(), 2000, 1);
        assert!(d.class_counts().iter().all(|&c| (150..250).contains(&c)), "{:?}", d.class_counts());
        let b = generate(&ShapesConfig { binary: true, ..ShapesConfig::default() }, 100, 1);
        assert_eq!(b.classes, ["circle", "square"]);
    }
}
