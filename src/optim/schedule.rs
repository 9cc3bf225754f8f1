//! Learning-rate schedules: constant, step decay, cosine, linear warm-up + cosine, one-cycle, linear warm-up + linear decay.

use std::f64::consts::PI;

/// How the learning rate changes over `total` optimiser steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LrSchedule {
    /// η(t) = η₀.
    Constant,
    /// η(t) = η₀ · γ^⌊t / every⌋.
    Step {
        /// Steps between decays.
        every: usize,
        /// Decay factor γ.
        gamma: f64,
    },
    /// η(t) = η_min + (η₀ − η_min)·(1 + cos(π t/T))/2, with η_min = η₀·`min_factor`.
    Cosine {
        /// Final learning rate as a fraction of η₀.
        min_factor: f64,
    },
    /// Linear from 0 to η₀ over `warmup` steps, then cosine to η₀·`min_factor`.
    WarmupCosine {
        /// Warm-up steps.
        warmup: usize,
        /// Final learning rate as a fraction of η₀.
        min_factor: f64,
    },
    /// One-cycle (Smith 2018, as PyTorch's `OneCycleLR`): cosine from η₀/25 up
    /// to η₀ over the first `pct_start` of training, then cosine down to η₀/25/10⁴.
    OneCycle {
        /// Fraction of the steps spent rising.
        pct_start: f64,
    },
    /// Linear from η₀·`start` to η₀ over the first `warmup` fraction of the
    /// steps, then linear down to η₀·`end` (the fast recipe's: 0.23, 0.2, 0.07).
    WarmupLinear {
        /// Fraction of the steps spent rising.
        warmup: f64,
        /// First learning rate as a fraction of η₀.
        start: f64,
        /// Last learning rate as a fraction of η₀.
        end: f64,
    },
}

/// Cosine interpolation from `from` (at p = 0) to `to` (at p = 1).
fn cosine(from: f64, to: f64, p: f64) -> f64 {
    to + (from - to) * (1.0 + (PI * p.clamp(0.0, 1.0)).cos()) / 2.0
}

impl LrSchedule {
    // ANCHOR: lr_at
    /// The learning rate at step `t` of `total`, for base rate `base`.
    pub fn lr_at(&self, base: f64, t: usize, total: usize) -> f64 {
        let total = total.max(1);
        match *self {
            LrSchedule::Constant => base,
            LrSchedule::Step { every, gamma } => base * gamma.powi((t / every.max(1)) as i32),
            LrSchedule::Cosine { min_factor } => cosine(base, base * min_factor, t as f64 / total as f64),
            LrSchedule::WarmupCosine { warmup, min_factor } => {
                if t < warmup {
                    base * (t + 1) as f64 / warmup as f64
                } else {
                    let p = (t - warmup) as f64 / (total - warmup).max(1) as f64;
                    cosine(base, base * min_factor, p)
                }
            }
            LrSchedule::OneCycle { pct_start } => {
                let (start, end) = (base / 25.0, base / 25.0 / 1e4);
                let rise = (pct_start * total as f64).max(1.0);
                if (t as f64) < rise {
                    cosine(start, base, t as f64 / rise)
                } else {
                    cosine(base, end, (t as f64 - rise) / (total as f64 - rise).max(1.0))
                }
            }
            LrSchedule::WarmupLinear { warmup, start, end } => {
                let rise = (warmup * total as f64) as usize;
                let factor = if t < rise {
                    let p = t as f64 / rise as f64;
                    start * (1.0 - p) + p
                } else {
                    let p = (t - rise) as f64 / (total - rise).max(1) as f64;
                    (1.0 - p) + end * p
                };
                base * factor
            }
        }
    }
    // ANCHOR_END: lr_at
}
