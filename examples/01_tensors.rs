//! Chapter "Tensors and broadcasting": shapes, broadcasting, reductions and views.
//!
//! Run: cargo run --release --example 01_tensors

use cnnlab::Tensor;

fn main() {
    // a batch of 2 "images" with 3 channels of 2x2 pixels, NCHW
    let images = Tensor::<f32>::from_vec((0..24).map(|v| v as f32).collect(), &[2, 3, 2, 2]);
    // ANCHOR: broadcast
    // one bias per channel, shaped [1, C, 1, 1] so it lines up with axis 1
    let bias = Tensor::from_vec(vec![100.0, 200.0, 300.0], &[1, 3, 1, 1]);
    let shifted = images.add(&bias); // [2, 3, 2, 2] + [1, 3, 1, 1] -> [2, 3, 2, 2]
                                     // ANCHOR_END: broadcast
    println!("images {:?} + bias {:?} = {:?}", images.shape(), bias.shape(), shifted.shape());
    println!("first image, channel 1: {:?}", shifted.narrow(0, 0, 1).narrow(1, 1, 1).data());

    // ANCHOR: reduce
    // per-channel mean over batch and pixels: the statistic BatchNorm needs
    let channel_mean = images.mean_axes(&[0, 2, 3], false); // [3]
                                                            // ANCHOR_END: reduce
    println!("per-channel mean: {:?}", channel_mean.data());

    // an outer product by broadcasting a column against a row
    let col = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]);
    let row = Tensor::from_vec(vec![10.0, 20.0], &[1, 2]);
    println!("outer product [3,1]*[1,2] = {:?} {:?}", col.mul(&row).shape(), col.mul(&row).data());

    // NCHW -> NHWC is a permutation of axes; the values move, the data stay the same
    let nhwc = images.permute(&[0, 2, 3, 1]);
    println!("NHWC shape {:?}, first pixel's channels {:?}", nhwc.shape(), &nhwc.data()[..3]);
    println!("matmul [2,3]x[3,2]: {:?}", Tensor::<f32>::ones(&[2, 3]).matmul(&Tensor::ones(&[3, 2])).data());
}
