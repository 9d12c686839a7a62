// SPDX-License-Identifier: Apache-2.0
// Math<V>: the functions ops call, for a value type V. Here for scalars (host and CUDA device code);
// backend/cpu/simd.hpp specialises it for xsimd batches. Ops never name a backend.
#pragma once

#include <math.h>  // the C functions (expf, ...) are callable from CUDA device code too

#include <sinter/config.hpp>

namespace sinter::expr {

template <class V>
struct Math;

template <class T>
struct ScalarMath {
  using mask = bool;
  SINTER_HD static bool less(T a, T b) { return a < b; }
  SINTER_HD static bool less_eq(T a, T b) { return a <= b; }
  SINTER_HD static bool greater(T a, T b) { return a > b; }
  SINTER_HD static bool greater_eq(T a, T b) { return a >= b; }
  SINTER_HD static bool equal(T a, T b) { return a == b; }
  SINTER_HD static bool not_equal(T a, T b) { return a != b; }
  SINTER_HD static bool both(bool a, bool b) { return a && b; }
  SINTER_HD static T select(bool m, T a, T b) { return m ? a : b; }
  SINTER_HD static T max(T a, T b) { return a > b ? a : (a == a ? b : a); }  // NaN propagates, as in PyTorch
  SINTER_HD static T min(T a, T b) { return a < b ? a : (a == a ? b : a); }
};

template <>
struct Math<float> : ScalarMath<float> {
  SINTER_HD static float exp(float x) { return ::expf(x); }
  SINTER_HD static float log(float x) { return ::logf(x); }
  SINTER_HD static float log1p(float x) { return ::log1pf(x); }
  SINTER_HD static float sqrt(float x) { return ::sqrtf(x); }
  SINTER_HD static float abs(float x) { return ::fabsf(x); }
  SINTER_HD static float pow(float a, float b) { return ::powf(a, b); }
  SINTER_HD static float sin(float x) { return ::sinf(x); }
  SINTER_HD static float cos(float x) { return ::cosf(x); }
  SINTER_HD static float tanh(float x) { return ::tanhf(x); }
  SINTER_HD static float erf(float x) { return ::erff(x); }
};

template <>
struct Math<double> : ScalarMath<double> {
  SINTER_HD static double exp(double x) { return ::exp(x); }
  SINTER_HD static double log(double x) { return ::log(x); }
  SINTER_HD static double log1p(double x) { return ::log1p(x); }
  SINTER_HD static double sqrt(double x) { return ::sqrt(x); }
  SINTER_HD static double abs(double x) { return ::fabs(x); }
  SINTER_HD static double pow(double a, double b) { return ::pow(a, b); }
  SINTER_HD static double sin(double x) { return ::sin(x); }
  SINTER_HD static double cos(double x) { return ::cos(x); }
  SINTER_HD static double tanh(double x) { return ::tanh(x); }
  SINTER_HD static double erf(double x) { return ::erf(x); }
};

}  // namespace sinter::expr
