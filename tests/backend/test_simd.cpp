// SPDX-License-Identifier: Apache-2.0
// sinter's own float exp and tanh in SIMD lanes (backend/cpu/simd.hpp) through statements: over millions of inputs
// against the value in double, and their ends (overflow to inf, gradual underflow, NaN, signed zeros, saturation).
// The file compiles for the machine's widest instruction set; both functions are the same for every one.
#include <cmath>
#include <cstring>
#include <limits>

#include <catch2/catch.hpp>

#include <sinter/sinter.hpp>

namespace st = sinter;

namespace {

/// |got - want| in units of the last place of want (a float).
double ulps(float got, double want) {
  const float w = static_cast<float>(want);
  const double ulp = std::nextafter(std::fabs(w), std::numeric_limits<float>::infinity()) - std::fabs(w);
  return std::fabs(double(got) - want) / ulp;
}

/// Every step-th float from 0 to max_magnitude as f, then -f (f only up to max_positive), padded with 0.5 to a
/// multiple of 64 lanes.
std::vector<float> signed_sample(std::uint32_t step, float max_positive, float max_magnitude) {
  std::vector<float> in;
  for (std::uint32_t bits = 0; bits < 0x7f800000u; bits += step) {
    float f;
    std::memcpy(&f, &bits, sizeof f);
    if (f > max_magnitude) break;
    if (f <= max_positive) in.push_back(f);
    in.push_back(-f);
  }
  while (in.size() % 64) in.push_back(0.5f);
  return in;
}

}  // namespace

TEST_CASE("float exp is within 2 ulp over its range, with IEEE overflow and underflow", "[backend][simd][exp]") {
  // Every 509th float in [-104, 89] (the range where e^x is neither 0 nor inf).
  const std::vector<float> in = signed_sample(509, 89.0f, 104.0f);
  const auto out = st::Tensor(st::exp(st::from_vector(in))).to_vector();
  double worst = 0;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const double want = std::exp(double(in[i]));
    if (want < std::numeric_limits<float>::min()) {  // a subnormal result: within one subnormal step
      if (std::fabs(double(out[i]) - want) > std::numeric_limits<float>::denorm_min()) ++bad;
      continue;
    }
    if (want > std::numeric_limits<float>::max()) {
      if (!(out[i] == std::numeric_limits<float>::infinity() || ulps(out[i], std::numeric_limits<float>::max()) <= 2))
        ++bad;
      continue;
    }
    worst = std::max(worst, ulps(out[i], want));
  }
  INFO(in.size() << " inputs, worst " << worst << " ulp");
  CHECK(bad == 0);
  CHECK(worst <= 2.0);

  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> ends = {inf, -inf, nan, 0.0f, -0.0f, 88.72f, 88.73f, 1000.0f, -1000.0f, -87.0f, -104.5f};
  ends.resize(16, 1.0f);
  const auto e = st::Tensor(st::exp(st::from_vector(ends))).to_vector();
  CHECK(e[0] == inf);
  CHECK(e[1] == 0.0f);
  CHECK(std::isnan(e[2]));
  CHECK(e[3] == 1.0f);
  CHECK(e[4] == 1.0f);
  CHECK(ulps(e[5], std::exp(double(ends[5]))) <= 2);  // just below FLT_MAX
  CHECK(e[6] == inf);
  CHECK(e[7] == inf);
  CHECK(e[8] == 0.0f);
  CHECK(ulps(e[9], std::exp(-87.0)) <= 2);  // just above FLT_MIN
  CHECK(e[10] == 0.0f);
}

TEST_CASE("float tanh is within 3 ulp, odd, and saturates to +-1", "[backend][simd][tanh]") {
  // Every 251st float up to 12 (tanh is 1 in float from 9.1 on), both signs: small lanes, where the result is
  // nearly x, next to lanes near 1 in the same batches.
  const std::vector<float> in = signed_sample(251, 12.0f, 12.0f);
  const auto out = st::Tensor(st::tanh(st::from_vector(in))).to_vector();
  double worst = 0;
  std::size_t odd = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const double want = std::tanh(double(in[i]));
    worst = std::max(worst, want == 0 ? std::fabs(double(out[i])) : ulps(out[i], want));
    if (i % 2 == 1 && i + 1 < in.size() && out[i] != -out[i - 1]) ++odd;
  }
  INFO(in.size() << " inputs, worst " << worst << " ulp");
  CHECK(worst <= 3.0);
  CHECK(odd == 0);

  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> ends = {inf, -inf, nan, 0.0f, -0.0f, 1e-30f, -1e-40f, 9.5f, -20.0f, 1e30f};
  ends.resize(16, 1.0f);
  const auto t = st::Tensor(st::tanh(st::from_vector(ends))).to_vector();
  CHECK(t[0] == 1.0f);
  CHECK(t[1] == -1.0f);
  CHECK(std::isnan(t[2]));
  CHECK((t[3] == 0.0f && !std::signbit(t[3])));
  CHECK((t[4] == 0.0f && std::signbit(t[4])));
  CHECK(t[5] == 1e-30f);
  CHECK(t[6] == -1e-40f);  // a subnormal input is its own tanh
  CHECK(t[7] == 1.0f);
  CHECK(t[8] == -1.0f);
  CHECK(t[9] == 1.0f);
}
