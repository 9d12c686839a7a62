// SPDX-License-Identifier: Apache-2.0
// The only file that includes xsimd: teaches Math and Lanes about xsimd batches, so every op in expr/ops.hpp
// vectorises without naming a backend. The instruction set is the compiler's target (-march); see docs.
#pragma once

#include <cstdint>

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
  static V exp(V x) { return xsimd::exp(x); }
  static V log(V x) { return xsimd::log(x); }
  static V log1p(V x) { return xsimd::log1p(x); }
  static V sqrt(V x) { return xsimd::sqrt(x); }
  static V abs(V x) { return xsimd::abs(x); }
  static V pow(V a, V b) { return xsimd::pow(a, b); }
  static V sin(V x) { return xsimd::sin(x); }
  static V cos(V x) { return xsimd::cos(x); }
  static V tanh(V x) { return xsimd::tanh(x); }
  static V erf(V x) { return xsimd::erf(x); }
  static mask less(V a, V b) { return a < b; }
  static mask less_eq(V a, V b) { return a <= b; }
  static mask greater(V a, V b) { return a > b; }
  static mask greater_eq(V a, V b) { return a >= b; }
  static mask equal(V a, V b) { return a == b; }
  static mask not_equal(V a, V b) { return a != b; }
  static mask both(mask a, mask b) { return a && b; }
  static V select(mask m, V a, V b) { return xsimd::select(m, a, b); }
  // NaN propagates, as in PyTorch (and as the scalar versions do).
  static V max(V a, V b) { return xsimd::select(a > b, a, xsimd::select(a == a, b, a)); }
  static V min(V a, V b) { return xsimd::select(a < b, a, xsimd::select(a == a, b, a)); }
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
