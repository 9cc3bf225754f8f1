//! The vector instructions the packed convolution is written in, for its two x86-64 kernel sets: AVX-512 (16 floats per register) and AVX2 + FMA (8).
//!
//! The kernels are generic over [`Simd`]; every method is `#[inline(always)]`
//! and is compiled into a function that enables the set's CPU features
//! (`#[target_feature]`), where the intrinsic becomes one instruction. Both
//! sets multiply-add with one rounding (FMA), so a sum taken in the same
//! order gives the same bits whatever the vector width.
//!
//! No closure may call these methods: a closure is compiled without its
//! caller's CPU features, so its intrinsics would become function calls.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// A vector of [`Simd::LANES`] f32 values and the operations the kernels use.
///
/// # Safety
/// Every method needs the set's CPU features; pointers must address the
/// lanes read or written.
pub(crate) trait Simd: Copy {
    /// A vector register.
    type V: Copy;
    /// Floats per register.
    const LANES: usize;
    /// All zeros.
    unsafe fn zero() -> Self::V;
    /// `LANES` floats from `p`.
    unsafe fn load(p: *const f32) -> Self::V;
    /// The first `n` floats from `p`, zeros in the other lanes (which are not read).
    unsafe fn load_first(p: *const f32, n: usize) -> Self::V;
    /// `v` in every lane.
    unsafe fn splat(v: f32) -> Self::V;
    /// a·b + c with one rounding.
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// Stores all lanes at `p`.
    unsafe fn store(p: *mut f32, v: Self::V);
    /// p[i] += v[i] for the first `n` lanes (the others are not touched).
    unsafe fn add_to_first(p: *mut f32, n: usize, v: Self::V);
    /// dst[offsets[i] + k] = src[k·stride + i] for i, k < LANES: a LANES ×
    /// LANES block of a row-major matrix transposed, row i written at `offsets[i]`.
    unsafe fn transpose(src: *const f32, stride: usize, dst: *mut f32, offsets: &[usize]);
}

/// AVX-512F: 16 floats per register, masked loads and stores.
#[derive(Clone, Copy)]
pub(crate) struct Avx512;

/// AVX2 + FMA: 8 floats per register.
#[derive(Clone, Copy)]
pub(crate) struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Simd for Avx512 {
    type V = __m512;
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        _mm512_setzero_ps()
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> __m512 {
        unsafe { _mm512_maskz_loadu_ps(mask16(n), p) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> __m512 {
        _mm512_set1_ps(v)
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
        _mm512_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn add_to_first(p: *mut f32, n: usize, v: __m512) {
        let mask = mask16(n);
        unsafe { _mm512_mask_storeu_ps(p, mask, _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, p))) }
    }
    /// Three rounds of shuffles: 32-bit and 64-bit interleaves inside
    /// 128-bit lanes, then two rounds of 128-bit lane selection.
    #[inline(always)]
    unsafe fn transpose(src: *const f32, stride: usize, dst: *mut f32, offsets: &[usize]) {
        // SAFETY: row k of the block is src[k·stride..k·stride + 16] (the caller's contract).
        // (loops, not closures: a closure would be compiled without the
        // caller's CPU features, and its intrinsics would become calls)
        let mut r = [_mm512_setzero_ps(); 16];
        for (k, row) in r.iter_mut().enumerate() {
            *row = unsafe { _mm512_loadu_ps(src.add(k * stride)) };
        }
        // t[2m], t[2m+1]: rows 2m and 2m+1 interleaved (elements 0,1 and 2,3 of each lane)
        let mut t = [_mm512_setzero_ps(); 16];
        for m in 0..8 {
            t[2 * m] = _mm512_unpacklo_ps(r[2 * m], r[2 * m + 1]);
            t[2 * m + 1] = _mm512_unpackhi_ps(r[2 * m], r[2 * m + 1]);
        }
        // u[4m + n], lane j: rows 4m…4m+3 of column 4j + n
        let mut u = [_mm512_setzero_ps(); 16];
        for (i, u_i) in u.iter_mut().enumerate() {
            let (base, n) = (i / 4 * 4, i % 4);
            let (a, b) = (_mm512_castps_pd(t[base + n / 2]), _mm512_castps_pd(t[base + 2 + n / 2]));
            *u_i = _mm512_castpd_ps(if n % 2 == 0 { _mm512_unpacklo_pd(a, b) } else { _mm512_unpackhi_pd(a, b) });
        }
        for n in 0..4 {
            let (v0, v1, v2, v3) = (u[n], u[4 + n], u[8 + n], u[12 + n]);
            let (w0, w1) = (_mm512_shuffle_f32x4::<0x88>(v0, v1), _mm512_shuffle_f32x4::<0xDD>(v0, v1));
            let (w2, w3) = (_mm512_shuffle_f32x4::<0x88>(v2, v3), _mm512_shuffle_f32x4::<0xDD>(v2, v3));
            // column 4j + n is lane j of v0, v1, v2, v3, one after the other
            let columns = [
                _mm512_shuffle_f32x4::<0x88>(w0, w2),
                _mm512_shuffle_f32x4::<0x88>(w1, w3),
                _mm512_shuffle_f32x4::<0xDD>(w0, w2),
                _mm512_shuffle_f32x4::<0xDD>(w1, w3),
            ];
            for (j, column) in columns.into_iter().enumerate() {
                // SAFETY: offsets[4j + n] + 16 floats lie inside dst (the caller's contract).
                unsafe { _mm512_storeu_ps(dst.add(offsets[4 * j + n]), column) };
            }
        }
    }
}

/// The mask of the first `n` of 16 lanes.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn mask16(n: usize) -> u16 {
    if n >= 16 {
        u16::MAX
    } else {
        (1u16 << n) - 1
    }
}

#[cfg(target_arch = "x86_64")]
impl Simd for Avx2 {
    type V = __m256;
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        _mm256_setzero_ps()
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> __m256 {
        unsafe { _mm256_maskload_ps(p, mask8(n)) }
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> __m256 {
        _mm256_set1_ps(v)
    }
    #[inline(always)]
    unsafe fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
        _mm256_fmadd_ps(a, b, c)
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn add_to_first(p: *mut f32, n: usize, v: __m256) {
        // A masked store (vmaskmovps) is microcoded on AMD cores, many times
        // slower than a plain one: whole vectors take the plain store.
        // SAFETY: the caller's contract: the first n floats at p are ours.
        unsafe {
            if n == 8 {
                _mm256_storeu_ps(p, _mm256_add_ps(v, _mm256_loadu_ps(p)));
            } else {
                let mask = mask8(n);
                _mm256_maskstore_ps(p, mask, _mm256_add_ps(v, _mm256_maskload_ps(p, mask)));
            }
        }
    }
    /// Interleave pairs of rows (32-bit), then pairs of pairs (64-bit),
    /// then swap 128-bit halves.
    #[inline(always)]
    unsafe fn transpose(src: *const f32, stride: usize, dst: *mut f32, offsets: &[usize]) {
        // SAFETY: row k of the block is src[k·stride..k·stride + 8] (the caller's contract).
        let mut r = [_mm256_setzero_ps(); 8];
        for (k, row) in r.iter_mut().enumerate() {
            *row = unsafe { _mm256_loadu_ps(src.add(k * stride)) };
        }
        let mut t = [_mm256_setzero_ps(); 8];
        for m in 0..4 {
            t[2 * m] = _mm256_unpacklo_ps(r[2 * m], r[2 * m + 1]);
            t[2 * m + 1] = _mm256_unpackhi_ps(r[2 * m], r[2 * m + 1]);
        }
        // u[4m + n], 128-bit half h: rows 4m…4m+3 of column 4h + n
        let mut u = [_mm256_setzero_ps(); 8];
        for (i, u_i) in u.iter_mut().enumerate() {
            let (base, n) = (i / 4 * 4, i % 4);
            let (a, b) = (_mm256_castps_pd(t[base + n / 2]), _mm256_castps_pd(t[base + 2 + n / 2]));
            *u_i = _mm256_castpd_ps(if n % 2 == 0 { _mm256_unpacklo_pd(a, b) } else { _mm256_unpackhi_pd(a, b) });
        }
        for n in 0..4 {
            // column n: low halves of u[n] (rows 0–3) and u[4 + n] (rows 4–7); column 4 + n: the high halves
            let columns =
                [_mm256_permute2f128_ps::<0x20>(u[n], u[4 + n]), _mm256_permute2f128_ps::<0x31>(u[n], u[4 + n])];
            for (h, column) in columns.into_iter().enumerate() {
                // SAFETY: offsets[4h + n] + 8 floats lie inside dst (the caller's contract).
                unsafe { _mm256_storeu_ps(dst.add(offsets[4 * h + n]), column) };
            }
        }
    }
}

/// The mask of the first `n` of 8 lanes (a lane is on when its sign bit is set).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn mask8(n: usize) -> __m256i {
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Runs the transpose of set S on a 16 × 16 matrix (rows 16 apart) with
    /// scattered output rows, and checks every value.
    fn check_transpose<S: Simd>(transpose: unsafe fn(*const f32, usize, *mut f32, &[usize])) {
        let l = S::LANES;
        let src: Vec<f32> = (0..16 * 16).map(|i| i as f32).collect();
        let offsets: Vec<usize> = (0..l).map(|i| (l - 1 - i) * 20 + 3).collect();
        let mut dst = vec![-1.0; 20 * l + 16];
        // SAFETY: the test runs only where the CPU has the features; the block fits both buffers.
        unsafe { transpose(src.as_ptr(), 16, dst.as_mut_ptr(), &offsets) };
        for i in 0..l {
            for k in 0..l {
                assert_eq!(dst[offsets[i] + k], src[k * 16 + i], "row {i}, column {k}");
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn transpose_avx2(src: *const f32, stride: usize, dst: *mut f32, offsets: &[usize]) {
        unsafe { Avx2::transpose(src, stride, dst, offsets) }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn transpose_avx512(src: *const f32, stride: usize, dst: *mut f32, offsets: &[usize]) {
        unsafe { Avx512::transpose(src, stride, dst, offsets) }
    }

    #[test]
    fn transposes_move_every_value_to_its_place() {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            check_transpose::<Avx2>(transpose_avx2);
        }
        if is_x86_feature_detected!("avx512f") {
            check_transpose::<Avx512>(transpose_avx512);
        } else {
            eprintln!("skipped the AVX-512 transpose: this CPU has no AVX-512F");
        }
    }
}
