//! Checks of the lab "Maximally activating patches": fields against cnnlab's at random windows, smallcnn and ResNet-20's fields against cnnlab's architecture walk, the pixels a unit sees against the network's own gradients, and the smallcnn table by hand.

#[path = "../check_support.rs"]
mod support;

use cnnlab::inspect::receptive_fields;
use cnnlab::models::{Arch, Model};
use cnnlab::nn::Axis;
use cnnlab_labs::patches::{after_window, chain, pixels_seen, Field};
use proptest::prelude::*;

fn from(a: Axis) -> Field {
    Field { size: a.size, jump: a.jump, start: a.start }
}

/// A window: kernel 1–7, stride 1–3, padding 0–3, dilation 1–3.
fn any_window() -> impl Strategy<Value = (usize, usize, usize, usize)> {
    (1..=7usize, 1..=3usize, 0..=3usize, 1..=3usize)
}

proptest! {
    #![proptest_config(support::config(256))]

    #[test]
    fn chains_match_cnnlab(windows in proptest::collection::vec(any_window(), 1..6)) {
        let expected = windows.iter().fold(Axis::PIXEL, |a, &(k, s, p, d)| a.window(k, s, p, d));
        prop_assert_eq!(chain(&windows), from(expected), "windows {:?}", windows);
        if let Some((last, rest)) = windows.split_last() {
            let (k, s, p, d) = *last;
            prop_assert_eq!(after_window(chain(rest), k, s, p, d), from(expected), "one more window {:?}", last);
        }
    }

    #[test]
    fn pixels_seen_match_cnnlab(windows in proptest::collection::vec(any_window(), 1..5), i in 0usize..20, image in 1usize..40) {
        let axis = windows.iter().fold(Axis::PIXEL, |a, &(k, s, p, d)| a.window(k, s, p, d));
        let (first, end) = axis.span(i);
        let (first, end) = (first.clamp(0, image as isize) as usize, end.clamp(0, image as isize) as usize);
        let expected = (first, end.max(first));
        prop_assert_eq!(pixels_seen(from(axis), i, image), expected, "unit {} of {:?} in {} pixels", i, axis, image);
    }
}

#[test]
fn every_layer_of_smallcnn_and_resnet20() {
    // the windows of each architecture, in order, with the layer whose output follows each
    let small = [
        ("0", (3, 1, 1, 1)),
        ("3", (3, 1, 1, 1)),
        ("6", (2, 2, 0, 1)),
        ("7", (3, 1, 1, 1)),
        ("10", (3, 1, 1, 1)),
        ("13", (2, 2, 0, 1)),
        ("14", (3, 1, 1, 1)),
        ("17", (3, 1, 1, 1)),
    ];
    let block = |stride: usize| [(3, stride, 1, 1), (3, 1, 1, 1)];
    let mut resnet = vec![("stem".to_string(), vec![(3, 1, 1, 1)])];
    for (stage, stride) in [("layer1", 1), ("layer2", 2), ("layer3", 2)] {
        for b in 0..3 {
            resnet.push((format!("{stage}.{b}"), block(if b == 0 { stride } else { 1 }).to_vec()));
        }
    }
    let small: Vec<(String, Vec<_>)> = small.iter().map(|(n, w)| (n.to_string(), vec![*w])).collect();
    for (arch, layers) in [(Arch::SmallCnn, small), (Arch::ResNet20, resnet)] {
        let model = Model::new(arch, 10, [3, 32, 32], 0).unwrap();
        let fields = receptive_fields(&model);
        let mut windows = Vec::new();
        for (name, added) in layers {
            windows.extend(added);
            let expected =
                fields.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("{arch}: no layer {name}")).1;
            assert_eq!(chain(&windows), from(expected.rows), "{arch}, layer {name}");
        }
    }
}

#[test]
fn smallcnn_by_hand() {
    let conv = (3, 1, 1, 1);
    let pool = (2, 2, 0, 1);
    let f = chain(&[conv, conv, pool, conv, conv, pool, conv, conv]);
    assert_eq!(f, Field { size: 32, jump: 4, start: -14 }, "the last block of smallcnn");
    assert_eq!(pixels_seen(f, 0, 32), (0, 18), "unit 0 sees pixels 0..18; −14..0 is padding");
    assert_eq!(pixels_seen(f, 7, 32), (14, 32), "the last unit sees 14..32");
    assert_eq!(pixels_seen(f, 3, 32), (0, 30));
    let wide = Field { size: 3, jump: 1, start: -5 };
    assert_eq!(pixels_seen(wide, 0, 32), (0, 0), "wholly in the padding: nothing");
    assert_eq!(
        after_window(Field { size: 1, jump: 1, start: 0 }, 3, 1, 2, 2),
        Field { size: 5, jump: 1, start: -2 },
        "dilation 2"
    );
}

#[test]
fn your_own_work() {
    support::assert_own_work("patches", lab_source!("patches"), &["Axis", "receptive_field", "inspect::"]);
}
