// SPDX-License-Identifier: Apache-2.0
// The only file that includes xsimd: teaches Math and Lanes about xsimd batches, so every op in expr/ops.hpp
// vectorises without naming a backend. The instruction set is the compiler's target (-march); see docs.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

// g++ without optimisation (-O0, a Debug build) defines a few AVX-512BW intrinsics as macros that cast their
// arguments, and xsimd 8's integer select names them in a switch over the lane size, so every branch is compiled:
// with -march on an AVX-512 machine, any use of log or pow stopped at "invalid cast to __v64qi". The functions g++
// defines when optimising take the same place (tests/backend/debug_build_avx512.cpp holds this).
#if defined(__GNUC__) && !defined(__clang__) && !defined(__OPTIMIZE__) && defined(__AVX512BW__)
#include <immintrin.h>
#undef _mm512_mask_blend_epi8
#undef _mm512_mask_blend_epi16
inline __m512i _mm512_mask_blend_epi8(__mmask64 u, __m512i a, __m512i w) {
  return reinterpret_cast<__m512i>(__builtin_ia32_blendmb_512_mask(reinterpret_cast<__v64qi>(a),
                                                                    reinterpret_cast<__v64qi>(w), u));
}
inline __m512i _mm512_mask_blend_epi16(__mmask32 u, __m512i a, __m512i w) {
  return reinterpret_cast<__m512i>(__builtin_ia32_blendmw_512_mask(reinterpret_cast<__v32hi>(a),
                                                                    reinterpret_cast<__v32hi>(w), u));
}
#endif
#include <xsimd/xsimd.hpp>

#include <sinter/expr/math.hpp>
#include <sinter/expr/plan.hpp>

namespace sinter::cpu {
/// The widest batch of T for the instruction set this translation unit is compiled for.
template <class T>
using vec = xsimd::batch<T>;
}  // namespace sinter::cpu

namespace sinter::expr {

template <class T, class A>
struct Math<xsimd::batch<T, A>> {
  using V = xsimd::batch<T, A>;
  using mask = xsimd::batch_bool<T, A>;
  static V exp(V x) {
    if constexpr (std::is_same_v<T, float>) return exp_float(x);
    else return xsimd::exp(x);
  }
  static V log(V x) {
    // xsimd's double log is off by up to 2 for subnormal inputs; those rare lanes take the C library's log.
    if (xsimd::any((x > V(T(0))) & (x < V(std::numeric_limits<T>::min())))) [[unlikely]]
      return per_lane(x, x, [](T a, T) { return std::log(a); });
    return xsimd::log(x);
  }
  static V log1p(V x) { return xsimd::log1p(x); }
  static V sqrt(V x) { return xsimd::sqrt(x); }
  static V abs(V x) { return xsimd::abs(x); }
  /// xsimd's pow is fast and accurate for finite, normal, nonzero bases and finite nonzero exponents, but not IEEE
  /// at the edges (0^0 gives 0, inf^0 and pow(-inf, 0.5) NaN, subnormal bases lose digits). A batch with any such
  /// lane takes the C library's pow, lane by lane, so SIMD lanes and scalar tails give the same answer.
  static V pow(V a, V b) {
    const V inf(std::numeric_limits<T>::infinity());
    const auto regular = (xsimd::abs(a) >= V(std::numeric_limits<T>::min())) & (xsimd::abs(a) < inf) &
                         (xsimd::abs(b) < inf) & (b != V(T(0)));
    if (!xsimd::all(regular)) [[unlikely]]
      return per_lane(a, b, [](T x, T y) { return std::pow(x, y); });
    return xsimd::pow(a, b);
  }
  static V sin(V x) { return xsimd::sin(x); }
  static V cos(V x) { return xsimd::cos(x); }
  static V tanh(V x) {
    if constexpr (std::is_same_v<T, float>) return tanh_float(x);
    else return xsimd::tanh(x);
  }
  static V erf(V x) { return xsimd::erf(x); }
  static mask less(V a, V b) { return a < b; }
  static mask less_eq(V a, V b) { return a <= b; }
  static mask greater(V a, V b) { return a > b; }
  static mask greater_eq(V a, V b) { return a >= b; }
  static mask equal(V a, V b) { return a == b; }
  // Not xsimd's != : on AVX and AVX-512 it compares "ordered" (NaN != x is false), unlike C++, SSE2 and PyTorch.
  static mask not_equal(V a, V b) { return !(a == b); }
  static mask both(mask a, mask b) { return a && b; }
  static V select(mask m, V a, V b) { return xsimd::select(m, a, b); }
  // NaN propagates, as in PyTorch (and as the scalar versions do).
  static V max(V a, V b) { return xsimd::select(a > b, a, xsimd::select(a == a, b, a)); }
  static V min(V a, V b) { return xsimd::select(a < b, a, xsimd::select(a == a, b, a)); }

 private:
  /// For float: k = round(x / ln 2) and e^r - 1 for r = x - k ln 2 (|r| <= ln(2) / 2) as r + r^2 p(r), p fitted here
  /// (relative error of e^r 4e-9 before rounding). x must be finite.
  static V expm1_reduced(V x, V& k) {
    k = xsimd::nearbyint(x * V(1.44269504f));
    // ln 2 in two parts: k * 0.693359375 is exact for |k| < 2^15
    V r = xsimd::fnma(k, V(0.693359375f), x);
    r = xsimd::fnma(k, V(-2.12194440e-4f), r);
    V p = xsimd::fma(V(0.00137514078f), r, V(0.00836891634f));
    p = xsimd::fma(p, r, V(0.0416695331f));
    p = xsimd::fma(p, r, V(0.166665185f));
    p = xsimd::fma(p, r, V(0.499999886f));
    return xsimd::fma(p, r * r, r);
  }
  /// float e^x = 2^k e^r with IEEE ends: overflow to inf, gradual underflow (xsimd's exp returns 0 below e^-87.3,
  /// where the result is still a subnormal float, and inf above e^88.38, where it is still finite). Within 1 ulp
  /// (tests/backend/test_simd.cpp). Also the exp of sigmoid, silu, softplus, elu, softmax and cross-entropy.
  static V exp_float(V x) {
    // Clamped so that r stays finite (e^88.8 overflows and e^-104 underflows anyway); NaN passes through, as max
    // and min return their second operand when one is NaN.
    const V c = xsimd::min(V(88.8f), xsimd::max(V(-104.0f), x));
    V k;
    const V q = expm1_reduced(c, k);
    return times_pow2(q + V(1.0f), k);
  }
  /// float 2^k for integral k in [-126, 127], built in the exponent bits (one instruction on AVX-512).
  static V pow2(V k) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, A>) return _mm512_scalef_ps(_mm512_set1_ps(1.0f), k);
#endif
    return xsimd::bitwise_cast<V>((xsimd::to_int(k) + xsimd::batch<std::int32_t, A>(127)) << 23);
  }
  /// float y * 2^k for integral k in [-150, 128] with IEEE ends: vscalefps on AVX-512; elsewhere 2^k in two normal
  /// halves, the first product exact and the second rounding once, into the subnormals or to inf where the result
  /// lies there.
  static V times_pow2(V y, V k) {
#if defined(__AVX512F__)
    if constexpr (std::is_base_of_v<xsimd::avx512f, A>) return _mm512_scalef_ps(y, k);
#endif
    const V h = xsimd::floor(k * V(0.5f));
    return y * pow2(h) * pow2(k - h);
  }
  /// float tanh|x| = (e^2|x| - 1) / (e^2|x| + 1), with e^2|x| - 1 = 2^k q + (2^k - 1) (expm1_reduced; k = 0 near 0,
  /// where q keeps x's digits): one exponential and one division for every lane. xsimd's tanh also evaluates a
  /// polynomial for small lanes, and random data has both kinds in every batch. Within 3 ulp, as CUDA's tanhf is
  /// within 2 (tests/backend/test_simd.cpp).
  static V tanh_float(V x) {
    // tanh is 1 in float from |x| = 9.1 on; NaN passes through min, which returns its second operand
    // when one is NaN.
    const V ax = xsimd::abs(x);
    const V z = xsimd::min(V(20.0f), ax + ax);
    V k;
    const V q = expm1_reduced(z, k);
    const V s = pow2(k);  // k <= 29
    const V em1 = xsimd::fma(s, q, s - V(1.0f));
    return xsimd::bitofsign(x) | (em1 / (em1 + V(2.0f)));
  }
  // Out of line and cold: the rare fallback must not grow every kernel that uses log or pow.
  template <class F>
  [[gnu::noinline, gnu::cold]] static V per_lane(V a, V b, F f) {
    alignas(64) T x[V::size], y[V::size];
    a.store_aligned(x);
    b.store_aligned(y);
    for (std::size_t i = 0; i < V::size; ++i) x[i] = f(x[i], y[i]);
    return V::load_aligned(x);
  }
};

template <class T, class A>
struct Lanes<xsimd::batch<T, A>> {
  using V = xsimd::batch<T, A>;
  static constexpr int width = static_cast<int>(V::size);
  static V load(const T* row, std::int64_t j, std::int64_t stride) {
    if (stride == 1) return V::load_unaligned(row + j);
    if (stride == 0) return V(row[0]);
    alignas(64) T buf[V::size];
    for (std::size_t k = 0; k < V::size; ++k) buf[k] = row[(j + static_cast<std::int64_t>(k)) * stride];
    return V::load_aligned(buf);
  }
  static void store(T* row, std::int64_t j, std::int64_t stride, V v) {
    if (stride == 1) {
      v.store_unaligned(row + j);
      return;
    }
    alignas(64) T buf[V::size];
    v.store_aligned(buf);
    for (std::size_t k = 0; k < V::size; ++k) row[(j + static_cast<std::int64_t>(k)) * stride] = buf[k];
  }
};

}  // namespace sinter::expr
