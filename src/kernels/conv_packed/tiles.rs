//! Each micro-kernel compiled as a function of its own, once per kernel set and tile shape, so that its registers are allocated for its loop alone.
//!
//! The kernels in the parent module are `#[inline(always)]` and were first
//! inlined into the loops around them (over images, panels, kernel rows and
//! pieces of a run). Then one register allocation served the whole
//! function, and an unrelated one-line change elsewhere in the file made
//! LLVM spill the AVX2 6 × 2 weight-gradient tile's accumulators to the
//! stack (it keeps 15 of the 16 vector registers live): the weight gradient
//! of every layer with 64 or more channels ran at half speed. Seen in
//! `perf annotate` as `vmovups %ymm…, …(%rsp)` inside the multiply–add loop.
//! Behind a call, the tile's loop has the registers to itself whatever the
//! code around it; one call per tile (hundreds to thousands of
//! multiply–adds) costs nothing measurable.

#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use super::{forward_kernel, weight_grad_kernel, KernelArgs, TileArgs};
use crate::kernels::simd::{Avx2, Avx512, Simd};

/// The packed convolution's micro-kernels in kernel set `Self`.
///
/// # Safety
/// As the kernels': the CPU must have the set's features and the arguments
/// must satisfy [`forward_kernel`]'s and [`weight_grad_kernel`]'s contracts.
pub(super) trait Tiles: Simd {
    /// [`forward_kernel`] with P pixels × V vectors.
    unsafe fn forward_tile<const P: usize, const V: usize>(args: KernelArgs<P, V>);
    /// [`weight_grad_kernel`] with MR rows × V vectors.
    unsafe fn weight_grad_tile<const MR: usize, const V: usize, const FULL: bool>(args: TileArgs);
}

#[cfg(target_arch = "x86_64")]
impl Tiles for Avx512 {
    #[inline(always)]
    unsafe fn forward_tile<const P: usize, const V: usize>(args: KernelArgs<P, V>) {
        // SAFETY: as the trait's.
        unsafe { forward_tile_avx512::<P, V>(args) }
    }
    #[inline(always)]
    unsafe fn weight_grad_tile<const MR: usize, const V: usize, const FULL: bool>(args: TileArgs) {
        // SAFETY: as the trait's.
        unsafe { weight_grad_tile_avx512::<MR, V, FULL>(args) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn forward_tile_avx512<const P: usize, const V: usize>(args: KernelArgs<P, V>) {
    unsafe { forward_kernel::<Avx512, P, V>(args) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn weight_grad_tile_avx512<const MR: usize, const V: usize, const FULL: bool>(args: TileArgs) {
    unsafe { weight_grad_kernel::<Avx512, MR, V, FULL>(args) }
}

// ANCHOR: tiles
#[cfg(target_arch = "x86_64")]
impl Tiles for Avx2 {
    #[inline(always)]
    unsafe fn forward_tile<const P: usize, const V: usize>(args: KernelArgs<P, V>) {
        // SAFETY: as the trait's.
        unsafe { forward_tile_avx2::<P, V>(args) }
    }
    #[inline(always)]
    unsafe fn weight_grad_tile<const MR: usize, const V: usize, const FULL: bool>(args: TileArgs) {
        // SAFETY: as the trait's.
        unsafe { weight_grad_tile_avx2::<MR, V, FULL>(args) }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn forward_tile_avx2<const P: usize, const V: usize>(args: KernelArgs<P, V>) {
    unsafe { forward_kernel::<Avx2, P, V>(args) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline(never)]
unsafe fn weight_grad_tile_avx2<const MR: usize, const V: usize, const FULL: bool>(args: TileArgs) {
    unsafe { weight_grad_kernel::<Avx2, MR, V, FULL>(args) }
}
// ANCHOR_END: tiles
