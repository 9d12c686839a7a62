// SPDX-License-Identifier: Apache-2.0
// sinter::nn::functional: the stateless layer operations (torch::nn::functional). Also reachable as sinter::nn::F.
#pragma once

#include <sinter/nn/functional/conv.hpp>
#include <sinter/nn/functional/dropout.hpp>
#include <sinter/nn/functional/loss.hpp>
#include <sinter/nn/functional/normalization.hpp>
#include <sinter/nn/functional/pooling.hpp>
#include <sinter/ops/matmul.hpp>

namespace sinter::nn::functional {

/// y = x W^T + b (torch::nn::functional::linear). weight: [out, in]; bias: [out] or undefined.
template <class T>
TensorOf<T> linear(const TensorOf<T>& x, const TensorOf<T>& weight, const TensorOf<T>& bias = {}) {
  SINTER_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out_features, in_features], got ", weight.shape());
  SINTER_CHECK(x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: the input's last dim (", x.dim() ? x.size(-1) : 0,
               ", shape ", x.shape(), ") must equal in_features (", weight.size(1), ")");
  const TensorOf<T> y = matmul(x, weight.t());
  return bias.defined() ? TensorOf<T>(y + bias) : y;
}

}  // namespace sinter::nn::functional

namespace sinter::nn {
namespace F = functional;
}  // namespace sinter::nn
