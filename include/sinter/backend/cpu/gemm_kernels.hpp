// SPDX-License-Identifier: Apache-2.0
// The GEMM's inner kernels for each instruction set this program may meet (gemm_isa.hpp), and the table gemm.hpp
// calls them through. The kernels are written once (gemm_kernels.inc) against a small vector type: xsimd's batch for
// the compile target, the compiler's intrinsics inside a target region for AVX2+FMA and AVX-512 (xsimd 8 picks its
// instruction set when the translation unit is compiled, so it cannot describe a wider one inside a region).
#pragma once

#include <cstdint>

#include <sinter/backend/cpu/gemm_isa.hpp>
#include <sinter/backend/cpu/simd.hpp>
#include <sinter/config.hpp>

#if defined(SINTER_GEMM_AVX2) || defined(SINTER_GEMM_AVX512)
#include <immintrin.h>
#endif

namespace sinter::cpu {

/// Columns of C per dot-product block (dot_band): the GEMM's threads split C's columns in multiples of it.
inline constexpr int kDotCols = 4;

/// One instruction set's kernels: W lanes per vector, dot_rows rows of A per dot-product block, the micro-kernel
/// (micro_tile in gemm_kernels.inc) and the A . B^T band (dot_band). Plain function pointers: one call per tile of
/// C (hundreds of FMAs), so the indirection costs nothing measurable.
template <class T>
struct GemmKernels {
  int W;
  int tile_rows;
  int dot_rows;
  void (*tile)(std::int64_t kc, const T* ap, const T* bp, std::int64_t ldb, T* c, std::int64_t ldc, int mr, int nr,
               bool accumulate);
  /// The micro-kernel for at most tile_rows / 2 rows of a panel packed for tile_rows (an edge of C): half the work.
  void (*tile_half)(std::int64_t kc, const T* ap, const T* bp, std::int64_t ldb, T* c, std::int64_t ldc, int mr,
                    int nr, bool accumulate);
  void (*dot)(int rm, std::int64_t K, const T* a, std::int64_t lda, const T* bt, std::int64_t ldb, T* c,
              std::int64_t ldc, std::int64_t ncols, bool accumulate);
};

#if !defined(SINTER_GEMM_NO_XSIMD)
namespace gemm_compiled {
/// The compile target's vectors, through xsimd.
template <class T>
struct Vec {
  using V = xsimd::batch<T>;
  static constexpr int W = static_cast<int>(V::size);
  SINTER_ALWAYS_INLINE static V zero() { return V(T(0)); }
  SINTER_ALWAYS_INLINE static V set1(T x) { return V(x); }
  SINTER_ALWAYS_INLINE static V load(const T* p) { return V::load_unaligned(p); }
  SINTER_ALWAYS_INLINE static V fma(V a, V b, V c) { return xsimd::fma(a, b, c); }
  SINTER_ALWAYS_INLINE static V add(V a, V b) { return a + b; }
  SINTER_ALWAYS_INLINE static void store(T* p, V v) { v.store_unaligned(p); }
  SINTER_ALWAYS_INLINE static T sum(V v) { return xsimd::hadd(v); }
  /// The first n < W elements at p, zeros after them (a row's tail, without reading past it).
  SINTER_ALWAYS_INLINE static V load_n(const T* p, int n) {
    alignas(64) T t[W] = {};
    for (int i = 0; i < n; ++i) t[i] = p[i];
    return V::load_aligned(t);
  }
};
inline constexpr int kDotRows = 3;  // 12 accumulators + 3 rows of A + 1 of B: 16 registers
#if defined(__AVX512F__) || defined(__aarch64__)
inline constexpr int kVectorRegisters = 32;
#else
inline constexpr int kVectorRegisters = 16;
#endif
#include <sinter/backend/cpu/gemm_kernels.inc>
}  // namespace gemm_compiled
#endif

// Every function defined between push and pop is compiled for the named instruction set, templates included; the
// region is left out where the compile target has the set already.
#if defined(SINTER_GEMM_AVX2)
#if !(defined(__AVX2__) && defined(__FMA__))
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#endif
namespace gemm_avx2 {
template <class T>
struct Vec;
template <>
struct Vec<float> {
  using V = __m256;
  static constexpr int W = 8;
  SINTER_ALWAYS_INLINE static V zero() { return _mm256_setzero_ps(); }
  SINTER_ALWAYS_INLINE static V set1(float x) { return _mm256_set1_ps(x); }
  SINTER_ALWAYS_INLINE static V load(const float* p) { return _mm256_loadu_ps(p); }
  SINTER_ALWAYS_INLINE static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  SINTER_ALWAYS_INLINE static V add(V a, V b) { return _mm256_add_ps(a, b); }
  SINTER_ALWAYS_INLINE static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  SINTER_ALWAYS_INLINE static float sum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  SINTER_ALWAYS_INLINE static V load_n(const float* p, int n) {
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
  }
  /// out[0..4) (+)= the sums of a, b, c, d: one transposing reduction for four dot products.
  SINTER_ALWAYS_INLINE static void sum4(float* out, V a, V b, V c, V d, bool accumulate) {
    const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));  // a0-3 b0-3 c0-3 d0-3 | a4-7 ..
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
    if (accumulate) s = _mm_add_ps(_mm_loadu_ps(out), s);
    _mm_storeu_ps(out, s);
  }
};
template <>
struct Vec<double> {
  using V = __m256d;
  static constexpr int W = 4;
  SINTER_ALWAYS_INLINE static V zero() { return _mm256_setzero_pd(); }
  SINTER_ALWAYS_INLINE static V set1(double x) { return _mm256_set1_pd(x); }
  SINTER_ALWAYS_INLINE static V load(const double* p) { return _mm256_loadu_pd(p); }
  SINTER_ALWAYS_INLINE static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  SINTER_ALWAYS_INLINE static V add(V a, V b) { return _mm256_add_pd(a, b); }
  SINTER_ALWAYS_INLINE static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  SINTER_ALWAYS_INLINE static double sum(V v) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
  SINTER_ALWAYS_INLINE static V load_n(const double* p, int n) {
    return _mm256_maskload_pd(p, _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)));
  }
};
inline constexpr int kDotRows = 3;
inline constexpr int kVectorRegisters = 16;
#include <sinter/backend/cpu/gemm_kernels.inc>
}  // namespace gemm_avx2
#if !(defined(__AVX2__) && defined(__FMA__))
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
#endif  // SINTER_GEMM_AVX2

#if defined(SINTER_GEMM_AVX512)
#if !defined(__AVX512F__)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f")
#endif
#endif
namespace gemm_avx512 {
// An empty asm that takes v in a register: g++ otherwise folds a vector used by several FMAs into each of them as a
// memory operand, a load per FMA (gemm_kernels.inc, dot_block).
SINTER_ALWAYS_INLINE void keep_in_register(__m512& v) { asm("" : "+v"(v)); }
SINTER_ALWAYS_INLINE void keep_in_register(__m512d& v) { asm("" : "+v"(v)); }
template <class T>
struct Vec;
template <>
struct Vec<float> {
  using V = __m512;
  static constexpr int W = 16;
  SINTER_ALWAYS_INLINE static V zero() { return _mm512_setzero_ps(); }
  SINTER_ALWAYS_INLINE static V set1(float x) { return _mm512_set1_ps(x); }
  SINTER_ALWAYS_INLINE static V load(const float* p) { return _mm512_loadu_ps(p); }
  SINTER_ALWAYS_INLINE static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  SINTER_ALWAYS_INLINE static V add(V a, V b) { return _mm512_add_ps(a, b); }
  SINTER_ALWAYS_INLINE static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  // Through memory: GCC 12's _mm512_reduce_add_* trips -Wmaybe-uninitialized inside its own header in user builds.
  SINTER_ALWAYS_INLINE static float sum(V v) {
    alignas(64) float t[16];
    _mm512_store_ps(t, v);
    const __m256 h = _mm256_add_ps(_mm256_load_ps(t), _mm256_load_ps(t + 8));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  SINTER_ALWAYS_INLINE static V load_n(const float* p, int n) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
  }
  /// The sum of v's two halves (a member, not a lambda: nvcc's host compile leaves a lambda outside the target region).
  /// Zero-masked extracts: GCC 12's plain extract (and the cast to the low half, built on it) starts from an
  /// undefined vector and trips -Wmaybe-uninitialized in user builds.
  SINTER_ALWAYS_INLINE static __m256 fold(V v) {
    const __m512d d = _mm512_castps_pd(v);
    return _mm256_add_ps(_mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, d, 0)),
                         _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xFF, d, 1)));
  }
  /// out[0..4) (+)= the sums of a, b, c, d: halves folded, then one transposing reduction for four dot products
  /// (four separate sums cost more than the K = 100 dot products of LeNet's second weight gradient).
  SINTER_ALWAYS_INLINE static void sum4(float* out, V a, V b, V c, V d, bool accumulate) {
    const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(fold(a), fold(b)), _mm256_hadd_ps(fold(c), fold(d)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
    if (accumulate) s = _mm_add_ps(_mm_loadu_ps(out), s);
    _mm_storeu_ps(out, s);
  }
};
template <>
struct Vec<double> {
  using V = __m512d;
  static constexpr int W = 8;
  SINTER_ALWAYS_INLINE static V zero() { return _mm512_setzero_pd(); }
  SINTER_ALWAYS_INLINE static V set1(double x) { return _mm512_set1_pd(x); }
  SINTER_ALWAYS_INLINE static V load(const double* p) { return _mm512_loadu_pd(p); }
  SINTER_ALWAYS_INLINE static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  SINTER_ALWAYS_INLINE static V add(V a, V b) { return _mm512_add_pd(a, b); }
  SINTER_ALWAYS_INLINE static void store(double* p, V v) { _mm512_storeu_pd(p, v); }
  SINTER_ALWAYS_INLINE static double sum(V v) {
    alignas(64) double t[8];
    _mm512_store_pd(t, v);
    const __m256d h = _mm256_add_pd(_mm256_load_pd(t), _mm256_load_pd(t + 4));
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
  SINTER_ALWAYS_INLINE static V load_n(const double* p, int n) {
    return _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << n) - 1), p);
  }
};
inline constexpr int kDotRows = 6;  // 24 accumulators + 4 vectors of B + 1 row of A: 29 of 32 registers
inline constexpr int kVectorRegisters = 32;
#include <sinter/backend/cpu/gemm_kernels.inc>
}  // namespace gemm_avx512
#if !defined(__AVX512F__)
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
#endif  // SINTER_GEMM_AVX512

/// The kernels of the instruction set the GEMM runs now (gemm_isa()).
template <class T>
const GemmKernels<T>& gemm_kernels() {
  switch (gemm_isa()) {
#if defined(SINTER_GEMM_AVX2)
    case GemmIsa::avx2: return gemm_avx2::kernels<T>;
#endif
#if defined(SINTER_GEMM_AVX512)
    case GemmIsa::avx512: return gemm_avx512::kernels<T>;
#endif
#if defined(SINTER_GEMM_NO_XSIMD)
    default: return gemm_avx512::kernels<T>;  // not reached: `compiled` is not available (gemm_isa_available)
#else
    default: return gemm_compiled::kernels<T>;
#endif
  }
}

}  // namespace sinter::cpu
