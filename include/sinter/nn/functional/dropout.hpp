// SPDX-License-Identifier: Apache-2.0
// Dropout: a keep-mask drawn by Philox4x32-10 on the tensor's own device (one kernel, in parallel), keyed by one draw
// from this thread's generator, so manual_seed makes it reproducible and the CPU and a GPU draw the same mask. The mask
// is applied in a fused expression: x * mask / (1 - p) and its gradient are one kernel each.
#pragma once

#include <sinter/core/factory.hpp>
#include <sinter/core/philox.hpp>
#include <sinter/ops/statement.hpp>

namespace sinter::nn::functional {

namespace detail {
/// Four mask entries per index: element i keeps its value (scaled) when word i % 4 of Philox block i / 4, read as a
/// number in [0, 1), is at least p.
template <class T>
struct DropoutMaskKernel {
  T* mask;
  std::int64_t n;
  std::uint32_t k0, k1;
  double p;
  T keep_scale;
  SINTER_HD void operator()(std::int64_t q) const {
    const PhiloxBlock r = philox4x32_10(static_cast<std::uint32_t>(q), static_cast<std::uint32_t>(q >> 32), 0, 0, k0, k1);
    for (int l = 0; l < 4; ++l) {
      const std::int64_t i = 4 * q + l;
      if (i >= n) return;
      mask[i] = static_cast<double>(r.v[l]) * 0x1.0p-32 >= p ? keep_scale : T(0);
    }
  }
};
}  // namespace detail

/// Zeroes each element with probability p and scales the rest by 1/(1-p) in training; the identity otherwise.
template <expr::NodeLike X>
auto dropout(const X& x_in, double p = 0.5, bool training = true) {
  SINTER_CHECK(p >= 0 && p <= 1, "dropout: probability has to be between 0 and 1, but got ", p);
  auto x = eval(x_in);
  using T = typename decltype(x)::value_type;
  if (!training || p == 0) return x;
  const std::uint64_t key = default_generator().next_u64();
  TensorOf<T> mask = empty<T>(x.shape(), x.device());
  const std::int64_t n = mask.numel();
  sinter::detail::launch_for_each(
      x.device(), (n + 3) / 4,
      detail::DropoutMaskKernel<T>{mask.data(), n, static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32),
                                   p, static_cast<T>(p < 1 ? 1.0 / (1.0 - p) : 0.0)},
      "dropout", 4);
  return TensorOf<T>(x * mask);
}

}  // namespace sinter::nn::functional
