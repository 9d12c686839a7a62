// SPDX-License-Identifier: Apache-2.0
// Pooling modules: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
#pragma once

#include <array>
#include <optional>

#include <sinter/nn/functional/pooling.hpp>
#include <sinter/nn/module.hpp>

namespace sinter::nn {

struct Pool2dOptions {
  Pool2dOptions(std::array<std::int64_t, 2> k) : kernel_size_(k), stride_(k) {}  // NOLINT: MaxPool2d({2, 2})
  Pool2dOptions(std::int64_t k) : Pool2dOptions(std::array<std::int64_t, 2>{k, k}) {}  // NOLINT: MaxPool2d(2)
  Pool2dOptions& stride(std::int64_t s) { stride_ = {s, s}; return *this; }
  Pool2dOptions& stride(std::array<std::int64_t, 2> s) { stride_ = s; return *this; }
  Pool2dOptions& padding(std::int64_t p) { padding_ = {p, p}; return *this; }
  Pool2dOptions& ceil_mode(bool c) { ceil_mode_ = c; return *this; }
  Pool2dOptions& count_include_pad(bool c) { count_include_pad_ = c; return *this; }
  std::array<std::int64_t, 2> kernel_size_, stride_, padding_{0, 0};
  bool ceil_mode_ = false, count_include_pad_ = true;
};
using MaxPool2dOptions = Pool2dOptions;
using AvgPool2dOptions = Pool2dOptions;

namespace detail {
inline std::string pool_repr(const Pool2dOptions& o) {
  std::ostringstream os;
  os << "kernel_size=(" << o.kernel_size_[0] << ", " << o.kernel_size_[1] << "), stride=(" << o.stride_[0] << ", "
     << o.stride_[1] << "), padding=(" << o.padding_[0] << ", " << o.padding_[1] << ")";
  return os.str();
}
}  // namespace detail

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& o) : Module("MaxPool2d"), options(o) {}
  Tensor forward(const Tensor& x) override {
    return functional::max_pool2d(x, options.kernel_size_, options.stride_, options.padding_, options.ceil_mode_);
  }
  std::string extra_repr() const override { return detail::pool_repr(options); }
  Pool2dOptions options;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& o) : Module("AvgPool2d"), options(o) {}
  Tensor forward(const Tensor& x) override {
    return functional::avg_pool2d(x, options.kernel_size_, options.stride_, options.padding_, options.ceil_mode_,
                                  options.count_include_pad_);
  }
  std::string extra_repr() const override { return detail::pool_repr(options); }
  Pool2dOptions options;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::array<std::int64_t, 2> output_size)
      : Module("AdaptiveAvgPool2d"), output_size(output_size) {}
  explicit AdaptiveAvgPool2d(std::int64_t s) : AdaptiveAvgPool2d(std::array<std::int64_t, 2>{s, s}) {}
  Tensor forward(const Tensor& x) override { return functional::adaptive_avg_pool2d(x, output_size); }
  std::string extra_repr() const override {
    return "output_size=(" + std::to_string(output_size[0]) + ", " + std::to_string(output_size[1]) + ")";
  }
  std::array<std::int64_t, 2> output_size;
};

}  // namespace sinter::nn
