//! The speed layer: fast kernels behind the ops of `src/ops`, each proven equal to the plain code it replaces. A first reading may skip it.
//!
//! `src/ops` says what every op computes, in the form the lectures write
//! it; this module says how to compute some of it fast on a CPU, and is the
//! only place with `unsafe`, vector intrinsics, CPU-feature checks and
//! uninitialised memory. It imports nothing from `ops`.
//!
//! | file | what |
//! |---|---|
//! | `parallel` | element-wise loops and fresh buffers, chunk by chunk on all cores |
//! | `lane_sums` | per-channel sums in a fixed order (batch norm's reductions) |
//! | `gemm` | matrix product on matrixmultiply's sgemm/dgemm |
//! | `simd` | the vector instructions of the two x86-64 kernel sets |
//! | `conv_packed` | convolution without im2col: register-blocked micro-kernels on a channels-last image |
//! | `alloc` | allocator settings for a tensor workload |
//!
//! Every kernel has tests against the plain code (in `src/ops` or in its
//! own file): bit for bit where it claims the same bits, within a stated
//! tolerance otherwise.

pub mod alloc;
pub(crate) mod conv_packed;
pub mod gemm;
pub(crate) mod lane_sums;
pub(crate) mod parallel;
mod simd;

pub(crate) use parallel::{
    add_assign, fill_chunks, map, sum_in_order, written_chunks, zeroed_chunks, zeros, zip3_map, zip_map,
};

// ANCHOR: kernel_set
/// Which vector instructions the kernels use. Detected once per process;
/// the environment variable `CNNLAB_KERNELS=avx2|portable` forces a smaller
/// set than the CPU has, so that each path can be timed and compared on one
/// machine (`CNNLAB_NO_PACKED=1` is the same as `portable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelSet {
    /// x86-64 with AVX-512F: packed convolutions on 16-float vectors.
    Avx512,
    /// x86-64 with AVX2 and FMA: packed convolutions on 8-float vectors,
    /// the same sums in the same order as `Avx512`, so the same bits.
    Avx2,
    /// Anything else (or forced): convolutions as im2col + gemm.
    Portable,
}

impl KernelSet {
    /// The name `cnnlab bench --json` reports and `CNNLAB_KERNELS` accepts.
    pub fn name(self) -> &'static str {
        match self {
            KernelSet::Avx512 => "avx512",
            KernelSet::Avx2 => "avx2",
            KernelSet::Portable => "portable",
        }
    }

    /// The best set this CPU supports.
    pub fn detected() -> KernelSet {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return KernelSet::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                return KernelSet::Avx2;
            }
        }
        KernelSet::Portable
    }

    /// The detected set, lowered to what `requested` (a `CNNLAB_KERNELS`
    /// value) asks for; a request the CPU cannot honour, or an unknown
    /// name, keeps the detected set and says so in the second value.
    pub fn choose(detected: KernelSet, requested: Option<&str>) -> (KernelSet, Option<String>) {
        let rank =
            |k: KernelSet| [KernelSet::Portable, KernelSet::Avx2, KernelSet::Avx512].iter().position(|&s| s == k);
        let wanted = match requested {
            None => return (detected, None),
            Some("avx512") => KernelSet::Avx512,
            Some("avx2") => KernelSet::Avx2,
            Some("portable") => KernelSet::Portable,
            Some(other) => {
                let why =
                    format!("CNNLAB_KERNELS={other} is not one of avx512, avx2, portable; using {}", detected.name());
                return (detected, Some(why));
            }
        };
        if rank(wanted) > rank(detected) {
            let why = format!("CNNLAB_KERNELS={}: this CPU has only {}", wanted.name(), detected.name());
            return (detected, Some(why));
        }
        (wanted, None)
    }
}

/// The kernel set this process uses (see [`KernelSet`]).
pub fn kernel_set() -> KernelSet {
    static SET: std::sync::OnceLock<KernelSet> = std::sync::OnceLock::new();
    *SET.get_or_init(|| {
        let requested = match std::env::var("CNNLAB_KERNELS") {
            Ok(name) => Some(name),
            Err(_) => std::env::var_os("CNNLAB_NO_PACKED").map(|_| "portable".to_string()),
        };
        let (set, warning) = KernelSet::choose(KernelSet::detected(), requested.as_deref());
        if let Some(warning) = warning {
            eprintln!("warning: {warning}");
        }
        set
    })
}
// ANCHOR_END: kernel_set

// ANCHOR: vectorized
/// Runs `work` compiled for the kernel set's vectors (AVX-512 or AVX2), so
/// that its loops (which must be inlined into it: pass `#[inline(always)]
/// || …` and call `#[inline(always)]` helpers, or the compiler may keep them
/// apart) handle 16 or 8 f32 values per instruction instead of the 4 of the
/// SSE2 baseline every x86-64 binary is built for. The results are the same
/// bits: Rust never reorders or fuses floating-point operations, so the
/// compiler may only do the same operations several at a time.
#[inline(always)]
pub(crate) fn vectorized<R>(work: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match kernel_set() {
        // SAFETY: the CPU supports the features, checked by `kernel_set`.
        KernelSet::Avx512 => return unsafe { with_avx512(work) },
        KernelSet::Avx2 => return unsafe { with_avx2(work) },
        KernelSet::Portable => {}
    }
    work()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn with_avx512<R>(work: impl FnOnce() -> R) -> R {
    work()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(work: impl FnOnce() -> R) -> R {
    work()
}
// ANCHOR_END: vectorized

#[cfg(test)]
mod tests {
    use super::KernelSet::{self, *};

    #[test]
    fn a_forced_kernel_set_can_only_be_smaller_than_the_cpus() {
        assert_eq!(KernelSet::choose(Avx512, None), (Avx512, None));
        assert_eq!(KernelSet::choose(Avx512, Some("avx2")), (Avx2, None));
        assert_eq!(KernelSet::choose(Avx2, Some("portable")), (Portable, None));
        let (set, warning) = KernelSet::choose(Avx2, Some("avx512"));
        assert_eq!(set, Avx2);
        assert!(warning.unwrap().contains("only avx2"));
        let (set, warning) = KernelSet::choose(Portable, Some("sse9"));
        assert_eq!(set, Portable);
        assert!(warning.unwrap().contains("not one of"));
    }
}
