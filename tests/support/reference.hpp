// SPDX-License-Identifier: Apache-2.0
// Test helpers that read tensors element by element through their own shape and strides, independent of sinter's
// evaluators, so a reference never shares code with what it checks.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <sinter/sinter.hpp>

namespace testing {

/// Element `linear` (row-major over `out`) of t broadcast to `out`, read through t's strides.
template <class T>
double at(const sinter::TensorOf<T>& t, const sinter::Shape& out, std::int64_t linear) {
  std::int64_t off = t.storage_offset();
  const int r = out.size(), rt = t.dim();
  for (int d = r - 1; d >= 0; --d) {
    const std::int64_t i = linear % out[d];
    linear /= out[d];
    const int dt = d - (r - rt);
    if (dt >= 0 && t.shape()[dt] != 1) off += i * t.strides()[dt];
  }
  const T* base = t.data() - t.storage_offset();
  return static_cast<double>(base[off]);
}

/// Every element of `got` equals f(linear index) within tolerance.
template <class T>
void check_values(const sinter::TensorOf<T>& got, const std::function<double(std::int64_t)>& f, double rtol = 1e-5,
                  double atol = 1e-6) {
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const double want = f(i), have = at(got, got.shape(), i);
    INFO("element " << i << " of shape " << got.shape());
    if (std::isnan(want)) {
      CHECK(std::isnan(have));
    } else if (std::isinf(want)) {
      CHECK(have == want);
    } else {
      CHECK(std::fabs(have - want) <= atol + rtol * std::fabs(want));
    }
  }
}

using TD = sinter::TensorOf<double>;
using Fn = std::function<TD(const std::vector<TD>&)>;

}  // namespace testing
