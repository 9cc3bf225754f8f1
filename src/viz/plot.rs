//! Line plots as PNG: loss and accuracy curves, ROC curves, error-versus-step plots.

use super::Canvas;
use image::{Rgb, RgbImage};

/// Colour-blind-safe series colours (Okabe & Ito).
pub const PALETTE: [Rgb<u8>; 7] = [
    Rgb([0, 114, 178]),
    Rgb([213, 94, 0]),
    Rgb([0, 158, 115]),
    Rgb([204, 121, 167]),
    Rgb([230, 159, 0]),
    Rgb([86, 180, 233]),
    Rgb([0, 0, 0]),
];

/// One labelled curve.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points, drawn in order.
    pub points: Vec<(f64, f64)>,
}

/// A line plot with axes, ticks, labels and a legend.
#[derive(Clone, Debug)]
pub struct LinePlot {
    /// Title above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// The curves, coloured from [`PALETTE`] in order.
    pub series: Vec<Series>,
    /// Logarithmic horizontal axis.
    pub log_x: bool,
    /// Logarithmic vertical axis.
    pub log_y: bool,
    /// Fixed vertical range (otherwise fitted to the data).
    pub y_range: Option<(f64, f64)>,
}

/// Maps data coordinates to pixels inside the plot frame.
struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    fn fit(values: impl Iterator<Item = f64>, log: bool, fixed: Option<(f64, f64)>) -> Self {
        let t = |v: f64| if log { v.log10() } else { v };
        let (mut lo, mut hi) = fixed.map(|(a, b)| (t(a), t(b))).unwrap_or_else(|| {
            let ok = values.filter(|v| v.is_finite() && (!log || *v > 0.0)).map(t);
            ok.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)))
        });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo < 1e-12 {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        } else if fixed.is_none() && !log {
            let pad = 0.04 * (hi - lo); // keep curves off the frame
            (lo, hi) = (lo - pad, hi + pad);
        }
        Axis { lo, hi, log }
    }

    /// Position in [0, 1] of a data value.
    fn unit(&self, v: f64) -> f64 {
        let v = if self.log { v.log10() } else { v };
        (v - self.lo) / (self.hi - self.lo)
    }

    /// Tick values: decades on a log axis, 1-2-5 steps on a linear one.
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            return (self.lo.ceil() as i32..=self.hi.floor() as i32).map(|k| 10f64.powi(k)).collect();
        }
        let raw = (self.hi - self.lo) / 6.0;
        let mag = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
        let first = (self.lo / step).ceil() as i64;
        let last = (self.hi / step).floor() as i64;
        (first..=last).map(|k| k as f64 * step).collect()
    }
}

/// A tick label: short, in scientific notation when very large or small.
fn tick_label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e4 || v.abs() < 1e-2 {
        format!("1e{}", v.abs().log10().round() as i32).replace("1e", if v < 0.0 { "-1e" } else { "1e" })
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

impl LinePlot {
    /// A linear plot with no series yet.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        LinePlot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: vec![],
            log_x: false,
            log_y: false,
            y_range: None,
        }
    }

    /// Adds a curve (builder style).
    pub fn with(mut self, label: &str, points: Vec<(f64, f64)>) -> Self {
        self.series.push(Series { label: label.into(), points });
        self
    }

    // ANCHOR: render
    /// Draws the plot on a `width × height` canvas.
    pub fn render(&self, width: u32, height: u32) -> RgbImage {
        let mut c = Canvas::new(width, height);
        let (left, right, top, bottom) = (72, 16, 46, 48);
        let (pw, ph) = (width as i32 - left - right, height as i32 - top - bottom);
        let all = || self.series.iter().flat_map(|s| s.points.iter());
        let ax = Axis::fit(all().map(|p| p.0), self.log_x, None);
        let ay = Axis::fit(all().map(|p| p.1), self.log_y, self.y_range);
        let to_px = |x: f64, y: f64| {
            (left + (ax.unit(x) * pw as f64).round() as i32, top + ph - (ay.unit(y) * ph as f64).round() as i32)
        };
        let (grey, black) = (Rgb([225, 225, 225]), Rgb([0, 0, 0]));
        for t in ax.ticks() {
            let (x, _) = to_px(t, if ay.log { 10f64.powf(ay.lo) } else { ay.lo });
            c.line((x, top), (x, top + ph), 1, grey);
            let label = tick_label(t);
            c.text(x - Canvas::text_width(&label, 1) / 2, top + ph + 6, &label, 1, black);
        }
        for t in ay.ticks() {
            let (_, y) = to_px(if ax.log { 10f64.powf(ax.lo) } else { ax.lo }, t);
            c.line((left, y), (left + pw, y), 1, grey);
            let label = tick_label(t);
            c.text(left - 6 - Canvas::text_width(&label, 1), y - 4, &label, 1, black);
        }
        c.rect(left, top, pw, ph, 1, black);
        let mut all_pixels = Vec::new();
        for (series, color) in self.series.iter().zip(PALETTE.iter().cycle()) {
            let visible = series
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (!ax.log || *x > 0.0) && (!ay.log || *y > 0.0));
            let pixels: Vec<(i32, i32)> = visible.map(|&(x, y)| to_px(x, y)).collect();
            for pair in pixels.windows(2) {
                c.line(pair[0], pair[1], 2, *color);
            }
            if let [only] = pixels[..] {
                c.fill_rect(only.0 - 3, only.1 - 3, 7, 7, *color);
            }
            all_pixels.push(pixels);
        }
        self.draw_labels(&mut c, (left, top, pw, ph), &all_pixels);
        c.image
    }
    // ANCHOR_END: render

    /// Title, axis labels and the legend.
    fn draw_labels(&self, c: &mut Canvas, (left, top, pw, ph): (i32, i32, i32, i32), pixels: &[Vec<(i32, i32)>]) {
        let black = Rgb([0, 0, 0]);
        let scale = if Canvas::text_width(&self.title, 2) <= pw { 2 } else { 1 };
        c.text(left + (pw - Canvas::text_width(&self.title, scale)) / 2, 6, &self.title, scale, black);
        c.text(left + (pw - Canvas::text_width(&self.x_label, 1)) / 2, top + ph + 26, &self.x_label, 1, black);
        c.text(4, top - 14, &self.y_label, 1, black);
        if self.series.len() < 2 {
            return;
        }
        let (w, h) = (
            self.series.iter().map(|s| Canvas::text_width(&s.label, 1)).max().unwrap_or(0) + 32,
            14 * self.series.len() as i32 + 6,
        );
        // the corner whose box covers the fewest points of the curves
        let corners = [
            (left + pw - w - 4, top + 4),
            (left + pw - w - 4, top + ph - h - 4),
            (left + 4, top + 4),
            (left + 4, top + ph - h - 4),
        ];
        let covered = |&(x, y): &(i32, i32)| {
            pixels
                .iter()
                .flat_map(|s| s.windows(2))
                .filter(|seg| {
                    (0..=8).any(|k| {
                        let (px, py) =
                            (seg[0].0 + (seg[1].0 - seg[0].0) * k / 8, seg[0].1 + (seg[1].1 - seg[0].1) * k / 8);
                        px >= x && px <= x + w && py >= y && py <= y + h
                    })
                })
                .count()
        };
        let (lx, ly) = corners.iter().copied().min_by_key(covered).unwrap_or(corners[0]);
        c.fill_rect(lx, ly, w, h, Rgb([255, 255, 255]));
        c.rect(lx, ly, w, h, 1, Rgb([200, 200, 200]));
        for (k, (series, color)) in self.series.iter().zip(PALETTE.iter().cycle()).enumerate() {
            let y = ly + 6 + 14 * k as i32;
            c.line((lx + 4, y + 4), (lx + 22, y + 4), 2, *color);
            c.text(lx + 28, y, &series.label, 1, black);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        let a = Axis::fit([0.0, 0.93].into_iter(), false, None);
        assert_eq!(a.ticks(), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8]);
        let l = Axis::fit([1e-9, 1e-1].into_iter(), true, None);
        assert_eq!(l.ticks().len(), 9);
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(1e-5), "1e-5");
    }

    #[test]
    fn plot_renders_curves_in_colour() {
        let img = LinePlot::new("t", "x", "y").with("a", vec![(0.0, 0.0), (1.0, 1.0)]).render(200, 150);
        assert!(img.pixels().any(|p| *p == PALETTE[0]));
    }
}
