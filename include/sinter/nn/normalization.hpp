// SPDX-License-Identifier: Apache-2.0
// BatchNorm1d / BatchNorm2d (running statistics as buffers, momentum, eval mode) and LayerNorm.
#pragma once

#include <sinter/core/factory.hpp>
#include <sinter/nn/functional/normalization.hpp>
#include <sinter/nn/module.hpp>

namespace sinter::nn {

struct BatchNormOptions {
  BatchNormOptions(std::int64_t features) : num_features_(features) {}  // NOLINT: BatchNorm2d(32)
  BatchNormOptions& eps(double e) { eps_ = e; return *this; }
  BatchNormOptions& momentum(double m) { momentum_ = m; return *this; }
  BatchNormOptions& affine(bool a) { affine_ = a; return *this; }
  BatchNormOptions& track_running_stats(bool t) { track_running_stats_ = t; return *this; }
  std::int64_t num_features_;
  double eps_ = 1e-5, momentum_ = 0.1;
  bool affine_ = true, track_running_stats_ = true;
};

/// Shared by BatchNorm1d and BatchNorm2d, which differ only in the input ranks they accept.
class BatchNormBase : public Module {
 public:
  BatchNormBase(const char* name, const BatchNormOptions& o, int rank_lo, int rank_hi);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  BatchNormOptions options;
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  int lo_, hi_;
};

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED BatchNormBase::BatchNormBase(const char* name, const BatchNormOptions& o, int rank_lo, int rank_hi)
    : Module(name), options(o), lo_(rank_lo), hi_(rank_hi) {
  SINTER_CHECK(o.num_features_ > 0, name, ": num_features must be positive, got ", o.num_features_);
  if (o.affine_) {
    weight = register_parameter("weight", ones({o.num_features_}));
    bias = register_parameter("bias", zeros({o.num_features_}));
  }
  if (o.track_running_stats_) {
    running_mean = register_buffer("running_mean", zeros({o.num_features_}));
    running_var = register_buffer("running_var", ones({o.num_features_}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}));
  }
}

SINTER_SHARED Tensor BatchNormBase::forward(const Tensor& x) {
  SINTER_CHECK(x.dim() >= lo_ && x.dim() <= hi_, type_name(), ": expected a ", lo_, "-D",
               hi_ != lo_ ? " or " + std::to_string(hi_) + "-D" : std::string(), " input, got shape ", x.shape());
  const bool use_batch = is_training() || !options.track_running_stats_;
  if (is_training() && options.track_running_stats_) {
    NoGradGuard g;
    num_batches_tracked.copy_(num_batches_tracked + 1.0f);
  }
  return functional::batch_norm(x, options.track_running_stats_ ? running_mean : Tensor(),
                                options.track_running_stats_ ? running_var : Tensor(), weight, bias, use_batch,
                                options.momentum_, options.eps_);
}

SINTER_SHARED std::string BatchNormBase::extra_repr() const {
  std::ostringstream os;
  os << options.num_features_ << ", eps=" << options.eps_ << ", momentum=" << options.momentum_
     << ", affine=" << (options.affine_ ? "true" : "false")
     << ", track_running_stats=" << (options.track_running_stats_ ? "true" : "false");
  return os.str();
}
#endif  // SINTER_DEFINE_SHARED

/// Over [N, C] or [N, C, L].
class BatchNorm1d : public BatchNormBase {
 public:
  explicit BatchNorm1d(const BatchNormOptions& o) : BatchNormBase("BatchNorm1d", o, 2, 3) {}
};
/// Over [N, C, H, W].
class BatchNorm2d : public BatchNormBase {
 public:
  explicit BatchNorm2d(const BatchNormOptions& o) : BatchNormBase("BatchNorm2d", o, 4, 4) {}
};

class LayerNorm : public Module {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true)
      : Module("LayerNorm"), normalized_shape(normalized_shape), eps(eps) {
    if (elementwise_affine) {
      weight = register_parameter("weight", ones(normalized_shape));
      bias = register_parameter("bias", zeros(normalized_shape));
    }
  }
  Tensor forward(const Tensor& x) override { return functional::layer_norm(x, normalized_shape, weight, bias, eps); }
  std::string extra_repr() const override {
    std::ostringstream os;
    os << normalized_shape << ", eps=" << eps << ", elementwise_affine=" << (weight.defined() ? "true" : "false");
    return os.str();
  }
  Shape normalized_shape;
  double eps;
  Tensor weight, bias;
};

}  // namespace sinter::nn
