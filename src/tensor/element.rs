//! The element types a tensor can hold: `f32` for training, `f64` for gradient checks.
//!
//! Every op in cnnlab is written once, generically over [`Element`]. Training
//! runs in `f32`; the finite-difference gradient checks run the *same code* in
//! `f64`, where a central difference with step 1e-6 is accurate to about 1e-9
//! relative, so a check can be tight enough to catch a wrong backward pass.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point scalar that tensors can store (`f32` or `f64`).
pub trait Element:
    Copy
    + Send
    + Sync
    + Debug
    + Display
    + Default
    + PartialOrd
    + Sum
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// -∞, the identity of `max`.
    const NEG_INFINITY: Self;
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// e^x.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// x^p.
    fn powf(self, p: Self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt: for f64 to about
    /// 1e-15 ([`erf_f64`]), for f32 to 1.5e-7 with one exponential ([`erf_f32`]).
    fn erf(self) -> Self;
    /// The Gaussian e^(−x²): for f64 by `exp`, for f32 by [`gauss_f32`],
    /// whose loops vectorize (a call to the C library's `expf` cannot).
    fn gauss(self) -> Self;
    /// |x|.
    fn abs(self) -> Self;
    /// The larger of two values (NaN-ignoring, as `f32::max`).
    fn max(self, other: Self) -> Self;
    /// True for NaN and ±∞.
    fn is_finite(self) -> bool;
}

macro_rules! impl_element {
    ($t:ty, $erf:path, $gauss:path) => {
        impl Element for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn powf(self, p: Self) -> Self {
                <$t>::powf(self, p)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn erf(self) -> Self {
                $erf(self)
            }
            fn gauss(self) -> Self {
                $gauss(self)
            }
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
        }
    };
}

impl_element!(f32, erf_f32, gauss_f32);
impl_element!(f64, erf_f64, gauss_f64);

// ANCHOR: erf
/// erf to about 1e-15. For |x| ≤ 2 its Maclaurin series
/// 2/√π Σₙ (−1)ⁿ x^(2n+1) / (n!(2n+1)), summed until the terms stop
/// mattering; beyond, 1 − erfc(x) with erfc from its continued fraction
/// e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3/2/(x + …)))), evaluated from the tail.
pub fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x.abs() <= 2.0 {
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64; // (−1)ⁿ x^(2n+1) / n!
            let next = term / (2 * n + 1) as f64;
            sum += next;
            if next.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        return 2.0 / std::f64::consts::PI.sqrt() * sum;
    }
    let a = x.abs();
    let mut fraction = a;
    for k in (1..=60).rev() {
        fraction = a + (k as f64 / 2.0) / fraction;
    }
    let erfc = (-a * a).exp() / std::f64::consts::PI.sqrt() / fraction;
    (1.0 - erfc).copysign(x)
}

/// erf to 1.5e-7 (Abramowitz & Stegun 7.1.26): for x ≥ 0,
/// erf(x) ≈ 1 − (a₁t + a₂t² + a₃t³ + a₄t⁴ + a₅t⁵)·e^(−x²) with t = 1/(1 + px);
/// odd for x < 0. One exponential instead of a series: training calls it
/// for every activation of every GELU.
pub fn erf_f32(x: f32) -> f32 {
    const P: f32 = 0.327_591_1;
    const A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_8, -1.453_152, 1.061_405_4];
    let a = x.abs();
    let t = 1.0 / (1.0 + P * a);
    let poly = t * (A[0] + t * (A[1] + t * (A[2] + t * (A[3] + t * A[4]))));
    (1.0 - poly * gauss_f32(x)).copysign(x) // e^(−x²) = e^(−a²)
}
// ANCHOR_END: erf

/// e^(−x²) in f64.
pub fn gauss_f64(x: f64) -> f64 {
    (-(x * x)).exp()
}

// ANCHOR: gauss
/// e^(−x²) in f32 to 8e-8 relative (about one unit in the last place),
/// from arithmetic alone, so that a loop over it vectorizes (a call to the C
/// library's `expf` per value would stop that). With y = −x² = n·ln 2 + r,
/// n an integer and |r| ≤ ½ ln 2: e^y = 2ⁿ·e^r, where 2ⁿ is an exponent written into the
/// float's bits and e^r ≈ 1 + r + r²·P(r) a short polynomial (Cephes'
/// `expf`). ln 2 is split into a part with few bits (exact in n·ln2_hi) and
/// the rest (Cody & Waite), so r keeps its digits. Below e^(−87), near the
/// smallest normal f32, the result is 0.
pub fn gauss_f32(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4; // 355/512, exact in 9 bits
    const LN2_LO: f32 = -2.121_944_4e-4; // ln 2 − LN2_HI
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding and subtracting it rounds to an integer
    const P: [f32; 6] = [0.5, 1.666_666_5e-1, 4.166_579_6e-2, 8.333_452e-3, 1.398_2e-3, 1.987_569_1e-4];
    let y = -(x * x);
    let n = (y * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = (y - n * LN2_HI) - n * LN2_LO;
    let poly = P[0] + r * (P[1] + r * (P[2] + r * (P[3] + r * (P[4] + r * P[5]))));
    let e_r = r * r * poly + r + 1.0;
    let two_to_n = f32::from_bits(((n as i32).wrapping_add(127) as u32) << 23);
    if y < -87.0 {
        0.0
    } else {
        e_r * two_to_n
    }
}
// ANCHOR_END: gauss
