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

namespace detail {
/// w -= lr (g + wd w), or with momentum: buf = mom buf + (1 - dampening) d (the first step copies d), w -= lr buf
/// (Nesterov: lr (d + mom buf)).
struct SgdUpdate {
  float *w, *buf;
  const float* g;
  float lr, wd, mom, damp;
  bool first, nesterov;
  SINTER_HD void operator()(std::int64_t i) const {
    const float d = g[i] + wd * w[i];
    if (!buf) {
      w[i] -= lr * d;
      return;
    }
    const float v = first ? d : mom * buf[i] + damp * d;
    buf[i] = v;
    w[i] -= lr * (nesterov ? d + mom * v : v);
  }
};
}  // namespace detail

class SGD : public OptimizerWith<SGDOptions, SGDState> {
 public:
  SGD(std::vector<Tensor> params, SGDOptions o);

 protected:
  void update(Tensor& p, const Tensor& grad, SGDState& s, const SGDOptions& o) override;

 private:
  static SGDOptions check(const SGDOptions& o);
};

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED SGD::SGD(std::vector<Tensor> params, SGDOptions o) : OptimizerWith(std::move(params), check(o)) {}

SINTER_SHARED void SGD::update(Tensor& p, const Tensor& grad, SGDState& s, const SGDOptions& o) {
  const bool momentum = o.momentum_ != 0, first = momentum && !s.momentum_buffer.defined();
  if (first) s.momentum_buffer = empty(p.shape(), p.device());
  const detail::SgdUpdate f{p.data(), momentum ? s.momentum_buffer.data() : nullptr, grad.data(),
                            static_cast<float>(o.lr_), static_cast<float>(o.weight_decay_),
                            static_cast<float>(o.momentum_), static_cast<float>(1 - o.dampening_), first,
                            o.nesterov_};
  sinter::detail::launch_for_each(p.device(), p.numel(), f, "SGD");
}

SINTER_SHARED SGDOptions SGD::check(const SGDOptions& o) {
  SINTER_CHECK(o.lr_ >= 0 && o.momentum_ >= 0 && o.weight_decay_ >= 0, "SGD: lr, momentum and weight_decay must be "
               "non-negative, got lr=", o.lr_, " momentum=", o.momentum_, " weight_decay=", o.weight_decay_);
  SINTER_CHECK(!o.nesterov_ || (o.momentum_ > 0 && o.dampening_ == 0),
               "SGD: Nesterov momentum requires a momentum and zero dampening");
  return o;
}
#endif  // SINTER_DEFINE_SHARED

#define SINTER_SGD_INSTANCES(X) X(class OptimizerWith<SGDOptions, SGDState>)
SINTER_SGD_INSTANCES(SINTER_EXTERN_TEMPLATE)

}  // namespace sinter::optim
