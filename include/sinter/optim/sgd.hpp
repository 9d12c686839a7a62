// SPDX-License-Identifier: Apache-2.0
// SGD with momentum, dampening, Nesterov and weight decay: PyTorch's update, one kernel per parameter.
#pragma once

#include <sinter/optim/optimizer.hpp>

namespace sinter::optim {

struct SGDOptions {
  SGDOptions(double lr) : lr_(lr) {}  // NOLINT: SGD(params, 0.01)
  SGDOptions& lr(double v) { lr_ = v; return *this; }
  SGDOptions& momentum(double v) { momentum_ = v; return *this; }
  SGDOptions& dampening(double v) { dampening_ = v; return *this; }
  SGDOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  SGDOptions& nesterov(bool v) { nesterov_ = v; return *this; }
  double lr_, momentum_ = 0, dampening_ = 0, weight_decay_ = 0;
  bool nesterov_ = false;
};

struct SGDState {
  Tensor momentum_buffer;
  NamedTensors named() const { return {{"momentum_buffer", momentum_buffer}}; }
  std::vector<std::pair<std::string, Tensor*>> slots() { return {{"momentum_buffer", &momentum_buffer}}; }
};

class SGD : public OptimizerWith<SGDOptions, SGDState> {
 public:
  SGD(std::vector<Tensor> params, SGDOptions o) : OptimizerWith(std::move(params), check(o)) {}

 protected:
  void update(Tensor& p, const Tensor& grad, SGDState& s, const SGDOptions& o) override {
    float* w = p.data();
    const float* g = grad.data();
    const float lr = static_cast<float>(o.lr_), wd = static_cast<float>(o.weight_decay_);
    const float mom = static_cast<float>(o.momentum_), damp = static_cast<float>(1 - o.dampening_);
    if (mom == 0) {
      update_kernel(p.numel(), [&](std::int64_t b, std::int64_t e) {
        for (std::int64_t i = b; i < e; ++i) w[i] -= lr * (g[i] + wd * w[i]);
      });
      return;
    }
    const bool first = !s.momentum_buffer.defined();
    if (first) s.momentum_buffer = empty(p.shape());
    float* buf = s.momentum_buffer.data();
    const bool nesterov = o.nesterov_;
    update_kernel(p.numel(), [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) {
        const float d = g[i] + wd * w[i];
        const float v = first ? d : mom * buf[i] + damp * d;  // the first step copies the gradient, as PyTorch
        buf[i] = v;
        w[i] -= lr * (nesterov ? d + mom * v : v);
      }
    });
  }

 private:
  static SGDOptions check(const SGDOptions& o) {
    SINTER_CHECK(o.lr_ >= 0 && o.momentum_ >= 0 && o.weight_decay_ >= 0, "SGD: lr, momentum and weight_decay must be "
                 "non-negative, got lr=", o.lr_, " momentum=", o.momentum_, " weight_decay=", o.weight_decay_);
    SINTER_CHECK(!o.nesterov_ || (o.momentum_ > 0 && o.dampening_ == 0),
                 "SGD: Nesterov momentum requires a momentum and zero dampening");
    return o;
  }
};

}  // namespace sinter::optim
