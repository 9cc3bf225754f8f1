//! Saliency methods against their closed forms: CAM's identity with the scores, Grad-CAM = ReLU(CAM)/Z on GAP networks, Grad-CAM++ by hand, the super-resolution operators and solver.

use cnnlab::explain::augmented::{
    downsample, downsample_adjoint, total_variation, total_variation_subgradient, SuperResolution, Warp,
};
use cnnlab::explain::cam::{cam, cam_head, Pooling};
use cnnlab::explain::gradcam::{gradcam, gradcam_pp, gradcam_pp_weights, smooth_gradcam_pp, SmoothOptions};
use cnnlab::explain::rise::{masks, RiseOptions};
use cnnlab::explain::{explain, Map, Method, Options, Target};
use cnnlab::localize::box_from_map;
use cnnlab::models::{Arch, Model};
use cnnlab::nn::Module;
use cnnlab::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn batch(n: usize, seed: u64) -> Tensor {
    Tensor::randn(&[n, 3, 32, 32], &mut StdRng::seed_from_u64(seed))
}

fn model(arch: Arch) -> Model {
    Model::new(arch, 10, [3, 32, 32], 7).unwrap()
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn cam_mean_plus_bias_is_the_class_score() {
    for arch in [Arch::SmallCnn, Arch::ResNet20] {
        let mut m = model(arch);
        let x = batch(3, 1);
        let head = cam_head(&mut m).unwrap();
        assert_eq!(head.pooling, Pooling::Average);
        for class in 0..10 {
            let (maps, logits, targets) = cam(&mut m, &x, &Target::Class(class)).unwrap();
            assert_eq!(targets, vec![class; 3]);
            for (n, map) in maps.iter().enumerate() {
                let mean = map.values.iter().sum::<f32>() / map.values.len() as f32;
                let s_c = logits.data()[n * 10 + class];
                let b_c = head.bias.data()[class];
                assert!(
                    close(mean + b_c, s_c, 1e-4),
                    "{arch} class {class}: mean(M_c) + b_c = {} but S_c = {s_c}",
                    mean + b_c
                );
            }
        }
    }
}

#[test]
fn gradcam_on_a_gap_network_is_relu_cam_over_z() {
    for arch in [Arch::SmallCnn, Arch::ResNet20] {
        let mut m = model(arch);
        let x = batch(2, 2);
        for class in [0, 3, 9] {
            let (cams, _, _) = cam(&mut m, &x, &Target::Class(class)).unwrap();
            let (grads, _, _) = gradcam(&mut m, &x, arch.feature_layer(), &Target::Class(class)).unwrap();
            for (c, g) in cams.iter().zip(&grads) {
                let z = (c.height * c.width) as f32;
                let scale = c.values.iter().fold(0f32, |a, v| a.max(v.abs()));
                for (cv, gv) in c.values.iter().zip(&g.values) {
                    assert!(
                        (cv.max(0.0) / z - gv).abs() <= 1e-5 * scale,
                        "{arch}: ReLU(CAM)/Z {} vs Grad-CAM {gv}",
                        cv.max(0.0) / z
                    );
                }
            }
        }
    }
}

#[test]
fn gradcam_pp_weights_match_a_hand_computation() {
    // map 0: A = [1, 3] (Σ A = 4), g = [0.5, −1]:
    //   a_0 = 0.25 / (2·0.25 + 4·0.125) = 0.25, contributes 0.25 · ReLU(0.5) = 0.125; g = −1 contributes 0.
    // map 1: A = [2, 0] (Σ A = 2), g = [−1, 0]: the denominator 2·1 + 2·(−1) = 0 and g = 0 both give a = 0.
    // map 2: A = [1, 1] (Σ A = 2), g = [1, 2]: a = 1/(2+2) = 0.25 and 4/(8+16) = 1/6 → 0.25·1 + (1/6)·2.
    let a = [1.0, 3.0, 2.0, 0.0, 1.0, 1.0];
    let g = [0.5, -1.0, -1.0, 0.0, 1.0, 2.0];
    let g2: Vec<f32> = g.iter().map(|v| v * v).collect();
    let g3: Vec<f32> = g.iter().map(|v| v * v * v).collect();
    let w = gradcam_pp_weights(&a, &g, &g2, &g3, 2);
    let expected = [0.125, 0.0, 0.25 + 2.0 / 6.0];
    for (got, want) in w.iter().zip(expected) {
        assert!((got - want).abs() < 1e-6, "{w:?} vs {expected:?}");
    }
}

#[test]
fn gradcam_pp_on_a_gap_network_has_its_closed_form() {
    // With S_c = b_c + Σ_k w_k (1/Z) Σ A^k, g = w_k/Z everywhere on map k, so
    // a = 1/(2 + ΣA^k · w_k/Z) and the weight is Z · a · ReLU(w_k/Z) = ReLU(w_k)/(2 + ΣA^k·w_k/Z).
    let mut m = model(Arch::SmallCnn);
    let x = batch(2, 3);
    let head = cam_head(&mut m).unwrap();
    let class = 4;
    let (maps, _, _) = gradcam_pp(&mut m, &x, "19", &Target::Class(class)).unwrap();
    let mut feature_maps = None;
    m.set_training(false);
    cnnlab::no_grad(|| {
        m.forward_inspect(&x, "", &mut |name, y| {
            if name == "19" {
                feature_maps = Some(y.clone());
            }
            y
        })
    });
    let a = feature_maps.unwrap();
    let (_, k, h, w) = a.dims4("test");
    let z = (h * w) as f32;
    for (n, map) in maps.iter().enumerate() {
        let img = &a.data()[n * k * h * w..(n + 1) * k * h * w];
        let mut expected = vec![0f32; h * w];
        for (kk, a_k) in img.chunks_exact(h * w).enumerate() {
            let w_k = head.class_weights.data()[class * k + kk];
            let sum_a: f32 = a_k.iter().sum();
            let weight = w_k.max(0.0) / (2.0 + sum_a * w_k / z);
            expected.iter_mut().zip(a_k).for_each(|(e, &v)| *e += weight * v);
        }
        let scale = expected.iter().fold(0f32, |acc, v| acc.max(v.abs()));
        for (got, want) in map.values.iter().zip(&expected) {
            assert!((got - want.max(0.0)).abs() <= 1e-4 * scale, "Grad-CAM++ {got} vs closed form {want}");
        }
    }
}

#[test]
fn smooth_gradcam_pp_without_noise_is_gradcam_pp() {
    let mut m = model(Arch::SmallCnn);
    let x = batch(2, 4);
    let (plain, _, _) = gradcam_pp(&mut m, &x, "16", &Target::Top).unwrap();
    let opts = SmoothOptions { samples: 3, noise: 0.0, seed: 1 };
    let (smooth, _, _) = smooth_gradcam_pp(&mut m, &x, "16", &Target::Top, opts).unwrap();
    for (p, s) in plain.iter().zip(&smooth) {
        for (a, b) in p.values.iter().zip(&s.values) {
            assert!(close(*a, *b, 1e-5), "{a} vs {b}");
        }
    }
}

#[test]
fn cam_refuses_vgg_fc_and_gradcam_explains_it() {
    let mut m = model(Arch::VggFc);
    let x = batch(2, 5);
    let err = explain(&mut m, &x, Method::Cam, &Target::Top, &Options::default()).unwrap_err();
    assert!(err.message.contains("global pooling") && err.message.contains("gradcam"), "{}", err.message);
    let (maps, _, _) = explain(&mut m, &x, Method::GradCam, &Target::Top, &Options::default()).unwrap();
    assert_eq!((maps[0].height, maps[0].width), (8, 8)); // features.19, before the third pool
    assert!(maps.iter().all(|m| m.values.iter().all(|v| v.is_finite() && *v >= 0.0)));
}

#[test]
fn explaining_leaves_the_parameters_requiring_gradients() {
    let mut m = model(Arch::SmallCnn);
    explain(&mut m, &batch(1, 6), Method::GradCam, &Target::Top, &Options::default()).unwrap();
    assert!(cnnlab::nn::parameters(&mut m).iter().all(|(_, t)| t.requires_grad()));
}

#[test]
fn bad_layer_and_class_are_explained() {
    let mut m = model(Arch::SmallCnn);
    let x = batch(1, 7);
    let opts = Options { layer: Some("conv9".into()), ..Options::default() };
    let err = explain(&mut m, &x, Method::GradCam, &Target::Top, &opts).unwrap_err().message;
    assert!(err.contains("'conv9'") && err.contains("19 [128, 8, 8]") && err.contains("22 [10]"), "{err}");
    let opts = Options { layer: Some("22".into()), ..Options::default() };
    let err = explain(&mut m, &x, Method::GradCam, &Target::Top, &opts).unwrap_err().message;
    assert!(err.contains("not a stack of feature maps"), "{err}");
    let err = explain(&mut m, &x, Method::GradCam, &Target::Class(10), &Options::default()).unwrap_err().message;
    assert!(err.contains("--class 10") && err.contains("0..9"), "{err}");
    let opts = Options { layer: Some("16".into()), ..Options::default() };
    let err = explain(&mut m, &x, Method::Cam, &Target::Top, &opts).unwrap_err().message;
    assert!(err.contains("CAM") && err.contains("19"), "{err}");
}

#[test]
fn an_empty_map_is_defined() {
    let empty = Map::zeros(8, 8);
    let up = empty.upsample(32, 32).normalized();
    assert!(up.values.iter().all(|&v| v == 0.0));
    assert_eq!(box_from_map(&up, 0.2), None);
    let nan = Map::new(1, 2, vec![f32::NAN, 1.0]).normalized();
    assert!(nan.values.iter().all(|v| v.is_finite()));
}

#[test]
fn box_is_that_of_the_largest_component() {
    // a 3×3 blob and a brighter single pixel: the blob wins by area
    let mut values = vec![0f32; 10 * 10];
    for y in 2..5 {
        for x in 1..4 {
            values[y * 10 + x] = 0.5;
        }
    }
    values[8 * 10 + 8] = 1.0;
    let b = box_from_map(&Map::new(10, 10, values.clone()), 0.2).unwrap();
    assert_eq!((b.x0, b.y0, b.x1, b.y1), (1.0, 2.0, 4.0, 5.0));
    // above 60% only the single pixel survives
    let b = box_from_map(&Map::new(10, 10, values), 0.6).unwrap();
    assert_eq!((b.x0, b.y0, b.x1, b.y1), (8.0, 8.0, 9.0, 9.0));
}

fn random(n: usize, rng: &mut StdRng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (*x as f64) * (*y as f64)).sum()
}

#[test]
fn warp_and_downsampling_adjoints_are_transposes() {
    let mut rng = StdRng::seed_from_u64(8);
    for (deg, shift) in [(0.0, (0.0, 0.0)), (13.0, (2.5, -1.0)), (-40.0, (-3.0, 4.2))] {
        let warp = Warp::new(16, 12, deg, shift);
        let (h, v) = (random(16 * 12, &mut rng), random(16 * 12, &mut rng));
        let (lhs, rhs) = (dot(&warp.apply(&h), &v), dot(&h, &warp.adjoint(&v)));
        assert!((lhs - rhs).abs() < 1e-4 * (1.0 + lhs.abs()), "<Ah,v> {lhs} vs <h,Aᵀv> {rhs}");
    }
    let (h, g) = (random(16 * 12, &mut rng), random(4 * 3, &mut rng));
    let (lhs, rhs) = (dot(&downsample(&h, (16, 12), 4), &g), dot(&h, &downsample_adjoint(&g, (16, 12), 4)));
    assert!((lhs - rhs).abs() < 1e-5, "<Dh,g> {lhs} vs <h,Dᵀg> {rhs}");
    let identity = Warp::new(5, 5, 0.0, (0.0, 0.0));
    let h = random(25, &mut rng);
    assert_eq!(identity.apply(&h), h);
}

#[test]
fn tv_subgradient_is_its_gradient_away_from_ties() {
    // distinct values at least 0.1 apart: no difference is within ε of a tie
    let mut rng = StdRng::seed_from_u64(9);
    let mut ranks: Vec<usize> = (0..30).collect();
    rand::seq::SliceRandom::shuffle(&mut ranks[..], &mut rng);
    let h: Vec<f32> = ranks.iter().map(|&r| r as f32 * 0.1 + rng.random_range(0.0..0.02)).collect();
    let g = total_variation_subgradient(&h, (6, 5));
    let eps = 1e-3;
    for i in 0..h.len() {
        let (mut up, mut down) = (h.clone(), h.clone());
        up[i] += eps;
        down[i] -= eps;
        let numeric = (total_variation(&up, (6, 5)) - total_variation(&down, (6, 5))) / (2.0 * eps);
        assert!((numeric - g[i]).abs() < 5e-3, "pixel {i}: numeric {numeric} vs {}", g[i]);
    }
}

/// A synthetic super-resolution problem: g_l = D A_l h_true for a blob h_true.
fn synthetic(warps: &[Warp]) -> (Vec<f32>, Vec<Map>) {
    let truth: Vec<f32> = (0..32 * 32)
        .map(|i| {
            let (y, x) = ((i / 32) as f32, (i % 32) as f32);
            f32::from((x - 13.0).abs() < 6.0 && (y - 17.0).abs() < 5.0)
        })
        .collect();
    let low = warps.iter().map(|a| Map::new(8, 8, downsample(&a.apply(&truth), (32, 32), 4))).collect();
    (truth, low)
}

#[test]
fn super_resolution_objective_decreases_and_beats_bilinear() {
    let opts = cnnlab::explain::AugmentedOptions::default();
    let warps = cnnlab::explain::augmented::augmentations(&opts, (32, 32), 0);
    let (truth, low) = synthetic(&warps);
    let start = low[0].upsample(32, 32).values;
    let error = |h: &[f32]| h.iter().zip(&truth).map(|(a, b)| (a - b).powi(2)).sum::<f32>().sqrt();
    // λ = 0: a smooth problem; steps ≤ 1/Lipschitz must decrease F every time
    let smooth = SuperResolution { warps: &warps, low: &low, factor: 4, lambda: 0.0, mu: 0.0, step: 1.0 };
    let (_, history) = smooth.solve(start.clone(), 40);
    assert!(history.windows(2).all(|w| w[1] <= w[0] * (1.0 + 1e-6)), "F rose: {history:?}");
    // with TV: the best F ends well below the start, and the map is closer to the truth than bilinear upsampling
    let tv = SuperResolution { warps: &warps, low: &low, factor: 4, lambda: 0.02, mu: 0.001, step: 0.5 };
    let (h, history) = tv.solve(start.clone(), 100);
    let best = history.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(best < 0.5 * history[0], "F {} → {best}", history[0]);
    assert!(error(&h) < 0.8 * error(&start), "super-resolved error {} vs bilinear {}", error(&h), error(&start));
}

#[test]
fn rise_masks_keep_about_p_and_stay_in_range() {
    let opts = RiseOptions { masks: 400, grid: 8, keep: 0.3, batch: 64, seed: 3 };
    let ms = masks(&opts, (32, 32));
    assert_eq!(ms.len(), 400);
    let values: Vec<f32> = ms.iter().flat_map(|m| m.values.iter().copied()).collect();
    assert!(values.iter().all(|&v| (0.0..=1.0).contains(&v)));
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    assert!((mean - 0.3).abs() < 0.03, "mean mask value {mean}, expected about p = 0.3");
    assert!(values.iter().any(|&v| v > 0.0 && v < 1.0), "masks are soft (bilinear)");
}

#[test]
fn localize_needs_ground_truth_boxes() {
    use cnnlab::data::preprocess::{Normalization, Preprocessing};
    use cnnlab::localize::{localize, LocalizeOptions};
    let mut m = model(Arch::SmallCnn);
    let data = cnnlab::data::Dataset {
        classes: (0..10).map(|c| c.to_string()).collect(),
        shape: [3, 32, 32],
        images: vec![7; 3 * 32 * 32],
        labels: vec![0],
        ..Default::default()
    };
    let pre = Preprocessing::fit(Normalization::ChannelMean, &data);
    let err = localize(&mut m, &data, &pre, Method::Cam, &Options::default(), &LocalizeOptions::default(), None);
    assert!(err.unwrap_err().message.contains("ground-truth boxes"));
}

#[test]
fn map_correlation_has_its_closed_forms() {
    let m = Map::new(2, 3, vec![0.5, -1.0, 2.0, 3.5, 0.0, 1.0]);
    let affine = Map::new(2, 3, m.values.iter().map(|v| 2.0 * v + 3.0).collect());
    let negated = Map::new(2, 3, m.values.iter().map(|v| -v).collect());
    assert!((m.correlation(&affine) - 1.0).abs() < 1e-6);
    assert!((m.correlation(&negated) + 1.0).abs() < 1e-6);
    assert_eq!(m.correlation(&Map::new(2, 3, vec![4.0; 6])), 0.0);
    // orthogonal centred patterns
    let a = Map::new(1, 4, vec![1.0, -1.0, 1.0, -1.0]);
    let b = Map::new(1, 4, vec![1.0, 1.0, -1.0, -1.0]);
    assert_eq!(a.correlation(&b), 0.0);
}
