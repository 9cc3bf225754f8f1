//! Perception visualization: SSIM (closed forms, gradient check), the
//! composition, the decoder's shape, the frozen encoder, resume, and refusing
//! a decoder for another classifier.

mod common;
use cnnlab::data::{self, Dataset};
use cnnlab::models::{Arch, Model};
use cnnlab::nn::{state_tensors, Module};
use cnnlab::perceive::ssim::{psnr_per_image, ssim, ssim_per_image, SsimWindow, C1};
use cnnlab::perceive::train::{train, Decoder, Outcome, PerceiveConfig};
use cnnlab::perceive::{compose, DecoderSpec, LossWeights, Upsampling};
use cnnlab::train::load_for_inference;
use cnnlab::{no_grad, Tensor};
use common::{check, cli, scratch, tiny_run};
use proptest::prelude::*;
use std::path::Path;
use std::sync::atomic::AtomicBool;

fn uniform(shape: &[usize], seed: u64) -> Tensor<f64> {
    common::tensor(shape, seed, 1.0).mul_scalar(0.5).add_scalar(0.5)
}

#[test]
fn ssim_of_an_image_with_itself_is_one() {
    let x = uniform(&[2, 3, 16, 16], 1);
    assert!((ssim(&x, &x, SsimWindow::default()).item() - 1.0).abs() < 1e-12);
    let y = uniform(&[2, 3, 16, 16], 2);
    let s = ssim(&x, &y, SsimWindow::default()).item();
    assert!(s < 0.5, "two independent noise images: SSIM {s}");
    let symmetric = ssim(&y, &x, SsimWindow::default()).item();
    assert!((s - symmetric).abs() < 1e-12);
}

/// Two flat images a and b have no variance, so the structure factor is
/// C₂/C₂ = 1 and SSIM = (2ab + C₁)/(a² + b² + C₁).
#[test]
fn ssim_of_two_flat_images_is_the_luminance_term() {
    let (a, b) = (0.2, 0.7);
    let x = Tensor::<f64>::full(&[1, 1, 12, 12], a);
    let y = Tensor::<f64>::full(&[1, 1, 12, 12], b);
    let expected = (2.0 * a * b + C1) / (a * a + b * b + C1);
    assert!((ssim(&x, &y, SsimWindow::default()).item() - expected).abs() < 1e-9);
}

#[test]
fn psnr_by_hand() {
    // every pixel off by 0.1: MSE 0.01, PSNR 20 dB
    let x = Tensor::full(&[1, 3, 4, 4], 0.5f32);
    let y = Tensor::full(&[1, 3, 4, 4], 0.6f32);
    assert!((psnr_per_image(&x, &y)[0] - 20.0).abs() < 1e-3);
    assert!(ssim_per_image(&x, &x, SsimWindow::default())[0] > 0.9999);
}

#[test]
fn gaussian_taps_sum_to_one_and_peak_in_the_middle() {
    let taps = SsimWindow::default().taps();
    assert_eq!(taps.len(), 11);
    assert!((taps.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(taps[5] > taps[4] && (taps[4] - taps[6]).abs() < 1e-15);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// SSIM as a whole (blurs, products, the quotient) against finite differences, in both images.
    #[test]
    fn gradcheck_ssim(n in 1usize..=2, c in 1usize..=3, h in 3usize..=9, w in 3usize..=9, size in 1usize..=4, seed in any::<u64>()) {
        let window = SsimWindow { size: 2 * size + 1, sigma: 1.5 };
        let inputs = [uniform(&[n, c, h, w], seed), uniform(&[n, c, h, w], seed ^ 1)];
        check(|t| ssim(&t[0], &t[1], window), &inputs, seed);
    }
}

#[test]
fn composition_shows_the_reconstruction_where_the_mask_is_one_and_white_where_zero() {
    // two channels of a 1×3 image; mask 1, 0.5, 0
    let recon = [0.2, 0.4, 0.6, 0.0, 1.0, 0.5];
    let pv = compose(&recon, &[1.0, 0.5, 0.0]);
    assert_eq!(pv, vec![0.2, 0.7, 1.0, 0.0, 1.0, 1.0]);
}

#[test]
fn decoder_blocks_and_widths_follow_the_encoder() {
    let spec = DecoderSpec::new([128, 8, 8], [3, 32, 32], Upsampling::Transposed).unwrap();
    assert_eq!((spec.blocks(), spec.widths()), (2, vec![64, 32]));
    let spec = DecoderSpec::new([64, 8, 8], [3, 32, 32], Upsampling::Nearest).unwrap();
    assert_eq!(spec.widths(), vec![32, 16]);
    let spec = DecoderSpec::new([32, 32, 32], [3, 32, 32], Upsampling::Bilinear).unwrap();
    assert_eq!(spec.blocks(), 0);
    let err = DecoderSpec::new([32, 12, 12], [3, 32, 32], Upsampling::Transposed).unwrap_err();
    assert!(err.message.contains("12x12") && err.message.contains("power-of-two"), "{}", err.message);
    for up in [Upsampling::Transposed, Upsampling::Nearest, Upsampling::Bilinear] {
        let mut net = DecoderSpec::new([128, 8, 8], [3, 32, 32], up).unwrap().build(0);
        let y = no_grad(|| net.forward(&Tensor::ones(&[2, 128, 8, 8])));
        assert_eq!(y.shape(), [2, 3, 32, 32], "{up}");
        assert!(y.data().iter().all(|&v| v > 0.0 && v < 1.0), "{up}: the sigmoid keeps pixels in (0, 1)");
    }
}

/// The first `n` images of a split.
fn first(data: &Dataset, n: usize) -> Dataset {
    data.select(&(0..n).collect::<Vec<_>>())
}

fn config(classifier: &Path, feature: f64) -> PerceiveConfig {
    PerceiveConfig {
        classifier: classifier.to_path_buf(),
        data: "shapes".into(),
        layer: "19".into(),
        upsampling: Upsampling::Transposed,
        epochs: 2,
        batch: 16,
        lr: 1e-3,
        loss_weights: LossWeights { feature, ..LossWeights::default() },
        seed: 3,
        limit: Some(48),
    }
}

fn parameters_of(model: &mut dyn Module) -> Vec<(String, Vec<f32>)> {
    state_tensors(model).into_iter().map(|(n, t, _)| (n, t.to_vec())).collect()
}

/// The encoder is frozen: training a decoder — with the feature loss, whose
/// gradient passes through the classifier — changes neither its parameters
/// and buffers nor its predictions, bit for bit; an interrupted and resumed
/// training ends with the same decoder as one in a single piece.
#[test]
fn the_encoder_stays_frozen_and_resume_is_exact() {
    let dir = scratch("perceive-frozen");
    let run = tiny_run(&dir, "smallcnn");
    let (mut model, meta, checkpoint) = load_for_inference(Path::new(&run), false).unwrap();
    let splits = data::load(&"shapes".parse().unwrap(), 0).unwrap();
    let (train_split, test_split) = (first(&splits.train, 48), first(&splits.test, 40));
    let (x, _) = cnnlab::data::batches::make_batch(&test_split, &[0, 1, 2], &meta.preprocessing, None);
    let logits = |m: &mut Model| {
        m.set_training(false);
        no_grad(|| m.forward(&x)).to_vec()
    };
    let (before, logits_before) = (parameters_of(&mut model), logits(&mut model));
    let cfg = config(&checkpoint, 0.5);
    let whole = dir.join("whole");
    let outcome = train(&cfg, (&mut model, &meta), (&train_split, &test_split), &whole, false, &AtomicBool::new(false));
    assert_eq!(outcome.unwrap(), Outcome::Finished);
    assert!(parameters_of(&mut model) == before, "decoder training changed the classifier");
    assert!(logits(&mut model) == logits_before, "decoder training changed the classifier's predictions");

    let pieces = dir.join("pieces");
    let stop = AtomicBool::new(true); // stops after the first step
    let split_data = (&train_split, &test_split);
    assert_eq!(train(&cfg, (&mut model, &meta), split_data, &pieces, false, &stop).unwrap(), Outcome::Interrupted);
    let resumed = train(&cfg, (&mut model, &meta), split_data, &pieces, true, &AtomicBool::new(false));
    assert_eq!(resumed.unwrap(), Outcome::Finished);
    let (mut a, _) = Decoder::load(&whole).unwrap();
    let (mut b, progress) = Decoder::load(&pieces).unwrap();
    assert_eq!(progress.epoch, 2);
    assert!(parameters_of(&mut a.net) == parameters_of(&mut b.net), "the resumed decoder differs");
    let metrics = std::fs::read_to_string(pieces.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2);
    assert!(pieces.join("curves.png").exists() && pieces.join("quality.json").exists());
}

/// A decoder belongs to the classifier whose features it learned: another
/// architecture, or the same one with other weights, is refused by name.
#[test]
fn a_decoder_for_one_classifier_is_refused_for_another() {
    let dir = scratch("perceive-refuse");
    let run = tiny_run(&dir, "smallcnn");
    let (mut model, _, checkpoint) = load_for_inference(Path::new(&run), false).unwrap();
    let decoder = Decoder::new(&mut model, "19", Upsampling::Nearest, 0).unwrap();
    let file = dir.join("decoder.safetensors");
    decoder.check_classifier(&file, &mut model).unwrap();
    let mut resnet = Model::new(Arch::ResNet20, 10, [3, 32, 32], 0).unwrap();
    let err = decoder.check_classifier(&file, &mut resnet).unwrap_err();
    assert!(err.to_string().contains("trained on a smallcnn classifier, not a resnet20"), "{err}");
    let mut other = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 99).unwrap();
    let err = decoder.check_classifier(&file, &mut other).unwrap_err();
    assert!(err.to_string().contains("features of another smallcnn"), "{err}");

    // the same through the command line, with a decoder trained for the run
    let out = dir.join("decoder");
    let out_s = out.to_str().unwrap();
    let args = ["perceive", "train", "--run", &run, "--epochs", "1", "--limit", "32", "--batch", "16", "--out", out_s];
    let (code, _, stderr) = cli(&args);
    assert_eq!(code, 0, "{stderr}");
    let other_run = tiny_run(&dir, "resnet20");
    let (code, _, stderr) = cli(&["perceive", "show", "--run", &other_run, "--decoder", out_s, "--index", "0"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("last.safetensors") && stderr.contains("not a resnet20"), "{stderr}");
    let (code, _, stderr) = cli(&["perceive", "show", "--run", &run, "--decoder", &checkpoint.to_string_lossy()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("not a perception decoder"), "{stderr}");
    let show_out = dir.join("show");
    let show = ["perceive", "show", "--run", &run, "--decoder", out_s, "--misclassified", "3"];
    let (code, stdout, stderr) = cli(&[&show[..], &["--out", show_out.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("misclassified") && show_out.join("perception-misclassified.png").exists());
}

#[test]
fn bad_flags_are_named() {
    let (code, _, stderr) = cli(&["perceive", "train", "--run", "x", "--out", "y", "--loss-weights", "mse=1,foo=2"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("'foo=2' is not NAME=WEIGHT"), "{stderr}");
    let (code, _, stderr) = cli(&["perceive", "train", "--run", "x", "--out", "y", "--upsample", "cubic"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--upsample cubic: choose transposed, nearest or bilinear"), "{stderr}");
    let (code, _, stderr) = cli(&["perceive", "train", "--run", "/nonexistent/run", "--out", "/tmp/cnnlab-never"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("/nonexistent/run"), "{stderr}");
}
