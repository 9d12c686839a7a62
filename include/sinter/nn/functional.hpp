// SPDX-License-Identifier: Apache-2.0
// sinter::nn::functional: the stateless layer operations (torch::nn::functional). Also reachable as sinter::nn::F.
#pragma once

#include <sinter/nn/functional/conv.hpp>
#include <sinter/nn/functional/dropout.hpp>
#include <sinter/nn/functional/loss.hpp>
#include <sinter/nn/functional/normalization.hpp>
#include <sinter/nn/functional/pooling.hpp>
#include <sinter/backend/cpu/gemm.hpp>
#include <sinter/ops/matmul.hpp>

namespace sinter::nn::functional {

namespace detail {

/// dx = g W, dW (+)= g^T x, db (+)= column sums of g: each written straight into its buffer (no transposed copy).
template <class T>
class LinearBackward final : public Node {
 public:
  LinearBackward(std::shared_ptr<TensorImpl> x, std::shared_ptr<TensorImpl> w, std::int64_t N, std::int64_t in,
                 std::int64_t out)
      : x_(std::move(x)), w_(std::move(w)), N_(N), in_(in), out_(out) {}
  const char* name() const noexcept override { return "AddmmBackward"; }
  void apply(const TensorImpl& g, std::vector<GradTarget>& targets) override {
    const T* gp = static_cast<const T*>(g.data());
    if (targets[0].buffer)
      cpu::gemm<T>(N_, in_, out_, gp, out_, 1, static_cast<const T*>(w_->data()), in_, 1,
                   static_cast<T*>(targets[0].buffer->data()), in_, targets[0].accumulate);
    if (targets[1].buffer)
      cpu::gemm<T>(out_, in_, N_, gp, 1, out_, static_cast<const T*>(x_->data()), in_, 1,
                   static_cast<T*>(targets[1].buffer->data()), in_, targets[1].accumulate);
    if (targets.size() > 2 && targets[2].buffer) {
      sinter::detail::count_kernel(kCPU);
      T* db = static_cast<T*>(targets[2].buffer->data());
      if (!targets[2].accumulate) std::fill(db, db + out_, T(0));
      for (std::int64_t i = 0; i < N_; ++i)
        for (std::int64_t j = 0; j < out_; ++j) db[j] += gp[i * out_ + j];
    }
  }
  void release_saved() override {
    x_.reset();
    w_.reset();
  }

 private:
  std::shared_ptr<TensorImpl> x_, w_;
  std::int64_t N_, in_, out_;
};

}  // namespace detail

/// y = x W^T + b (torch::nn::functional::linear). weight: [out, in]; bias: [out] or undefined. x: [*, in].
/// One GEMM forward with the bias written first and accumulated onto; backward writes dx, dW and db directly.
template <class T>
TensorOf<T> linear(const TensorOf<T>& input, const TensorOf<T>& weight, const TensorOf<T>& bias = {}) {
  sinter::detail::require_defined(input.impl().get(), "linear");
  sinter::detail::require_defined(weight.impl().get(), "linear");
  SINTER_CHECK(weight.dim() == 2, "linear: weight must be 2-D [out_features, in_features], got ", weight.shape());
  SINTER_CHECK(input.dim() >= 1 && input.size(-1) == weight.size(1), "linear: the input's last dim (",
               input.dim() ? input.size(-1) : 0, ", shape ", input.shape(), ") must equal in_features (",
               weight.size(1), ")");
  if (bias.defined())
    SINTER_CHECK(bias.dim() == 1 && bias.size(0) == weight.size(0), "linear: bias must have shape [", weight.size(0),
                 "], got ", bias.shape());
  if (!input.device().is_cpu()) {  // the generic path (it names the CUDA fix when no backend is compiled in)
    const TensorOf<T> y = matmul(input, weight.t());
    return bias.defined() ? TensorOf<T>(y + bias) : y;
  }
  const std::int64_t in = weight.size(1), out = weight.size(0), N = input.numel() / in;
  const TensorOf<T> x = input.contiguous(), w = weight.contiguous();
  Shape out_shape = input.shape();
  out_shape[out_shape.size() - 1] = out;
  auto y = TensorImpl::empty(out_shape, dtype_of<T>(), kCPU);
  T* yp = static_cast<T*>(y->data());
  if (bias.defined()) {
    const TensorOf<T> b = bias.contiguous();
    for (std::int64_t i = 0; i < N; ++i) std::copy(b.data(), b.data() + out, yp + i * out);
  }
  cpu::gemm<T>(N, out, in, x.data(), in, 1, w.data(), 1, in, yp, out, bias.defined());
  sinter::detail::check_forward_anomaly(*y, {x.impl().get(), w.impl().get(), bias.defined() ? bias.impl().get() : nullptr},
                                        "linear");
  const bool grad = is_grad_enabled() && (x.requires_grad() || w.requires_grad() ||
                                          (bias.defined() && bias.requires_grad()));
  if (grad) {
    auto node = std::make_shared<detail::LinearBackward<T>>(x.impl(), w.impl(), N, in, out);
    node->inputs = {x.impl(), w.impl()};
    if (bias.defined()) node->inputs.push_back(bias.impl());
    y->grad_fn = std::move(node);
  }
  return TensorOf<T>(std::move(y));
}

#define SINTER_LINEAR_INSTANCES(X, T) \
  X(TensorOf<T> linear<T>(const TensorOf<T>&, const TensorOf<T>&, const TensorOf<T>&))
SINTER_LINEAR_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_LINEAR_INSTANCES(SINTER_EXTERN_TEMPLATE, double)
}  // namespace sinter::nn::functional

namespace sinter::nn {
namespace F = functional;
}  // namespace sinter::nn
