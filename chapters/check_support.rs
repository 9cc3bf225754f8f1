//! What every lab's checks share: deterministic proptest settings and strategies, a closeness assertion that says where two results differ, the gradient check, and the check that the work is the student's own.

#![allow(dead_code)] // each check uses its own part

use cnnlab::{gradcheck, GradcheckConfig, Tensor};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

/// `cases` random cases from a fixed seed, so that the same code gets the
/// same verdict on every run and every machine (grading must not be a
/// lottery), and no failure files are written into the repository.
pub fn config(cases: u32) -> ProptestConfig {
    quiet_repeated_panics();
    ProptestConfig { cases, rng_seed: RngSeed::Fixed(2026), failure_persistence: None, ..ProptestConfig::default() }
}

/// While proptest shrinks a failing case it runs the check hundreds of
/// times, and each failure would print its panic (with a backtrace under
/// RUST_BACKTRACE=1): hundreds of lines before the one that matters. This
/// hook prints a panic's message once per place in the code and test, with
/// no backtrace; proptest's own final report — the smallest failing input
/// and its message — comes from another place and is always printed.
fn quiet_repeated_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            thread_local! {
                static SEEN: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            let place = info.location().map_or(String::new(), |l| format!("{}:{}", l.file(), l.line()));
            let first = SEEN.with(|seen| {
                let mut seen = seen.borrow_mut();
                let first = !seen.contains(&place);
                if first {
                    seen.push(place.clone());
                }
                first
            });
            if first {
                let message = info
                    .payload()
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| info.payload().downcast_ref::<&str>().copied())
                    .unwrap_or("(no message)");
                eprintln!("check failed at {place}:\n{message}\n");
            }
        }));
    });
}

/// A shape with `ranks` axes of 1 to `max_dim` each.
pub fn shape(ranks: std::ops::RangeInclusive<usize>, max_dim: usize) -> impl Strategy<Value = Vec<usize>> {
    ranks.prop_flat_map(move |rank| proptest::collection::vec(1..=max_dim, rank))
}

/// Values for a tensor of `len` elements, uniform in ±`bound`.
pub fn values(len: usize, bound: f64) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-bound..bound, len)
}

/// Asserts |actual − expected| ≤ tol·(1 + |expected|) everywhere, naming
/// `what`, the first index that differs and both values.
pub fn assert_close<T: Copy + Into<f64>>(what: &str, actual: &[T], expected: &[T], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: {} values, expected {}", actual.len(), expected.len());
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let (a, e): (f64, f64) = (a.into(), e.into());
        assert!(
            (a - e).abs() <= tol * (1.0 + e.abs()),
            "{what}: element {i} is {a}, expected {e} (and {} elements in all)",
            actual.len()
        );
    }
}

/// Runs cnnlab's gradient check (finite differences against the backward
/// pass) on `f` at `inputs`, and fails with its report, naming `what`.
pub fn assert_gradients(what: &str, f: impl Fn(&[Tensor<f64>]) -> Tensor<f64>, inputs: &[Tensor<f64>]) {
    if let Err(failure) = gradcheck(f, inputs, &GradcheckConfig::default()) {
        panic!("{what}: the backward pass disagrees with finite differences: {failure}");
    }
}

/// Fails while `source` (a lab's code) still has a `todo!`, or when its code
/// (comments aside) names one of `forbidden`: cnnlab's own version of what
/// the lab asks for. Grading should measure the student's work, not the
/// library's. A text search: it catches the honest shortcut, not every
/// disguise.
pub fn assert_own_work(lab: &str, source: &str, forbidden: &[&str]) {
    let code: String = source.lines().map(|line| line.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    assert!(!code.contains("todo!("), "lab {lab}: a todo!() is left; write that piece first");
    for name in forbidden {
        assert!(
            !code.contains(name),
            "lab {lab}: your code uses `{name}`, cnnlab's own version of what this lab asks you to write"
        );
    }
}

/// The code the checks run: the starter, or with `--features solutions` the reference solution.
#[macro_export]
macro_rules! lab_source {
    ($lab:literal) => {{
        #[cfg(not(feature = "solutions"))]
        const SOURCE: &str = include_str!("lab.rs"); // relative to the calling check.rs
        #[cfg(feature = "solutions")]
        const SOURCE: &str = include_str!(concat!("../solutions/", $lab, ".rs"));
        SOURCE
    }};
}
