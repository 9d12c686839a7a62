// SPDX-License-Identifier: Apache-2.0
// Dropout: a seeded keep-mask drawn from this thread's generator (manual_seed makes it reproducible), applied in a
// fused expression, so x * mask / (1 - p) and its gradient are one kernel each.
#pragma once

#include <sinter/core/factory.hpp>
#include <sinter/ops/statement.hpp>

namespace sinter::nn::functional {

/// Zeroes each element with probability p and scales the rest by 1/(1-p) in training; the identity otherwise.
template <expr::NodeLike X>
auto dropout(const X& x_in, double p = 0.5, bool training = true) {
  SINTER_CHECK(p >= 0 && p <= 1, "dropout: probability has to be between 0 and 1, but got ", p);
  auto x = eval(x_in);
  using T = typename decltype(x)::value_type;
  if (!training || p == 0) return x;
  auto& gen = default_generator();
  const double keep_scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
  const TensorOf<T> mask = sinter::detail::host_filled<T>(x.shape(), x.device(), [&](std::int64_t) {
    return gen.uniform() >= p ? keep_scale : 0.0;
  });
  return TensorOf<T>(x * mask);
}

}  // namespace sinter::nn::functional
