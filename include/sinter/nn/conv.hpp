// SPDX-License-Identifier: Apache-2.0
// nn::Conv2d with libtorch-style options: Conv2dOptions(1, 6, 5).padding(2).
#pragma once

#include <array>
#include <cmath>

#include <sinter/nn/functional/conv.hpp>
#include <sinter/nn/init.hpp>
#include <sinter/nn/module.hpp>

namespace sinter::nn {

struct Conv2dOptions {
  Conv2dOptions(std::int64_t in, std::int64_t out, std::array<std::int64_t, 2> kernel)
      : in_channels_(in), out_channels_(out), kernel_size_(kernel) {}
  Conv2dOptions(std::int64_t in, std::int64_t out, std::int64_t kernel) : Conv2dOptions(in, out, {kernel, kernel}) {}
  Conv2dOptions& stride(std::int64_t s) { stride_ = {s, s}; return *this; }
  Conv2dOptions& stride(std::array<std::int64_t, 2> s) { stride_ = s; return *this; }
  Conv2dOptions& padding(std::int64_t p) { padding_ = {p, p}; return *this; }
  Conv2dOptions& padding(std::array<std::int64_t, 2> p) { padding_ = p; return *this; }
  Conv2dOptions& dilation(std::int64_t d) { dilation_ = {d, d}; return *this; }
  Conv2dOptions& dilation(std::array<std::int64_t, 2> d) { dilation_ = d; return *this; }
  Conv2dOptions& groups(std::int64_t g) { groups_ = g; return *this; }
  Conv2dOptions& bias(bool b) { bias_ = b; return *this; }
  std::int64_t in_channels_, out_channels_;
  std::array<std::int64_t, 2> kernel_size_, stride_{1, 1}, padding_{0, 0}, dilation_{1, 1};
  std::int64_t groups_ = 1;
  bool bias_ = true;
};

class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& o) : Module("Conv2d"), options(o) {
    SINTER_CHECK(o.groups_ >= 1 && o.in_channels_ % o.groups_ == 0 && o.out_channels_ % o.groups_ == 0,
                 "Conv2d: in_channels (", o.in_channels_, ") and out_channels (", o.out_channels_,
                 ") must be divisible by groups (", o.groups_, ")");
    weight = register_parameter(
        "weight", empty({o.out_channels_, o.in_channels_ / o.groups_, o.kernel_size_[0], o.kernel_size_[1]}));
    if (o.bias_) bias = register_parameter("bias", empty({o.out_channels_}));
    reset_parameters();
  }
  Conv2d(std::int64_t in, std::int64_t out, std::int64_t kernel) : Conv2d(Conv2dOptions(in, out, kernel)) {}

  void reset_parameters() {
    init::kaiming_uniform_(weight, std::sqrt(5.0));
    if (bias.defined()) {
      const double b = 1.0 / std::sqrt(init::fans(weight).first);
      init::uniform_(bias, -b, b);
    }
  }
  Tensor forward(const Tensor& x) override {
    return functional::conv2d(x, weight, bias, options.stride_, options.padding_, options.dilation_, options.groups_);
  }
  std::string extra_repr() const override {
    std::ostringstream os;
    os << options.in_channels_ << ", " << options.out_channels_ << ", kernel_size=(" << options.kernel_size_[0] << ", "
       << options.kernel_size_[1] << "), stride=(" << options.stride_[0] << ", " << options.stride_[1] << ")";
    if (options.padding_ != std::array<std::int64_t, 2>{0, 0})
      os << ", padding=(" << options.padding_[0] << ", " << options.padding_[1] << ")";
    if (options.dilation_ != std::array<std::int64_t, 2>{1, 1})
      os << ", dilation=(" << options.dilation_[0] << ", " << options.dilation_[1] << ")";
    if (options.groups_ != 1) os << ", groups=" << options.groups_;
    if (!bias.defined()) os << ", bias=false";
    return os.str();
  }

  Conv2dOptions options;
  Tensor weight, bias;
};

}  // namespace sinter::nn
