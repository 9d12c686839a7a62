// SPDX-License-Identifier: Apache-2.0
// Gradient clipping (torch::nn::utils::clip_grad_norm_ / clip_grad_value_).
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include <sinter/ops/reduce.hpp>
#include <sinter/optim/optimizer.hpp>

namespace sinter::optim {

/// Scales all gradients together so their total norm is at most max_norm; returns the norm before clipping.
/// norm_type is p (2 by default) or infinity.
inline double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0) {
  SINTER_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be positive, got ", norm_type);
  const bool inf = std::isinf(norm_type);
  double total = 0;
  for (const auto& p : params) {
    if (!p.impl()->grad) continue;
    const Tensor g(p.impl()->grad);
    if (inf) total = std::max(total, static_cast<double>(amax(abs(g)).item()));
    else if (norm_type == 2) total += static_cast<double>(sum(g * g).item());
    else total += static_cast<double>(sum(pow(abs(g), static_cast<float>(norm_type))).item());
  }
  if (!inf) total = std::pow(total, 1.0 / norm_type);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1) {
    NoGradGuard guard;
    for (const auto& p : params)
      if (p.impl()->grad) {
        Tensor g(p.impl()->grad);
        g *= static_cast<float>(coef);
      }
  }
  return total;
}

/// Clamps every gradient element to [-clip_value, clip_value].
inline void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  NoGradGuard guard;
  const float c = static_cast<float>(clip_value);
  for (const auto& p : params)
    if (p.impl()->grad) {
      Tensor g(p.impl()->grad);
      g.copy_(clamp(g, -c, c));
    }
}

}  // namespace sinter::optim
