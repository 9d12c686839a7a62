// SPDX-License-Identifier: Apache-2.0
// RMSprop (centered, momentum) and Adagrad (lr_decay, initial accumulator): PyTorch's updates, one kernel each.
#pragma once

#include <cmath>

#include <sinter/optim/optimizer.hpp>

namespace sinter::optim {

namespace detail {
/// One RMSprop step per element (centered and momentum variants when their buffers are given).
struct RmspropUpdate {
  float *w, *sq, *buf, *ga;
  const float* g;
  float lr, alpha, eps, wd, mom;
  SINTER_HD void operator()(std::int64_t i) const {
    const float gi = g[i] + wd * w[i];
    sq[i] = alpha * sq[i] + (1 - alpha) * gi * gi;
    float avg;
    if (ga) {
      ga[i] = alpha * ga[i] + (1 - alpha) * gi;
      avg = expr::Math<float>::sqrt(sq[i] - ga[i] * ga[i]) + eps;
    } else {
      avg = expr::Math<float>::sqrt(sq[i]) + eps;
    }
    if (buf) {
      buf[i] = mom * buf[i] + gi / avg;
      w[i] -= lr * buf[i];
    } else {
      w[i] -= lr * gi / avg;
    }
  }
};

/// One Adagrad step per element.
struct AdagradUpdate {
  float *w, *acc;
  const float* g;
  float clr, wd, eps;
  SINTER_HD void operator()(std::int64_t i) const {
    const float gi = g[i] + wd * w[i];
    acc[i] += gi * gi;
    w[i] -= clr * gi / (expr::Math<float>::sqrt(acc[i]) + eps);
  }
};
}  // namespace detail

struct RMSpropOptions {
  RMSpropOptions(double lr = 1e-2) : lr_(lr) {}  // NOLINT
  RMSpropOptions& lr(double v) { lr_ = v; return *this; }
  RMSpropOptions& alpha(double v) { alpha_ = v; return *this; }
  RMSpropOptions& eps(double v) { eps_ = v; return *this; }
  RMSpropOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  RMSpropOptions& momentum(double v) { momentum_ = v; return *this; }
  RMSpropOptions& centered(bool v) { centered_ = v; return *this; }
  double lr_, alpha_ = 0.99, eps_ = 1e-8, weight_decay_ = 0, momentum_ = 0;
  bool centered_ = false;
};

struct RMSpropState {
  Tensor step, square_avg, momentum_buffer, grad_avg;
  NamedTensors named() const {
    return {{"step", step}, {"square_avg", square_avg}, {"momentum_buffer", momentum_buffer}, {"grad_avg", grad_avg}};
  }
  std::vector<std::pair<std::string, Tensor*>> slots() {
    return {{"step", &step}, {"square_avg", &square_avg}, {"momentum_buffer", &momentum_buffer},
            {"grad_avg", &grad_avg}};
  }
};

class RMSprop : public OptimizerWith<RMSpropOptions, RMSpropState> {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions o = {}) : OptimizerWith(std::move(params), o) {
    SINTER_CHECK(o.lr_ >= 0 && o.alpha_ >= 0 && o.eps_ >= 0 && o.momentum_ >= 0 && o.weight_decay_ >= 0,
                 "RMSprop: lr, alpha, eps, momentum and weight_decay must be non-negative");
  }

 protected:
  void update(Tensor& p, const Tensor& grad, RMSpropState& s, const RMSpropOptions& o) override;
};

struct AdagradOptions {
  AdagradOptions(double lr = 1e-2) : lr_(lr) {}  // NOLINT
  AdagradOptions& lr(double v) { lr_ = v; return *this; }
  AdagradOptions& lr_decay(double v) { lr_decay_ = v; return *this; }
  AdagradOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  AdagradOptions& initial_accumulator_value(double v) { initial_accumulator_value_ = v; return *this; }
  AdagradOptions& eps(double v) { eps_ = v; return *this; }
  double lr_, lr_decay_ = 0, weight_decay_ = 0, initial_accumulator_value_ = 0, eps_ = 1e-10;
};

struct AdagradState {
  Tensor step, sum;
  NamedTensors named() const { return {{"step", step}, {"sum", sum}}; }
  std::vector<std::pair<std::string, Tensor*>> slots() { return {{"step", &step}, {"sum", &sum}}; }
};

class Adagrad : public OptimizerWith<AdagradOptions, AdagradState> {
 public:
  Adagrad(std::vector<Tensor> params, AdagradOptions o = {}) : OptimizerWith(std::move(params), o) {
    SINTER_CHECK(o.lr_ >= 0 && o.lr_decay_ >= 0 && o.weight_decay_ >= 0 && o.initial_accumulator_value_ >= 0 &&
                     o.eps_ >= 0,
                 "Adagrad: lr, lr_decay, weight_decay, initial_accumulator_value and eps must be non-negative");
  }

 protected:
  void update(Tensor& p, const Tensor& grad, AdagradState& s, const AdagradOptions& o) override;
};

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED void RMSprop::update(Tensor& p, const Tensor& grad, RMSpropState& s, const RMSpropOptions& o) {
  if (!s.square_avg.defined()) {
    s.square_avg = zeros(p.shape(), p.device());
    if (o.momentum_ > 0) s.momentum_buffer = zeros(p.shape(), p.device());
    if (o.centered_) s.grad_avg = zeros(p.shape(), p.device());
  }
  bump_step(s.step);
  const detail::RmspropUpdate f{p.data(),
                                s.square_avg.data(),
                                o.momentum_ > 0 ? s.momentum_buffer.data() : nullptr,
                                o.centered_ ? s.grad_avg.data() : nullptr,
                                grad.data(),
                                static_cast<float>(o.lr_),
                                static_cast<float>(o.alpha_),
                                static_cast<float>(o.eps_),
                                static_cast<float>(o.weight_decay_),
                                static_cast<float>(o.momentum_)};
  sinter::detail::launch_for_each(p.device(), p.numel(), f, "RMSprop");
}

SINTER_SHARED void Adagrad::update(Tensor& p, const Tensor& grad, AdagradState& s, const AdagradOptions& o) {
  if (!s.sum.defined()) s.sum = full(p.shape(), static_cast<float>(o.initial_accumulator_value_), p.device());
  const double t = bump_step(s.step);
  const detail::AdagradUpdate f{p.data(), s.sum.data(), grad.data(),
                                static_cast<float>(o.lr_ / (1 + (t - 1) * o.lr_decay_)),
                                static_cast<float>(o.weight_decay_), static_cast<float>(o.eps_)};
  sinter::detail::launch_for_each(p.device(), p.numel(), f, "Adagrad");
}
#endif  // SINTER_DEFINE_SHARED

#define SINTER_RMSPROP_INSTANCES(X) \
  X(class OptimizerWith<RMSpropOptions, RMSpropState>) X(class OptimizerWith<AdagradOptions, AdagradState>)
SINTER_RMSPROP_INSTANCES(SINTER_EXTERN_TEMPLATE)

}  // namespace sinter::optim
