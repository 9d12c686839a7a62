// SPDX-License-Identifier: Apache-2.0
// Adam (with amsgrad) and AdamW (decoupled weight decay): PyTorch's update, one kernel per parameter.
#pragma once

#include <cmath>

#include <sinter/optim/optimizer.hpp>

namespace sinter::optim {

struct AdamOptions {
  AdamOptions(double lr = 1e-3) : lr_(lr) {}  // NOLINT
  AdamOptions& lr(double v) { lr_ = v; return *this; }
  AdamOptions& betas(double b1, double b2) { beta1_ = b1; beta2_ = b2; return *this; }
  AdamOptions& eps(double v) { eps_ = v; return *this; }
  AdamOptions& weight_decay(double v) { weight_decay_ = v; return *this; }
  AdamOptions& amsgrad(bool v) { amsgrad_ = v; return *this; }
  double lr_, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8, weight_decay_ = 0;
  bool amsgrad_ = false;
};
/// AdamW's options: the same fields, weight_decay defaults to 0.01 as in PyTorch.
struct AdamWOptions : AdamOptions {
  AdamWOptions(double lr = 1e-3) : AdamOptions(lr) { weight_decay_ = 1e-2; }  // NOLINT
};

struct AdamState {
  Tensor step, exp_avg, exp_avg_sq, max_exp_avg_sq;
  NamedTensors named() const {
    return {{"step", step}, {"exp_avg", exp_avg}, {"exp_avg_sq", exp_avg_sq}, {"max_exp_avg_sq", max_exp_avg_sq}};
  }
  std::vector<std::pair<std::string, Tensor*>> slots() {
    return {{"step", &step}, {"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}, {"max_exp_avg_sq", &max_exp_avg_sq}};
  }
};

namespace detail {
/// One Adam step per element; decoupled = AdamW (w *= 1 - lr wd), else L2 (g += wd w).
struct AdamUpdate {
  float *w, *m, *v, *vmax;
  const float* g;
  float b1, b2, eps, wd, decay, step_size, inv_sqrt_bc2;
  bool decoupled;
  SINTER_HD void operator()(std::int64_t i) const {
    float gi = g[i];
    if (decoupled) w[i] *= decay;
    else gi += wd * w[i];
    m[i] = b1 * m[i] + (1 - b1) * gi;
    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
    float vi = v[i];
    if (vmax) vi = vmax[i] = vmax[i] > vi ? vmax[i] : vi;
    w[i] -= step_size * m[i] / (expr::Math<float>::sqrt(vi) * inv_sqrt_bc2 + eps);
  }
};

void adam_update(Tensor& p, const Tensor& grad, AdamState& s, const AdamOptions& o, bool decoupled);
void check_adam(const AdamOptions& o, const char* name);
#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED void adam_update(Tensor& p, const Tensor& grad, AdamState& s, const AdamOptions& o, bool decoupled) {
  if (!s.exp_avg.defined()) {
    s.exp_avg = zeros(p.shape(), p.device());
    s.exp_avg_sq = zeros(p.shape(), p.device());
    if (o.amsgrad_) s.max_exp_avg_sq = zeros(p.shape(), p.device());
  }
  const double t = bump_step(s.step);
  const double bc1 = 1 - std::pow(o.beta1_, t), bc2 = 1 - std::pow(o.beta2_, t);
  const AdamUpdate f{p.data(),
                     s.exp_avg.data(),
                     s.exp_avg_sq.data(),
                     o.amsgrad_ ? s.max_exp_avg_sq.data() : nullptr,
                     grad.data(),
                     static_cast<float>(o.beta1_),
                     static_cast<float>(o.beta2_),
                     static_cast<float>(o.eps_),
                     static_cast<float>(o.weight_decay_),
                     static_cast<float>(1 - o.lr_ * o.weight_decay_),
                     static_cast<float>(o.lr_ / bc1),
                     static_cast<float>(1 / std::sqrt(bc2)),
                     decoupled};
  sinter::detail::launch_for_each(p.device(), p.numel(), f, decoupled ? "AdamW" : "Adam");
}

SINTER_SHARED void check_adam(const AdamOptions& o, const char* name) {
  SINTER_CHECK(o.lr_ >= 0 && o.eps_ >= 0 && o.weight_decay_ >= 0, name,
               ": lr, eps and weight_decay must be non-negative");
  SINTER_CHECK(o.beta1_ >= 0 && o.beta1_ < 1 && o.beta2_ >= 0 && o.beta2_ < 1, name,
               ": betas must be in [0, 1), got (", o.beta1_, ", ", o.beta2_, ")");
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace detail

class Adam : public OptimizerWith<AdamOptions, AdamState> {
 public:
  Adam(std::vector<Tensor> params, AdamOptions o = {}) : OptimizerWith(std::move(params), o) {
    detail::check_adam(o, "Adam");
  }

 protected:
  void update(Tensor& p, const Tensor& g, AdamState& s, const AdamOptions& o) override;
};

class AdamW : public OptimizerWith<AdamOptions, AdamState> {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions o = {}) : OptimizerWith(std::move(params), o) {
    detail::check_adam(o, "AdamW");
  }

 protected:
  void update(Tensor& p, const Tensor& g, AdamState& s, const AdamOptions& o) override;
};

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED void Adam::update(Tensor& p, const Tensor& g, AdamState& s, const AdamOptions& o) {
  detail::adam_update(p, g, s, o, false);
}

SINTER_SHARED void AdamW::update(Tensor& p, const Tensor& g, AdamState& s, const AdamOptions& o) {
  detail::adam_update(p, g, s, o, true);
}
#endif  // SINTER_DEFINE_SHARED

#define SINTER_ADAM_INSTANCES(X) X(class OptimizerWith<AdamOptions, AdamState>)
SINTER_ADAM_INSTANCES(SINTER_EXTERN_TEMPLATE)

}  // namespace sinter::optim
