// SPDX-License-Identifier: Apache-2.0
// Losses with PyTorch's names and reductions. cross_entropy and nll_loss over class indices are dedicated kernels
// (one forward pass over the logits, one backward pass); the others are fused expressions and reductions.
#pragma once

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include <sinter/backend/cpu/parallel.hpp>
#include <sinter/backend/dispatch.hpp>
#include <sinter/core/atomic.hpp>
#include <sinter/ops/reduce.hpp>
#include <sinter/ops/softmax.hpp>
#include <sinter/ops/statement.hpp>

namespace sinter::nn {

/// How a loss combines per-sample values (torch::kNone, kMean, kSum).
enum class Reduction { None, Mean, Sum };

namespace functional {

/// Options of cross_entropy, with chainable setters like libtorch's CrossEntropyFuncOptions.
struct CrossEntropyOptions {
  Reduction reduction_ = Reduction::Mean;
  std::int64_t ignore_index_ = -100;
  double label_smoothing_ = 0.0;
  CrossEntropyOptions& reduction(Reduction r) { reduction_ = r; return *this; }
  CrossEntropyOptions& ignore_index(std::int64_t i) { ignore_index_ = i; return *this; }
  CrossEntropyOptions& label_smoothing(double s) { label_smoothing_ = s; return *this; }
};

namespace detail {

using sinter::detail::count_kernel;

/// One row's loss from logits (cross-entropy: log-softmax inside, its log-sum-exp written to *lse for backward) or
/// from log-probabilities (nll). on/off: the target's weight and every class's weight under label smoothing.
template <class T>
SINTER_HD T class_row_loss(const T* r, std::int64_t k, std::int64_t C, T on, T off, bool logits, T* lse) {
  using M = expr::Math<T>;
  if (!logits) return -r[k];
  T m = r[0], total(0);
  for (std::int64_t j = 0; j < C; ++j) m = M::max(m, r[j]), total += r[j];
  T s(0);
  for (std::int64_t j = 0; j < C; ++j) s += M::exp(r[j] - m);
  const T lsum = M::log(s);
  *lse = m + lsum;
  // lse - on x_k - off sum(x), rearranged (on + C off = 1) so that no large number is rounded before the small ones are
  // added (the loss keeps its digits at |x| = 1e4 in float), and so that a -inf logit (a mask) does not meet off = 0.
  const T smooth = off == T(0) ? T(0) : off * (static_cast<T>(C) * m - total);
  return lsum + on * (m - r[k]) + smooth;
}

/// The device forward: per row, the loss added into acc[0]; acc[1] counts rows not ignored; a bad target leaves its
/// row + 1 in acc[2] (the CPU checks targets on the host first and sums in double instead).
template <class T>
struct ClassLossRows {
  const T* x;
  const std::int64_t* target;
  T *loss, *lse, *acc;
  std::int64_t C, ignore;
  T on, off;
  bool logits;
  SINTER_HD void operator()(std::int64_t i) const {
    const std::int64_t k = target[i];
    T li(0);
    if (k != ignore) {
      if (k < 0 || k >= C) {
        acc[2] = static_cast<T>(i + 1);
        return;
      }
      li = class_row_loss(x + i * C, k, C, on, off, logits, lse + i);
      sinter::detail::atomic_add(acc, li);
      sinter::detail::atomic_add(acc + 1, T(1));
    }
    if (loss) loss[i] = li;
  }
};

/// The backward of both devices: one row per index.
template <class T>
struct ClassLossGradRows {
  const T *x, *lse, *g;
  const std::int64_t* target;
  T* dx;
  std::int64_t C, ignore;
  T on, off, scale;
  bool per_row, logits, accumulate;
  SINTER_HD void operator()(std::int64_t i) const {
    const std::int64_t k = target[i];
    T* d = dx + i * C;
    if (k == ignore) {  // no gradient, and no log-sum-exp was computed for this row
      if (!accumulate)
        for (std::int64_t j = 0; j < C; ++j) d[j] = T(0);
      return;
    }
    const T gi = (per_row ? g[i] : g[0]) * scale;
    const T* xr = x + i * C;
    for (std::int64_t j = 0; j < C; ++j) {
      const T v = logits ? gi * (expr::Math<T>::exp(xr[j] - lse[i]) - off - (j == k ? on : T(0)))
                         : (j == k ? -gi : T(0));
      d[j] = accumulate ? d[j] + v : v;
    }
  }
};

template <class T>
class ClassLossBackward final : public Node {
 public:
  ClassLossBackward(std::shared_ptr<TensorImpl> x, std::shared_ptr<TensorImpl> target, std::shared_ptr<TensorImpl> lse,
                    std::int64_t C, double smoothing, std::int64_t ignore, Reduction red, double count, bool logits)
      : x_(std::move(x)), target_(std::move(target)), lse_(std::move(lse)), C_(C), eps_(smoothing), ignore_(ignore),
        red_(red), count_(count), logits_(logits) {}
  const char* name() const noexcept override { return logits_ ? "CrossEntropyLossBackward" : "NllLossBackward"; }
  void apply(const TensorImpl& gout, std::vector<GradTarget>& targets) override {
    auto& t = targets[0];
    if (!t.buffer) return;
    const T scale = red_ == Reduction::Mean ? static_cast<T>(1 / count_) : T(1);
    const ClassLossGradRows<T> f{static_cast<const T*>(x_->data()), static_cast<const T*>(lse_->data()),
                                 static_cast<const T*>(gout.data()), static_cast<const std::int64_t*>(target_->data()),
                                 static_cast<T*>(t.buffer->data()), C_, ignore_,
                                 static_cast<T>(1 - eps_), static_cast<T>(eps_ / static_cast<double>(C_)), scale,
                                 red_ == Reduction::None, logits_, t.accumulate};
    sinter::detail::launch_for_each(x_->device(), target_->numel(), f, name(), C_);
  }
  void release_saved() override { x_.reset(), target_.reset(), lse_.reset(); }

 private:
  std::shared_ptr<TensorImpl> x_, target_, lse_;
  std::int64_t C_;
  double eps_;
  std::int64_t ignore_;
  Reduction red_;
  double count_;
  bool logits_;
};

/// Records the backward of a class loss whose forward saved lse (per-row log-sum-exp; unused for nll).
template <class T>
void record_class_loss(const std::shared_ptr<TensorImpl>& out, const TensorOf<T>& x,
                       const TensorOf<std::int64_t>& target, std::shared_ptr<TensorImpl> lse,
                       const CrossEntropyOptions& o, double count, bool logits) {
  sinter::detail::check_forward_anomaly(*out, {x.impl().get()}, logits ? "cross_entropy" : "nll_loss");
  if (!is_grad_enabled() || !x.requires_grad()) return;
  auto node = std::make_shared<ClassLossBackward<T>>(x.impl(), target.impl(), std::move(lse), x.size(1),
                                                     logits ? o.label_smoothing_ : 0, o.ignore_index_, o.reduction_,
                                                     count, logits);
  node->inputs.push_back(x.impl());
  out->grad_fn = std::move(node);
}

template <class T>
TensorOf<T> class_loss_device(const TensorOf<T>& x, const TensorOf<std::int64_t>& target_in,
                              const CrossEntropyOptions& o, bool logits, const char* op) {
  const Device dev = x.device();
  SINTER_CHECK(target_in.device() == dev, op, ": the input is on ", dev, " but the target is on ", target_in.device(),
               "; move the target with .to(", dev, ")");
  const TensorOf<std::int64_t> target = target_in.contiguous();
  const std::int64_t N = x.size(0), C = x.size(1);
  const auto& raw = sinter::detail::cuda_raw_ops();
  auto lse = TensorImpl::empty({N}, dtype_of<T>(), dev);
  auto acc = TensorImpl::empty({3}, dtype_of<T>(), dev);
  raw.zero(acc->data(), 3 * sizeof(T));
  std::shared_ptr<TensorImpl> out = TensorImpl::empty(o.reduction_ == Reduction::None ? Shape{N} : Shape{},
                                                      dtype_of<T>(), dev);
  const T off = static_cast<T>(logits ? o.label_smoothing_ / static_cast<double>(C) : 0);
  const T on = static_cast<T>(logits ? 1 - o.label_smoothing_ : 1);
  const ClassLossRows<T> f{x.data(), target.data(), o.reduction_ == Reduction::None ? static_cast<T*>(out->data())
                                                                                      : nullptr,
                           static_cast<T*>(lse->data()), static_cast<T*>(acc->data()), C, o.ignore_index_, on, off,
                           logits};
  sinter::detail::launch_for_each(dev, N, f, op);
  T a[3];
  raw.read(a, acc->data(), sizeof a);
  if (a[2] != T(0)) {
    const auto row = static_cast<std::int64_t>(a[2]) - 1;
    std::int64_t k = 0;
    raw.read(&k, target.data() + row, sizeof k);
    SINTER_CHECK(false, op, ": target ", k, " at row ", row, " is out of bounds for ", C, " classes (valid: 0 to ",
                 C - 1, ", or ignore_index ", o.ignore_index_, ")");
  }
  const double count = static_cast<double>(a[1]);
  if (o.reduction_ != Reduction::None) {
    const T v = o.reduction_ == Reduction::Sum ? a[0]
                : count > 0                     ? static_cast<T>(static_cast<double>(a[0]) / count)
                                                : std::numeric_limits<T>::quiet_NaN();
    raw.write(out->data(), &v, sizeof v);
  }
  record_class_loss(out, x, target, lse, o, count, logits);
  return TensorOf<T>(std::move(out));
}

template <class T>
TensorOf<T> class_loss(const TensorOf<T>& input, const TensorOf<std::int64_t>& target, const CrossEntropyOptions& o,
                       bool logits, const char* op) {
  sinter::detail::require_defined(input.impl().get(), op);
  sinter::detail::require_defined(target.impl().get(), op);
  if (input.dim() == 1) {  // one sample: [C] and a 0-d target
    SINTER_CHECK(target.dim() == 0, op, ": for an input of shape ", input.shape(), " the target must be 0-d, got ",
                 target.shape());
    auto r = class_loss(input.unsqueeze(0), target.reshape({1}), o, logits, op);
    return o.reduction_ == Reduction::None ? r.squeeze(0) : r;
  }
  SINTER_CHECK(input.dim() == 2, op, ": expected an input of shape [N, C] or [C], got ", input.shape(),
               " (for more dims, move the class dim last and flatten)");
  SINTER_CHECK(target.dim() == 1 && target.size(0) == input.size(0), op, ": expected a target of shape [",
               input.size(0), "] (one class index per row of the input ", input.shape(), "), got ", target.shape());
  SINTER_CHECK(o.label_smoothing_ >= 0 && o.label_smoothing_ <= 1, op,
               ": label_smoothing must be between 0.0 and 1.0, got ", o.label_smoothing_);
  const TensorOf<T> x = input.contiguous();
  if (!x.device().is_cpu()) return class_loss_device(x, target, o, logits, op);
  SINTER_CHECK(target.device().is_cpu(), op, ": the input is on cpu but the target is on ", target.device(),
               "; move the target with .to(sinter::kCPU)");
  const std::int64_t N = x.size(0), C = x.size(1);
  const std::vector<std::int64_t> t = target.to_vector();
  double count = 0;
  for (std::int64_t i = 0; i < N; ++i) {
    const auto k = t[static_cast<std::size_t>(i)];
    if (k == o.ignore_index_) continue;
    SINTER_CHECK(k >= 0 && k < C, op, ": target ", k, " at row ", i, " is out of bounds for ", C,
                 " classes (valid: 0 to ", C - 1, ", or ignore_index ", o.ignore_index_, ")");
    count += 1;
  }
  auto lse = TensorImpl::empty({N}, dtype_of<T>(), kCPU);
  std::vector<T> loss(static_cast<std::size_t>(N));
  const T* xp = x.data();
  T* lp = static_cast<T*>(lse->data());
  const T on = static_cast<T>(1 - o.label_smoothing_), off = static_cast<T>(o.label_smoothing_ / static_cast<double>(C));
  count_kernel(kCPU);
  cpu::parallel(cpu::threads_for(N * C), [&](int tid, int nth) {
    for (std::int64_t i = N * tid / nth; i < N * (tid + 1) / nth; ++i) {
      const auto k = t[static_cast<std::size_t>(i)];
      const auto row = static_cast<std::size_t>(i);
      loss[row] = k == o.ignore_index_ ? T(0) : class_row_loss(xp + i * C, k, C, on, off, logits, lp + i);
    }
  });
  std::shared_ptr<TensorImpl> out;
  if (o.reduction_ == Reduction::None) {
    out = TensorImpl::empty({N}, dtype_of<T>(), kCPU);
    std::copy(loss.begin(), loss.end(), static_cast<T*>(out->data()));
  } else {
    double s = 0;  // summed in double, in row order
    for (auto v : loss) s += v;
    if (o.reduction_ == Reduction::Mean) s = count > 0 ? s / count : std::numeric_limits<double>::quiet_NaN();
    out = TensorImpl::empty({}, dtype_of<T>(), kCPU);
    *static_cast<T*>(out->data()) = static_cast<T>(s);
  }
  record_class_loss(out, x, target.contiguous(), std::move(lse), o, count, logits);
  return TensorOf<T>(std::move(out));
}

template <class T, class E>
TensorOf<T> reduce_loss(const E& per_element, Reduction r) {
  if (r == Reduction::Mean) return mean(per_element);
  if (r == Reduction::Sum) return sum(per_element);
  return TensorOf<T>(per_element);
}

template <class A, class B>
void same_shape(const A& a, const B& b, const char* op) {
  SINTER_CHECK(a.shape() == b.shape(), op, ": the target's shape ", b.shape(), " differs from the input's ", a.shape(),
               "; they must match (sinter does not broadcast loss targets)");
}

#define SINTER_LOSS_INSTANCES(X, T)                                                                                  \
  X(TensorOf<T> class_loss_device<T>(const TensorOf<T>&, const TensorOf<std::int64_t>&, const CrossEntropyOptions&,  \
                                     bool, const char*))                                                             \
  X(TensorOf<T> class_loss<T>(const TensorOf<T>&, const TensorOf<std::int64_t>&, const CrossEntropyOptions&, bool,   \
                              const char*))
SINTER_LOSS_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_LOSS_INSTANCES(SINTER_EXTERN_TEMPLATE, double)
}  // namespace detail

/// Cross-entropy from logits [N, C] and class indices [N] (torch::nn::functional::cross_entropy), with
/// ignore_index, label_smoothing and reduction. One forward kernel over the logits, one backward kernel.
template <class T>
TensorOf<T> cross_entropy(const TensorOf<T>& input, const TensorOf<std::int64_t>& target,
                          const CrossEntropyOptions& options = {}) {
  return detail::class_loss(input, target, options, true, "cross_entropy");
}

/// Cross-entropy from logits [N, C] and class probabilities [N, C] (soft labels).
template <class T>
TensorOf<T> cross_entropy(const TensorOf<T>& input, const TensorOf<T>& target_probs,
                          const CrossEntropyOptions& options = {}) {
  SINTER_CHECK(input.dim() == 2, "cross_entropy: expected logits of shape [N, C], got ", input.shape());
  detail::same_shape(input, target_probs, "cross_entropy");
  const double e = options.label_smoothing_;
  const T C = static_cast<T>(input.size(1));
  const TensorOf<T> lp = log_softmax(input, 1);
  const TensorOf<T> per_row = -sum(lp * (target_probs * static_cast<T>(1 - e) + static_cast<T>(e) / C), {1});
  return detail::reduce_loss<T>(per_row, options.reduction_);
}

/// Negative log-likelihood from log-probabilities [N, C] and class indices [N].
template <class T>
TensorOf<T> nll_loss(const TensorOf<T>& input, const TensorOf<std::int64_t>& target, Reduction reduction = Reduction::Mean,
                     std::int64_t ignore_index = -100) {
  return detail::class_loss(input, target, CrossEntropyOptions().reduction(reduction).ignore_index(ignore_index), false,
                            "nll_loss");
}

/// Mean squared error.
template <class T>
TensorOf<T> mse_loss(const TensorOf<T>& input, const TensorOf<T>& target, Reduction reduction = Reduction::Mean) {
  detail::same_shape(input, target, "mse_loss");
  return detail::reduce_loss<T>((input - target) * (input - target), reduction);
}

/// Mean absolute error.
template <class T>
TensorOf<T> l1_loss(const TensorOf<T>& input, const TensorOf<T>& target, Reduction reduction = Reduction::Mean) {
  detail::same_shape(input, target, "l1_loss");
  return detail::reduce_loss<T>(abs(input - target), reduction);
}

/// Huber-style loss: 0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere.
template <class T>
TensorOf<T> smooth_l1_loss(const TensorOf<T>& input, const TensorOf<T>& target, Reduction reduction = Reduction::Mean,
                           double beta = 1.0) {
  detail::same_shape(input, target, "smooth_l1_loss");
  SINTER_CHECK(beta >= 0, "smooth_l1_loss: beta must be non-negative, got ", beta);
  if (beta == 0) return l1_loss(input, target, reduction);
  const T b = static_cast<T>(beta);
  const auto d = abs(input - target);
  return detail::reduce_loss<T>(where(d < b, d * d * (T(0.5) / b), d - T(0.5) * b), reduction);
}

/// Binary cross-entropy on logits, computed stably: max(x, 0) - x y + log(1 + exp(-|x|)).
template <class T>
TensorOf<T> binary_cross_entropy_with_logits(const TensorOf<T>& input, const TensorOf<T>& target,
                                             Reduction reduction = Reduction::Mean) {
  detail::same_shape(input, target, "binary_cross_entropy_with_logits");
  return detail::reduce_loss<T>(relu(input) - input * target + log1p(exp(-abs(input))), reduction);
}

}  // namespace functional
}  // namespace sinter::nn
