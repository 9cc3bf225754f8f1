//! Checks of the lab "Weakly supervised localization": IoU and boxes against cnnlab's at random boxes and maps, and maps worked by hand (diagonal neighbours, two blobs, thresholds, nothing to find).

#[path = "../check_support.rs"]
mod support;

use cnnlab::data::BBox;
use cnnlab::explain::Map;
use cnnlab::localize::box_from_map as cnnlab_box;
use cnnlab_labs::localization::{box_from_map, iou, Box2};
use proptest::prelude::*;

fn ours(b: &BBox) -> Box2 {
    Box2 { x0: b.x0, y0: b.y0, x1: b.x1, y1: b.y1 }
}

/// A box with corners on a 0…12 grid (possibly empty).
fn any_box() -> impl Strategy<Value = BBox> {
    (0..12u8, 0..12u8, 0..12u8, 0..12u8).prop_map(|(a, b, c, d)| BBox {
        x0: a.min(c) as f32,
        y0: b.min(d) as f32,
        x1: a.max(c) as f32,
        y1: b.max(d) as f32,
    })
}

/// A map of blobs: values from a few levels (so that components and ties are common), some negative.
fn any_map() -> impl Strategy<Value = (Vec<f32>, (usize, usize), f32)> {
    (1..=10usize, 1..=10usize).prop_flat_map(|(h, w)| {
        let levels = proptest::collection::vec((-2..=5i32).prop_map(|l| l as f32 * 0.25), h * w);
        (levels, Just((h, w)), prop_oneof![Just(0.2f32), Just(0.5), Just(0.8), Just(1.0)])
    })
}

proptest! {
    #![proptest_config(support::config(256))]

    #[test]
    fn iou_matches_cnnlab(a in any_box(), b in any_box()) {
        let (ours_ab, expected) = (iou(&ours(&a), &ours(&b)), a.iou(&b));
        prop_assert!((ours_ab - expected).abs() < 1e-6, "iou({:?}, {:?}) = {}, expected {}", a, b, ours_ab, expected);
        prop_assert!((iou(&ours(&b), &ours(&a)) - expected).abs() < 1e-6, "iou must be symmetric");
    }

    #[test]
    fn boxes_match_cnnlab(data in any_map()) {
        let (values, (h, w), threshold) = data;
        let expected = cnnlab_box(&Map::new(h, w, values.clone()), threshold).map(|b| ours(&b));
        let found = box_from_map(&values, (h, w), threshold);
        prop_assert_eq!(found, expected, "box of a {}×{} map at threshold {}: {:?}", h, w, threshold, values);
    }
}

fn b(x0: f32, y0: f32, x1: f32, y1: f32) -> Box2 {
    Box2 { x0, y0, x1, y1 }
}

#[test]
fn iou_by_hand() {
    let a = b(0.0, 0.0, 2.0, 2.0);
    assert_eq!(iou(&a, &a), 1.0, "a box with itself");
    assert_eq!(iou(&a, &b(2.0, 0.0, 4.0, 2.0)), 0.0, "boxes that only touch");
    assert_eq!(iou(&a, &b(1.0, 0.0, 3.0, 2.0)), 1.0 / 3.0, "half of each overlaps: 2 / (4 + 4 − 2)");
    assert_eq!(iou(&b(0.0, 0.0, 0.0, 0.0), &b(0.0, 0.0, 0.0, 0.0)), 0.0, "two empty boxes");
}

#[test]
fn boxes_by_hand() {
    #[rustfmt::skip]
    let map = [
        1.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 1.0, 0.0, 0.0, 0.9,
        0.0, 0.0, 1.0, 0.0, 0.9,
        0.0, 0.0, 0.0, 0.0, 0.0,
    ];
    // the diagonal is one component of three (8-connectivity); the right column has two
    assert_eq!(box_from_map(&map, (4, 5), 0.5), Some(b(0.0, 0.0, 3.0, 3.0)), "the diagonal blob");
    // above 0.95 of the maximum only the diagonal is kept
    assert_eq!(box_from_map(&map, (4, 5), 0.95), Some(b(0.0, 0.0, 3.0, 3.0)), "threshold 0.95");
    // a map with nothing positive has nothing to localize
    assert_eq!(box_from_map(&[0.0, -1.0, 0.0, -0.5], (2, 2), 0.5), None, "no positive value");
    // a blob of four and one of six (a 3×2 rectangle): the larger wins
    #[rustfmt::skip]
    let map = [
        0.6, 0.6, 0.0, 0.0, 0.0,
        0.6, 0.6, 0.0, 0.7, 0.7,
        0.0, 0.0, 0.0, 0.7, 0.7,
        0.0, 0.0, 0.0, 0.7, 0.7,
    ];
    assert_eq!(box_from_map(&map, (4, 5), 0.5), Some(b(3.0, 1.0, 5.0, 4.0)), "the larger of two blobs");
}

#[test]
fn your_own_work() {
    // every piece written, none borrowed from the library's localization
    support::assert_own_work("localization", lab_source!("localization"), &["localize::", ".iou(", "BBox"]);
}
