//! Chapter "Convolution and pooling": hand-made filters on a synthetic image.
//!
//! Run: cargo run --release --example 03_convolution [-- --book]
//! Writes convolution.png to target/figures (book/src/figures with --book).

use cnnlab::io::figures_dir;
use cnnlab::viz::{gray_image, labelled_row};
use cnnlab::{Conv2dConfig, Pool2dConfig, Tensor};

/// A 48x48 grey image with a bright disc and a darker square.
fn scene() -> Tensor {
    let size = 48;
    let pixels = (0..size * size)
        .map(|i| {
            let (y, x) = ((i / size) as f32, (i % size) as f32);
            let disc = (x - 15.0).powi(2) + (y - 16.0).powi(2) < 100.0;
            let square = (26.0..42.0).contains(&x) && (24.0..40.0).contains(&y);
            if disc {
                1.0
            } else if square {
                0.5
            } else {
                0.1
            }
        })
        .collect();
    Tensor::from_vec(pixels, &[1, 1, size, size])
}

fn main() {
    let image = scene();
    // ANCHOR: filters
    // three 3x3 kernels in one OIHW weight: Sobel x, Sobel y, Laplacian
    #[rustfmt::skip]
    let kernels = Tensor::from_vec(vec![
        -1.0, 0.0, 1.0,   -2.0, 0.0, 2.0,   -1.0, 0.0, 1.0,
        -1.0, -2.0, -1.0,  0.0, 0.0, 0.0,    1.0, 2.0, 1.0,
         0.0, 1.0, 0.0,    1.0, -4.0, 1.0,   0.0, 1.0, 0.0,
    ], &[3, 1, 3, 3]);
    let edges = image.conv2d(&kernels, None, Conv2dConfig::default().padding(1)); // [1, 3, 48, 48]
    let magnitude = edges.narrow(1, 0, 2).pow(2.0).sum_axes(&[1], true).sqrt(); // |∇I|
    let pooled = magnitude.max_pool2d(Pool2dConfig::new(2)); // [1, 1, 24, 24]
    let strided = image.conv2d(&kernels.narrow(0, 0, 1), None, Conv2dConfig::default().padding(1).stride(2));
    // ANCHOR_END: filters
    println!(
        "input {:?} -> edges {:?} -> max-pooled {:?}; stride 2 gives {:?}",
        image.shape(),
        edges.shape(),
        pooled.shape(),
        strided.shape()
    );

    let plane = |t: &Tensor, c: usize| {
        let (_, _, h, w) = t.dims4("plane");
        gray_image(t.narrow(1, c, 1).data(), h, w, 96 / h as u32)
    };
    let panels = [
        (plane(&image, 0), "input"),
        (plane(&edges, 0), "Sobel x"),
        (plane(&edges, 1), "Sobel y"),
        (plane(&edges, 2), "Laplacian"),
        (plane(&magnitude, 0), "|gradient|"),
        (plane(&pooled, 0), "max-pool 2x2"),
        (plane(&strided, 0), "stride 2"),
    ];
    let refs: Vec<_> = panels.iter().map(|(i, c)| (i, *c)).collect();
    let out = figures_dir().join("convolution.png");
    cnnlab::io::save_png(&out, &labelled_row(&refs, 10)).expect("write figure");
    println!("wrote {}", out.display());
}
