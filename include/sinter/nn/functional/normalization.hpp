// SPDX-License-Identifier: Apache-2.0
// batch_norm (one kernel each way in training, on either device: statistics, normalisation and the running-stat
// update happen per channel in one pass over the data it owns) and layer_norm (composed from fused reductions and expressions).
#pragma once

#include <cmath>
#include <memory>
#include <vector>

#include <sinter/backend/cpu/parallel.hpp>
#include <sinter/backend/dispatch.hpp>
#include <sinter/ops/reduce.hpp>
#include <sinter/ops/statement.hpp>

namespace sinter::nn::functional {
namespace detail {

using sinter::detail::count_kernel;

/// [N, C, S] view of an input with channels in dim 1.
struct ChannelLayout {
  std::int64_t N, C, S;
  SINTER_HD std::int64_t count() const { return N * S; }
};

// ---- one channel per index, on either device: statistics, normalisation and the running-stat update in one pass ---

template <class T>
struct BatchNormChannels {
  const T *x, *w, *b;
  T *y, *rm, *rv, *mean, *invstd;
  ChannelLayout L;
  double momentum, eps;
  SINTER_HD void operator()(std::int64_t c) const {
    const double M = static_cast<double>(L.count());
    double s = 0, ss = 0;
    for (std::int64_t n = 0; n < L.N; ++n)
      for (std::int64_t k = 0; k < L.S; ++k) s += x[(n * L.C + c) * L.S + k];
    const double mu = s / M;
    for (std::int64_t n = 0; n < L.N; ++n)
      for (std::int64_t k = 0; k < L.S; ++k) {
        const double d = x[(n * L.C + c) * L.S + k] - mu;
        ss += d * d;
      }
    const T is = static_cast<T>(1.0 / expr::Math<double>::sqrt(ss / M + eps));
    mean[c] = static_cast<T>(mu);
    invstd[c] = is;
    const T scale = (w ? w[c] : T(1)) * is, shift = (b ? b[c] : T(0)) - static_cast<T>(mu) * scale;
    for (std::int64_t n = 0; n < L.N; ++n)
      for (std::int64_t k = 0; k < L.S; ++k) y[(n * L.C + c) * L.S + k] = x[(n * L.C + c) * L.S + k] * scale + shift;
    if (rm) rm[c] = static_cast<T>((1 - momentum) * rm[c] + momentum * mu);
    if (rv) rv[c] = static_cast<T>((1 - momentum) * rv[c] + momentum * ss / (M - 1));
  }
};

template <class T>
struct BatchNormBackwardChannels {
  const T *g, *x, *w, *mean, *invstd;
  T *dx, *dw, *db;
  ChannelLayout L;
  bool acc_x, acc_w, acc_b;
  SINTER_HD void operator()(std::int64_t c) const {
    const T M = static_cast<T>(L.count()), mu = mean[c], is = invstd[c];
    T sg(0), sgx(0);
    for (std::int64_t n = 0; n < L.N; ++n)
      for (std::int64_t k = 0; k < L.S; ++k) {
        const std::int64_t i = (n * L.C + c) * L.S + k;
        sg += g[i];
        sgx += g[i] * (x[i] - mu);
      }
    sgx *= is;
    if (dw) dw[c] = acc_w ? dw[c] + sgx : sgx;
    if (db) db[c] = acc_b ? db[c] + sg : sg;
    if (!dx) return;
    const T kk = (w ? w[c] : T(1)) * is / M;
    for (std::int64_t n = 0; n < L.N; ++n)
      for (std::int64_t k = 0; k < L.S; ++k) {
        const std::int64_t i = (n * L.C + c) * L.S + k;
        const T v = kk * (M * g[i] - sg - (x[i] - mu) * is * sgx);
        dx[i] = acc_x ? dx[i] + v : v;
      }
  }
};

template <class T>
class BatchNormBackward final : public Node {
 public:
  BatchNormBackward(ChannelLayout L, std::shared_ptr<TensorImpl> x, std::shared_ptr<TensorImpl> w,
                          std::shared_ptr<TensorImpl> mean, std::shared_ptr<TensorImpl> invstd)
      : L_(L), x_(std::move(x)), w_(std::move(w)), mean_(std::move(mean)), invstd_(std::move(invstd)) {}
  const char* name() const noexcept override { return "NativeBatchNormBackward"; }
  void apply(const TensorImpl& gout, std::vector<GradTarget>& targets) override {
    auto buf = [&](std::size_t k) {
      return targets.size() > k && targets[k].buffer ? static_cast<T*>(targets[k].buffer->data()) : nullptr;
    };
    auto acc = [&](std::size_t k) { return targets.size() > k && targets[k].accumulate; };
    const BatchNormBackwardChannels<T> f{static_cast<const T*>(gout.data()), static_cast<const T*>(x_->data()),
                                         w_ ? static_cast<const T*>(w_->data()) : nullptr,
                                         static_cast<const T*>(mean_->data()), static_cast<const T*>(invstd_->data()),
                                         buf(0), buf(1), buf(2), L_, acc(0), acc(1), acc(2)};
    sinter::detail::launch_for_each(x_->device(), L_.C, f, name(), L_.count());
  }
  void release_saved() override { x_.reset(), w_.reset(), mean_.reset(), invstd_.reset(); }

 private:
  ChannelLayout L_;
  std::shared_ptr<TensorImpl> x_, w_, mean_, invstd_;
};

}  // namespace detail

/// Batch normalisation over dim 1 (torch::nn::functional::batch_norm). In training mode it normalises with the
/// batch's statistics and updates running_mean / running_var in place (unbiased variance, PyTorch's momentum
/// convention); in eval mode it uses the running statistics. weight, bias and the running tensors may be undefined.
template <class T>
TensorOf<T> batch_norm(const TensorOf<T>& input, const TensorOf<T>& running_mean, const TensorOf<T>& running_var,
                       const TensorOf<T>& weight = {}, const TensorOf<T>& bias = {}, bool training = false,
                       double momentum = 0.1, double eps = 1e-5) {
  sinter::detail::require_defined(input.impl().get(), "batch_norm");
  SINTER_CHECK(input.dim() >= 2, "batch_norm: expected an input with at least 2 dims (N, C, ...), got ",
               input.shape());
  const std::int64_t C = input.size(1);
  for (const auto* t : {&running_mean, &running_var, &weight, &bias})
    if (t->defined())
      SINTER_CHECK(t->dim() == 1 && t->size(0) == C, "batch_norm: per-channel tensors must have shape [", C,
                   "], got ", t->shape(), " for an input of shape ", input.shape());
  if (!training) {
    SINTER_CHECK(running_mean.defined() && running_var.defined(),
                 "batch_norm: eval mode needs running_mean and running_var (track_running_stats)");
    Shape bs = Shape::filled(input.dim(), 1);
    bs[1] = C;
    const TensorOf<T> rm = running_mean.view(bs), rv = running_var.view(bs);
    if (weight.defined() && bias.defined())
      return (input - rm) * rsqrt(rv + static_cast<T>(eps)) * weight.view(bs) + bias.view(bs);
    if (weight.defined()) return (input - rm) * rsqrt(rv + static_cast<T>(eps)) * weight.view(bs);
    TensorOf<T> y = (input - rm) * rsqrt(rv + static_cast<T>(eps));
    return bias.defined() ? TensorOf<T>(y + bias.view(bs)) : y;
  }
  const TensorOf<T> x = input.contiguous();
  detail::ChannelLayout L{x.size(0), C, x.numel() / std::max<std::int64_t>(x.size(0) * C, 1)};
  SINTER_CHECK(L.count() > 1, "batch_norm: expected more than 1 value per channel when training, got input of shape ",
               x.shape());
  for (const auto* t : {&running_mean, &running_var, &weight, &bias})
    SINTER_CHECK(!t->defined() || t->device() == x.device(), "batch_norm: the input is on ", x.device(),
                 " but a per-channel tensor is on ", t->device(), "; move the module with .to(device)");
  SINTER_CHECK((!running_mean.defined() || running_mean.is_contiguous()) &&
                   (!running_var.defined() || running_var.is_contiguous()),
               "batch_norm: running statistics must be contiguous");
  auto out = TensorImpl::empty(x.shape(), dtype_of<T>(), x.device());
  // Saved for backward: the batch mean and 1/sqrt(var + eps) per channel.
  auto mean = TensorImpl::empty({C}, dtype_of<T>(), x.device());
  auto invstd = TensorImpl::empty({C}, dtype_of<T>(), x.device());
  const TensorOf<T> w = weight.defined() ? weight.contiguous() : TensorOf<T>();
  const TensorOf<T> b = bias.defined() ? bias.contiguous() : TensorOf<T>();
  const detail::BatchNormChannels<T> f{x.data(),
                                       w.defined() ? w.data() : nullptr,
                                       b.defined() ? b.data() : nullptr,
                                       static_cast<T*>(out->data()),
                                       running_mean.defined() ? running_mean.data() : nullptr,
                                       running_var.defined() ? running_var.data() : nullptr,
                                       static_cast<T*>(mean->data()),
                                       static_cast<T*>(invstd->data()),
                                       L,
                                       momentum,
                                       eps};
  sinter::detail::launch_for_each(x.device(), C, f, "batch_norm", L.count());
  if (running_mean.defined()) running_mean.impl()->storage->bump_version();
  if (running_var.defined()) running_var.impl()->storage->bump_version();
  sinter::detail::check_forward_anomaly(*out, {x.impl().get()}, "batch_norm");
  const bool grad = is_grad_enabled() && (x.requires_grad() || (weight.defined() && weight.requires_grad()) ||
                                          (bias.defined() && bias.requires_grad()));
  if (grad) {
    auto node = std::make_shared<detail::BatchNormBackward<T>>(L, x.impl(), weight.defined() ? weight.impl() : nullptr,
                                                               mean, invstd);
    node->inputs.push_back(x.impl());
    if (weight.defined() || bias.defined()) node->inputs.push_back(weight.defined() ? weight.impl() : nullptr);
    if (bias.defined()) node->inputs.push_back(bias.impl());
    out->grad_fn = std::move(node);
  }
  return TensorOf<T>(std::move(out));
}

/// Layer normalisation over the trailing dims given by normalized_shape (torch::nn::functional::layer_norm).
template <class T>
TensorOf<T> layer_norm(const TensorOf<T>& x, const Shape& normalized_shape, const TensorOf<T>& weight = {},
                       const TensorOf<T>& bias = {}, double eps = 1e-5) {
  sinter::detail::require_defined(x.impl().get(), "layer_norm");
  const int k = normalized_shape.size();
  SINTER_CHECK(k >= 1 && k <= x.dim(), "layer_norm: normalized_shape ", normalized_shape,
               " must name 1 to ", x.dim(), " trailing dims of the input of shape ", x.shape());
  for (int i = 0; i < k; ++i)
    SINTER_CHECK(x.size(x.dim() - k + i) == normalized_shape[i], "layer_norm: given normalized_shape=",
                 normalized_shape, ", expected input with shape [*, ...", normalized_shape, "], but got input of size ",
                 x.shape());
  std::vector<std::int64_t> dims;
  for (int i = x.dim() - k; i < x.dim(); ++i) dims.push_back(i);
  const TensorOf<T> mu = mean(x, dims, true);
  const TensorOf<T> xc = x - mu;
  const TensorOf<T> inv = rsqrt(mean(xc * xc, dims, true) + static_cast<T>(eps));
  if (weight.defined() && bias.defined()) return xc * inv * weight + bias;
  if (weight.defined()) return xc * inv * weight;
  if (bias.defined()) return xc * inv + bias;
  return xc * inv;
}

#define SINTER_NORM_INSTANCES(X, T)                                                                                  \
  X(TensorOf<T> batch_norm<T>(const TensorOf<T>&, const TensorOf<T>&, const TensorOf<T>&, const TensorOf<T>&,        \
                              const TensorOf<T>&, bool, double, double))                                             \
  X(TensorOf<T> layer_norm<T>(const TensorOf<T>&, const Shape&, const TensorOf<T>&, const TensorOf<T>&, double))
SINTER_NORM_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_NORM_INSTANCES(SINTER_EXTERN_TEMPLATE, double)

}  // namespace sinter::nn::functional
