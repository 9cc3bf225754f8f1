//! Looking inside: receptive fields against the network's own gradients, the frequency basis (exact inverse, gradient check, adjoint), gradient ascent raising its objective, and the commands' bad input.

mod common;

use cnnlab::inspect::frequency::{dct_matrix, FrequencyBasis};
use cnnlab::inspect::synthesis::{synthesize, Objective, SynthesisOptions};
use cnnlab::inspect::{receptive_field_of, receptive_fields};
use cnnlab::models::{Arch, Model};
use cnnlab::nn::{AvgPool2d, Axis, MaxPool2d, Module, Sequential, StateKind};
use cnnlab::{enable_grad, Tensor};
use common::{check, cli, scratch, tiny_run};
use proptest::prelude::*;

/// A network whose every unit passes gradient to every input pixel it
/// sees: positive conv weights, batch norm at its initial statistics (so
/// positive stays positive and no ReLU is ever off), positive inputs, and
/// max-pools replaced by average pools of the same geometry (a max passes
/// gradient to one pixel of its window; the field is the same).
fn all_paths_open(arch: Arch) -> Model {
    let mut model = Model::new(arch, 10, [3, 32, 32], 3).unwrap();
    model.visit_state("", &mut |_, t, kind| {
        if kind == StateKind::Parameter && t.rank() == 4 {
            t.data_mut().iter_mut().for_each(|w| *w = w.abs() + 1e-3);
        }
    });
    if let Some(seq) = model.net.as_any_mut().downcast_mut::<Sequential>() {
        for layer in seq.layers.iter_mut() {
            if let Some(pool) = layer.as_any_mut().downcast_mut::<MaxPool2d>() {
                *layer = Box::new(AvgPool2d(pool.0));
            }
        }
    }
    model.set_training(false);
    model
}

/// The input pixels (y, x) with a non-zero gradient of unit (0, y, x) of `layer`.
fn pixels_seen(model: &mut Model, layer: &str, unit: (usize, usize)) -> (Vec<(usize, usize)>, (usize, usize)) {
    let values: Vec<f32> = (0..3 * 32 * 32).map(|i| 0.5 + (i % 7) as f32 / 7.0).collect();
    let x = Tensor::from_vec(values, &[1, 3, 32, 32]).with_grad();
    let mut captured = None;
    enable_grad(|| {
        model.forward_inspect(&x, "", &mut |name, out| {
            if name == layer {
                captured = Some(out.clone());
            }
            out
        })
    });
    let out = captured.unwrap_or_else(|| panic!("no layer {layer}"));
    let (_, k, h, w) = out.dims4("test");
    let mut seed = vec![0f32; k * h * w];
    seed[unit.0.min(h - 1) * w + unit.1.min(w - 1)] = 1.0;
    let g = out.backward_with(&Tensor::from_vec(seed, out.shape())).wrt_or_zeros(&x);
    let g = g.data();
    let seen = (0..32 * 32).filter(|&p| (0..3).any(|c| g[c * 1024 + p] != 0.0)).map(|p| (p / 32, p % 32)).collect();
    (seen, (h, w))
}

#[test]
fn receptive_fields_are_exactly_the_pixels_with_a_gradient() {
    for arch in [Arch::SmallCnn, Arch::ResNet20] {
        let mut model = all_paths_open(arch);
        let layers: Vec<_> = receptive_fields(&model).into_iter().filter(|(_, f)| !f.global).collect();
        assert!(layers.len() >= 6, "{arch}: {layers:?}");
        for (name, field) in layers {
            for unit in [(0, 0), (3, 1), (100, 100), (2, 100)] {
                let (seen, (h, w)) = pixels_seen(&mut model, &name, unit);
                let unit = (unit.0.min(h - 1), unit.1.min(w - 1));
                let [y0, x0, y1, x1] = field.input_box(unit, (32, 32));
                let expected: Vec<(usize, usize)> = (y0.max(0)..y1.min(32))
                    .flat_map(|y| (x0.max(0)..x1.min(32)).map(move |x| (y as usize, x as usize)))
                    .collect();
                assert_eq!(seen, expected, "{arch} layer {name} unit {unit:?}: field {field:?}");
            }
        }
    }
}

#[test]
fn smallcnn_field_by_hand() {
    // conv 3 → 3; conv 3 → 5; pool 2 → 6 (jump 2); conv → 10; conv → 14; pool → 16 (jump 4); conv → 24; conv → 32
    let model = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap();
    let f = receptive_field_of(&model, "19").unwrap();
    assert_eq!(f.rows, Axis { size: 32, jump: 4, start: -14 });
    assert_eq!(receptive_field_of(&model, "6").unwrap().rows, Axis { size: 6, jump: 2, start: -2 });
    assert!(receptive_field_of(&model, "20").unwrap().global, "after global pooling a unit sees everything");
    let e = receptive_field_of(&model, "conv9").unwrap_err();
    assert!(e.message.contains("conv9") && e.message.contains("19"), "{}", e.message);
    // dilation 2 spreads a 3-tap kernel over 5 positions
    assert_eq!(Axis::PIXEL.window(3, 1, 2, 2), Axis { size: 5, jump: 1, start: -2 });
}

#[test]
fn the_dct_is_orthonormal_and_its_inverse_exact() {
    let d = dct_matrix::<f64>(7);
    let dtd = d.transpose(0, 1).matmul(&d);
    for (i, v) in dtd.data().iter().enumerate() {
        let identity = if i / 7 == i % 7 { 1.0 } else { 0.0 };
        assert!((v - identity).abs() < 1e-12, "DᵀD[{i}] = {v}");
    }
    let basis = FrequencyBasis::<f64>::new(6, 5);
    let x = common::tensor(&[2, 3, 6, 5], 4, 1.0);
    let back = basis.to_pixels(&basis.from_pixels(&x));
    for (a, b) in x.data().iter().zip(back.data()) {
        assert!((a - b).abs() < 1e-12, "round trip: {a} → {b}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn gradcheck_frequency_to_pixels(n in 1usize..3, h in 1usize..6, w in 1usize..6, seed in 0u64..1000) {
        let basis = FrequencyBasis::<f64>::new(h, w);
        let p = common::tensor(&[n, 2, h, w], seed, 1.0);
        check(|t| basis.to_pixels(&t[0]), &[p], seed);
    }

    #[test]
    fn the_coefficient_gradient_is_the_adjoint(h in 1usize..7, w in 1usize..7, seed in 0u64..1000) {
        // ⟨to_pixels(P), G⟩ = ⟨P, gradient_to_coefficients(G)⟩ for all P, G
        let basis = FrequencyBasis::<f64>::new(h, w);
        let p = common::tensor(&[1, 2, h, w], seed, 1.0);
        let g = common::tensor(&[1, 2, h, w], seed + 1, 1.0);
        let lhs: f64 = basis.to_pixels(&p).data().iter().zip(g.data()).map(|(a, b)| a * b).sum();
        let rhs: f64 = p.data().iter().zip(basis.gradient_to_coefficients(&g).data()).map(|(a, b)| a * b).sum();
        prop_assert!((lhs - rhs).abs() < 1e-10 * (1.0 + lhs.abs()), "{} vs {}", lhs, rhs);
    }
}

#[test]
fn gradient_ascent_raises_its_objective_and_leaves_the_model_alone() {
    let mut model = Model::new(Arch::SmallCnn, 10, [3, 32, 32], 0).unwrap();
    let before: Vec<Vec<f32>> = cnnlab::nn::state_tensors(&mut model).iter().map(|(_, t, _)| t.to_vec()).collect();
    let pre = cnnlab::data::preprocess::Preprocessing {
        mode: cnnlab::data::preprocess::Normalization::ChannelMeanStd,
        shape: [3, 32, 32],
        mean: vec![0.5; 3],
        std: vec![0.25; 3],
    };
    let objectives = vec![
        Objective::Class(3),
        Objective::Class(7),
        Objective::Channel { layer: "9".into(), channel: 5 },
        Objective::Channel { layer: "16".into(), channel: 0 },
    ];
    for opts in [SynthesisOptions::l2_only(), SynthesisOptions::regularized()] {
        let opts = SynthesisOptions { steps: 40, ..opts };
        let out = synthesize(&mut model, &objectives, [3, 32, 32], &pre, &opts).unwrap();
        for (i, curve) in out.curves.iter().enumerate() {
            assert_eq!(curve.len(), 40);
            // it rises, and ends near the best value it reached (not a lucky blip)
            let best = curve.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let rise = curve[39] - curve[0];
            assert!(rise > 0.0 && rise >= 0.5 * (best - curve[0]), "objective {i} did not rise: {curve:?}");
        }
        // the images stay in the valid pixel range: 0..1 after de-normalisation, i.e. ±2 here
        assert!(out.images.data().iter().all(|v| (-2.0..=2.0).contains(v)));
        assert_eq!(out.pixels.len(), 4);
    }
    let after: Vec<Vec<f32>> = cnnlab::nn::state_tensors(&mut model).iter().map(|(_, t, _)| t.to_vec()).collect();
    assert_eq!(before, after, "synthesis must not change the network");
    let bad = synthesize(&mut model, &[Objective::Class(10)], [3, 32, 32], &pre, &SynthesisOptions::raw());
    assert!(bad.unwrap_err().message.contains("--class 10"));
    let bad = synthesize(
        &mut model,
        &[Objective::Channel { layer: "9".into(), channel: 64 }],
        [3, 32, 32],
        &pre,
        &SynthesisOptions::raw(),
    );
    assert!(bad.unwrap_err().message.contains("--channel 64"));
}

#[test]
fn inspect_and_synthesize_write_their_files_and_name_bad_input() {
    let dir = scratch("inspect-cli");
    let run = tiny_run(&dir, "smallcnn");
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    for args in [
        vec!["inspect", "filters", "--run", &run, "--out", o],
        vec!["inspect", "filters", "--run", &run, "--layer", "7", "--out", o],
        vec!["inspect", "activations", "--run", &run, "--index", "2", "--out", o],
        vec!["inspect", "patches", "--run", &run, "--layer", "10", "--channels", "0,5-6", "--top", "4", "--out", o],
        vec!["synthesize", "--run", &run, "--class", "all", "--steps", "8", "--out", o],
        vec![
            "synthesize",
            "--run",
            &run,
            "--layer",
            "9",
            "--channel",
            "3",
            "--steps",
            "8",
            "--preset",
            "l2",
            "--out",
            o,
        ],
    ] {
        let (code, stdout, stderr) = cli(&args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stdout.is_empty(), "{args:?}");
    }
    for file in ["filters-0.png", "filters-7.png", "activations-test2-19.png", "activations-test2-19.npy"] {
        assert!(out.join(file).exists(), "{file}");
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("patches-10.json")).unwrap()).unwrap();
    assert_eq!(json["receptive_field"]["size"], serde_json::json!([14, 14]));
    let patches = json["patches"].as_array().unwrap();
    assert_eq!(patches.len(), 3, "three channels");
    for channel in patches {
        let list = channel.as_array().unwrap();
        assert_eq!(list.len(), 4);
        let values: Vec<f64> = list.iter().map(|p| p["activation"].as_f64().unwrap()).collect();
        assert!(values.windows(2).all(|w| w[0] >= w[1]), "best first: {values:?}");
    }
    let class_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("class-circle.json")).unwrap()).unwrap();
    assert_eq!(class_json["objective_curve"].as_array().unwrap().len(), 8);
    assert!(out.join("montage.png").exists() && out.join("class-star.npy").exists());

    for (args, expected) in [
        (vec!["inspect", "filters", "--layer", "5"], "no convolution is called '5'"),
        (vec!["inspect", "activations", "--layer", "conv9"], "no layer is called 'conv9'"),
        (vec!["inspect", "activations", "--index", "99999"], "--index 99999"),
        (vec!["inspect", "patches", "--layer", "10", "--channels", "70"], "--channels: '70'"),
        (vec!["inspect", "patches", "--layer", "10", "--split", "val"], "--split val"),
        (vec!["inspect", "patches", "--layer", "nope"], "no layer is called 'nope'"),
        (vec!["synthesize", "--class", "12"], "--class 12"),
        (vec!["synthesize", "--class", "dragon"], "no such class"),
        (vec!["synthesize", "--layer", "9", "--channel", "99"], "--channel 99"),
        (vec!["synthesize", "--class", "0", "--preset", "magic"], "unknown preset 'magic'"),
        (vec!["synthesize", "--class", "0", "--lr", "-1"], "not a number ≥ 0"),
        (vec!["synthesize"], "give --class"),
    ] {
        let mut all = args.clone();
        all.extend(["--run", &run, "--out", o]);
        let (code, _, stderr) = cli(&all);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: stderr does not mention {expected}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `synthesize --judge`: the transfer rate over --seeds runs, by judge,
/// printed and in transfer.json; refused for channel objectives and for a
/// judge with other classes.
#[test]
fn synthesize_measures_the_transfer_rate_to_judges() {
    let dir = scratch("transfer");
    let (run, judge) = (tiny_run(&dir, "smallcnn"), tiny_run(&dir, "resnet20"));
    let out = dir.join("synth");
    let out_s = out.to_str().unwrap();
    let args = ["synthesize", "--run", &run, "--class", "all", "--steps", "4", "--judge", &judge, "--judge", &run];
    let (code, stdout, stderr) = cli(&[&args[..], &["--seeds", "2", "--out", out_s]].concat());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("transfer to {judge}: ")) && stdout.contains("/20 = "), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("transfer.json")).unwrap()).unwrap();
    assert_eq!(report.as_array().unwrap().len(), 2);
    assert_eq!(report[0]["images"], 20);
    let rate = report[0]["rate"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&rate) && report[0]["hits"].as_f64().unwrap() == rate * 20.0);
    let channel = ["synthesize", "--run", &run, "--layer", "16", "--channel", "2", "--steps", "2", "--judge", &judge];
    let (code, _, stderr) = cli(&[&channel[..], &["--out", out_s]].concat());
    assert_ne!(code, 0);
    assert!(stderr.contains("--judge: transfer rates are for classes"), "{stderr}");
    let binary = dir.join("binary");
    let binary_s = binary.to_str().unwrap();
    let train =
        ["train", "--data", "shapes-binary", "--epochs", "1", "--limit", "100", "--val", "50", "--out", binary_s];
    assert_eq!(cli(&train).0, 0);
    let (code, _, stderr) = cli(&["synthesize", "--run", &run, "--class", "0", "--steps", "2", "--judge", binary_s]);
    assert_ne!(code, 0);
    assert!(stderr.contains("a judge must have the synthesising model's classes"), "{stderr}");
}
