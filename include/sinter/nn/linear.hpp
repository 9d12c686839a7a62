// SPDX-License-Identifier: Apache-2.0
// nn::Linear: y = x W^T + b with PyTorch's default initialisation.
#pragma once

#include <cmath>

#include <sinter/nn/functional.hpp>
#include <sinter/nn/init.hpp>
#include <sinter/nn/module.hpp>

namespace sinter::nn {

struct LinearOptions {
  LinearOptions(std::int64_t in, std::int64_t out) : in_features_(in), out_features_(out) {}
  LinearOptions& bias(bool b) { bias_ = b; return *this; }
  std::int64_t in_features_, out_features_;
  bool bias_ = true;
};

class Linear : public Module {
 public:
  explicit Linear(const LinearOptions& o);
  Linear(std::int64_t in, std::int64_t out) : Linear(LinearOptions(in, out)) {}

  /// PyTorch's default: kaiming_uniform_(a = sqrt(5)) for the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias.
  void reset_parameters();
  Tensor forward(const Tensor& x) override { return functional::linear(x, weight, bias); }
  std::string extra_repr() const override;

  LinearOptions options;
  Tensor weight, bias;
};

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED Linear::Linear(const LinearOptions& o) : Module("Linear"), options(o) {
  SINTER_CHECK(o.in_features_ > 0 && o.out_features_ > 0, "Linear: in_features and out_features must be positive, got ",
               o.in_features_, " and ", o.out_features_);
  weight = register_parameter("weight", empty({o.out_features_, o.in_features_}));
  if (o.bias_) bias = register_parameter("bias", empty({o.out_features_}));
  reset_parameters();
}

SINTER_SHARED void Linear::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double b = 1.0 / std::sqrt(static_cast<double>(options.in_features_));
    init::uniform_(bias, -b, b);
  }
}

SINTER_SHARED std::string Linear::extra_repr() const {
  std::ostringstream os;
  os << "in_features=" << options.in_features_ << ", out_features=" << options.out_features_
     << ", bias=" << (bias.defined() ? "true" : "false");
  return os.str();
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace sinter::nn
