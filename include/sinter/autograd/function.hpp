// SPDX-License-Identifier: Apache-2.0
// Custom ops with a hand-written backward (PyTorch's torch.autograd.Function): the forward runs without recording,
// and the backward receives the inputs, the output and the output's gradient and returns one gradient per input.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sinter/config.hpp>
#include <sinter/core/grad_mode.hpp>
#include <sinter/core/strided.hpp>
#include <sinter/core/tensor.hpp>

namespace sinter {

template <class T>
struct FunctionOf {
  using Tensors = std::vector<TensorOf<T>>;
  /// Computes the output from the inputs (runs under NoGradGuard).
  std::function<TensorOf<T>(const Tensors& inputs)> forward;
  /// Returns d(loss)/d(input k) for every input given d(loss)/d(output); an undefined tensor means "no gradient".
  std::function<Tensors(const Tensors& inputs, const TensorOf<T>& output, const TensorOf<T>& grad_output)> backward;
  std::string name = "CustomFunctionBackward";

  /// Runs the op and records it on the tape when an input requires grad.
  TensorOf<T> operator()(const Tensors& inputs) const {
    SINTER_CHECK(forward && backward, "custom function '", name, "' needs both forward and backward");
    TensorOf<T> out;
    {
      NoGradGuard guard;
      out = forward(inputs);
    }
    detail::require_defined(out.impl().get(), name.c_str());
    bool grad = false;
    for (const auto& x : inputs) grad = grad || (x.defined() && x.requires_grad());
    if (!grad || !is_grad_enabled()) return out;
    auto result = std::make_shared<TensorImpl>(*out.impl());  // a fresh handle that owns the tape node
    auto node = std::make_shared<Backward>(*this, inputs, out.detach());
    for (const auto& x : inputs) node->inputs.push_back(x.defined() ? x.impl() : nullptr);
    result->grad_fn = std::move(node);
    return TensorOf<T>(std::move(result));
  }

 private:
  class Backward final : public Node {
   public:
    Backward(const FunctionOf& f, const Tensors& inputs, TensorOf<T> out) : f_(f), out_(std::move(out)) {
      for (const auto& x : inputs) saved_.push_back(x.defined() ? x.detach() : TensorOf<T>());
    }
    const char* name() const noexcept override { return f_.name.c_str(); }
    void apply(const TensorImpl& g, std::vector<GradTarget>& targets) override {
      Tensors grads;
      {
        NoGradGuard guard;
        grads = f_.backward(saved_, out_, TensorOf<T>(std::make_shared<TensorImpl>(g)));
      }
      SINTER_CHECK(grads.size() == targets.size(), "custom function '", f_.name, "': backward returned ", grads.size(),
                   " gradients for ", targets.size(), " inputs");
      for (std::size_t k = 0; k < targets.size(); ++k) {
        if (!targets[k].buffer) continue;
        if (!grads[k].defined()) {
          if (!targets[k].accumulate) detail::fill(*targets[k].buffer, 0.0);
          continue;
        }
        SINTER_CHECK(grads[k].shape() == targets[k].buffer->shape, "custom function '", f_.name, "': the gradient of "
                     "input ", k, " has shape ", grads[k].shape(), " but the input has shape ", targets[k].buffer->shape);
        detail::copy_into(*targets[k].buffer, *grads[k].impl(), targets[k].accumulate);
      }
    }
    void release_saved() override {
      saved_.clear();
      out_ = TensorOf<T>();
    }

   private:
    FunctionOf f_;
    Tensors saved_;
    TensorOf<T> out_;
  };
};

using Function = FunctionOf<float>;

#define SINTER_FUNCTION_INSTANCES(X) X(struct FunctionOf<float>) X(struct FunctionOf<double>)
SINTER_FUNCTION_INSTANCES(SINTER_EXTERN_TEMPLATE)

}  // namespace sinter
