//! Pictures of regressed boxes and skeletons drawn over their images.

use super::targets;
use crate::data::poses::BONES;
use crate::data::Dataset;
use crate::viz::heatmap::image_from_chw;
use crate::viz::{draw_box, labelled_row, Canvas};
use image::{imageops, Rgb, RgbImage};

/// Colours: the truth, the prediction, and a skeleton's right and left sides.
pub const TRUTH: Rgb<u8> = Rgb([40, 200, 60]);
/// The regressed box.
pub const PREDICTED: Rgb<u8> = Rgb([230, 40, 40]);
const RIGHT: Rgb<u8> = Rgb([230, 60, 40]);
const LEFT: Rgb<u8> = Rgb([40, 110, 240]);

/// Test image `i` of `data` enlarged `scale` times.
fn enlarged(data: &Dataset, i: usize, scale: u32) -> RgbImage {
    let img = image_from_chw(data.image(i), data.shape);
    imageops::resize(&img, img.width() * scale, img.height() * scale, imageops::FilterType::Nearest)
}

/// Images `indices` with their true box (green) and regressed box (red), captioned with the IoU.
pub fn boxes_row(data: &Dataset, outputs: &[Vec<f32>], indices: &[usize], scale: u32) -> RgbImage {
    let [_, h, w] = data.shape;
    let panels: Vec<(RgbImage, String)> = indices
        .iter()
        .map(|&i| {
            let mut img = enlarged(data, i, scale);
            let o = &outputs[i];
            let predicted = targets::box_from(&o[o.len() - 4..], [h, w]);
            draw_box(&mut img, &data.boxes[i], scale as f32, TRUTH);
            draw_box(&mut img, &predicted, scale as f32, PREDICTED);
            (img, format!("IoU {:.2}", predicted.iou(&data.boxes[i])))
        })
        .collect();
    labelled_row(&panels.iter().map(|(i, c)| (i, c.as_str())).collect::<Vec<_>>(), 6)
}

/// Images `indices` with their regressed skeletons (person's right red, left
/// blue), captioned with how many joints are within PCK@0.2; a second row
/// shows the true skeletons.
pub fn skeletons_rows(data: &Dataset, outputs: &[Vec<f32>], indices: &[usize], scale: u32) -> RgbImage {
    let [_, h, w] = data.shape;
    let row = |truth: bool| {
        let panels: Vec<(RgbImage, String)> = indices
            .iter()
            .map(|&i| {
                let real = &data.keypoints[i];
                let joints = if truth { real.clone() } else { targets::joints_from(&outputs[i], [h, w]) };
                let mut canvas = Canvas { image: enlarged(data, i, scale) };
                draw_skeleton(&mut canvas, &joints, scale as f32);
                let hits = super::metrics::joints_within(&joints, real, 0.2, super::metrics::torso_diameter(real));
                let caption = if truth { "truth".to_string() } else { format!("{hits}/14 joints") };
                (canvas.image, caption)
            })
            .collect();
        labelled_row(&panels.iter().map(|(i, c)| (i, c.as_str())).collect::<Vec<_>>(), 6)
    };
    let (predicted, truth) = (row(false), row(true));
    let mut out = RgbImage::from_pixel(predicted.width(), predicted.height() + truth.height(), Rgb([255, 255, 255]));
    imageops::replace(&mut out, &predicted, 0, 0);
    imageops::replace(&mut out, &truth, 0, predicted.height() as i64);
    out
}

/// Draws the bones of a 14-joint skeleton (pixels × `scale`) and a dot per joint.
pub fn draw_skeleton(canvas: &mut Canvas, joints: &[[f32; 2]], scale: f32) {
    let at = |j: usize| ((joints[j][0] * scale) as i32, (joints[j][1] * scale) as i32);
    // joints 0–2 and 6–8 are the person's right
    let side = |j: usize| if matches!(j, 0..=2 | 6..=8) { RIGHT } else { LEFT };
    for &(a, b) in BONES.iter().chain(&[(9, 12), (12, 13)]) {
        canvas.line(at(a), at(b), 1, if side(a) == side(b) { side(a) } else { Rgb([250, 250, 250]) });
    }
    for j in 0..joints.len() {
        let (x, y) = at(j);
        canvas.fill_rect(x - 1, y - 1, 3, 3, side(j));
    }
}
