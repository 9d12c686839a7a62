// SPDX-License-Identifier: Apache-2.0
// softmax and log_softmax along one dim: one numerically stable kernel each way (max, sum of exponentials and the
// write happen per row while it is in cache). A barrier: an expression operand is materialised first.
#pragma once

#include <cmath>
#include <limits>
#include <memory>

#include <sinter/backend/cpu/parallel.hpp>
#include <sinter/backend/cpu/simd.hpp>
#include <sinter/backend/dispatch.hpp>
#include <sinter/ops/statement.hpp>

namespace sinter {
namespace detail {

/// softmax/log_softmax on a GPU: one row per index, the same three steps as the CPU's SIMD kernel below.
template <class T>
struct SoftmaxRows {
  const T* x;
  T* y;
  RowLayout L;
  bool log_;
  SINTER_HD void operator()(std::int64_t r) const {
    using M = expr::Math<T>;
    const std::int64_t s = L.inner, base = (r / L.inner) * L.n * L.inner + r % L.inner;
    const T* xr = x + base;
    T* yr = y + base;
    constexpr T inf = std::numeric_limits<T>::infinity();
    T m = -inf;
    for (std::int64_t k = 0; k < L.n; ++k) m = M::max(m, xr[k * s]);
    const T shift = M::abs(m) == inf ? T(0) : m;  // an all -inf row: NaN for softmax, -inf for log_softmax
    T sum(0);
    for (std::int64_t k = 0; k < L.n; ++k) sum += M::exp(xr[k * s] - shift);
    // (x - shift) - log(sum), not x - (shift + log(sum)): at |x| = 1e4 a float shift + log(sum) loses log(sum)'s digits.
    const T lsum = M::log(sum), inv = T(1) / sum;
    for (std::int64_t k = 0; k < L.n; ++k)
      yr[k * s] = log_ ? (xr[k * s] - shift) - lsum : M::exp(xr[k * s] - shift) * inv;
  }
};

/// The backward of both devices: one row per index.
template <class T>
struct SoftmaxBackwardRows {
  const T *y, *g;
  T* dx;
  RowLayout L;
  bool log_, accumulate;
  SINTER_HD void operator()(std::int64_t r) const {
    const std::int64_t s = L.inner, base = (r / L.inner) * L.n * L.inner + r % L.inner;
    const T *yr = y + base, *gr = g + base;
    T* dr = dx + base;
    T acc(0);
    for (std::int64_t k = 0; k < L.n; ++k) acc += log_ ? gr[k * s] : gr[k * s] * yr[k * s];
    for (std::int64_t k = 0; k < L.n; ++k) {
      const T v = log_ ? gr[k * s] - expr::Math<T>::exp(yr[k * s]) * acc : yr[k * s] * (gr[k * s] - acc);
      dr[k * s] = accumulate ? dr[k * s] + v : v;
    }
  }
};

/// y = softmax(x) (log_ = false) or log_softmax(x) along the middle dim of the layout.
template <class T>
void softmax_forward(Device dev, const T* x, T* y, RowLayout L, bool log_) {
  if (!dev.is_cpu()) return launch_for_each(dev, L.outer * L.inner, SoftmaxRows<T>{x, y, L, log_}, "softmax");
  detail::count_kernel(kCPU);
  using V = cpu::vec<T>;
  constexpr std::int64_t W = static_cast<std::int64_t>(V::size);
  const std::int64_t rows = L.outer * L.inner;
  const int nt = cpu::threads_for(rows * L.n);
  cpu::parallel(nt, [&](int tid, int nth) {
    const std::int64_t r0 = rows * tid / nth, r1 = rows * (tid + 1) / nth;
    for (std::int64_t r = r0; r < r1; ++r) {
      const std::int64_t o = r / L.inner, i = r % L.inner, s = L.inner;
      const T* xr = x + o * L.n * L.inner + i;
      T* yr = y + o * L.n * L.inner + i;
      T m = -std::numeric_limits<T>::infinity();
      std::int64_t k = 0;
      if (s == 1) {
        V vm(m);
        for (; k + W <= L.n; k += W) vm = expr::Math<V>::max(vm, V::load_unaligned(xr + k));
        alignas(64) T buf[V::size];
        vm.store_aligned(buf);
        for (std::size_t l = 0; l < V::size; ++l) m = expr::Math<T>::max(m, buf[l]);
      }
      for (; k < L.n; ++k) m = expr::Math<T>::max(m, xr[k * s]);
      const T shift = std::isinf(m) ? T(0) : m;  // an all -inf row gives NaN for softmax, -inf for log_softmax
      T sum = 0;
      k = 0;
      if (s == 1) {
        V vs(T(0));
        for (; k + W <= L.n; k += W) {
          const V e = xsimd::exp(V::load_unaligned(xr + k) - V(shift));
          if (!log_) e.store_unaligned(yr + k);
          vs += e;
        }
        sum = xsimd::hadd(vs);
      }
      for (; k < L.n; ++k) {
        const T e = std::exp(xr[k * s] - shift);
        if (!log_) yr[k * s] = e;
        sum += e;
      }
      if (log_) {
        const T lsum = std::log(sum);  // (x - shift) - log(sum), as on the device
        k = 0;
        if (s == 1)
          for (; k + W <= L.n; k += W) ((V::load_unaligned(xr + k) - V(shift)) - V(lsum)).store_unaligned(yr + k);
        for (; k < L.n; ++k) yr[k * s] = (xr[k * s] - shift) - lsum;
      } else {
        const T inv = T(1) / sum;
        k = 0;
        if (s == 1)
          for (; k + W <= L.n; k += W) (V::load_unaligned(yr + k) * V(inv)).store_unaligned(yr + k);
        for (; k < L.n; ++k) yr[k * s] *= inv;
      }
    }
  });
}

/// softmax: dx = y (g - sum(g y)); log_softmax: dx = g - exp(y) sum(g). One kernel, a row per index on either device;
/// writes or adds into dx.
template <class T>
void softmax_backward(Device dev, const T* y, const T* g, T* dx, RowLayout L, bool log_, bool accumulate) {
  launch_for_each(dev, L.outer * L.inner, SoftmaxBackwardRows<T>{y, g, dx, L, log_, accumulate}, "softmax backward",
                  L.n);
}

template <class T>
class SoftmaxBackward final : public Node {
 public:
  SoftmaxBackward(std::shared_ptr<TensorImpl> y, RowLayout L, bool log_) : y_(std::move(y)), L_(L), log_(log_) {}
  const char* name() const noexcept override { return log_ ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  void apply(const TensorImpl& g, std::vector<GradTarget>& targets) override {
    if (!targets[0].buffer) return;
    softmax_backward<T>(y_->device(), static_cast<const T*>(y_->data()), static_cast<const T*>(g.data()),
                        static_cast<T*>(targets[0].buffer->data()), L_, log_, targets[0].accumulate);
  }
  void release_saved() override { y_.reset(); }

 private:
  std::shared_ptr<TensorImpl> y_;
  RowLayout L_;
  bool log_;
};

template <class T>
TensorOf<T> softmax_impl(const TensorOf<T>& x_in, std::int64_t dim, bool log_, const SourceLocation& location) {
  const char* op = log_ ? "log_softmax" : "softmax";
  const int d = normalize_dim(dim, x_in.dim(), op);
  const TensorOf<T> x = x_in.contiguous();
  const RowLayout L = row_layout(x.shape(), d);
  auto out = TensorImpl::empty(x.shape(), dtype_of<T>(), x.device());
  softmax_forward<T>(x.device(), x.data(), static_cast<T*>(out->data()), L, log_);
  check_forward_anomaly(*out, {x.impl().get()}, op, location);
  if (is_grad_enabled() && x.requires_grad()) {
    auto saved = std::make_shared<TensorImpl>(*out);  // shares storage; no grad_fn, so no cycle
    auto node = std::make_shared<SoftmaxBackward<T>>(saved, L, log_);
    node->location = location;
    node->inputs.push_back(x.impl());
    out->grad_fn = std::move(node);
  }
  return TensorOf<T>(std::move(out));
}

// Instances, X applied to each: extern in compiled mode (config.hpp), made by implementation.hpp.
#define SINTER_SOFTMAX_INSTANCES(X, T)                                                                               \
  X(class SoftmaxBackward<T>)                                                                                        \
  X(TensorOf<T> softmax_impl<T>(const TensorOf<T>&, std::int64_t, bool, const SourceLocation&))
SINTER_SOFTMAX_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_SOFTMAX_INSTANCES(SINTER_EXTERN_TEMPLATE, double)

}  // namespace detail

/// exp(x) / sum(exp(x)) along dim, computed stably. Example: `Tensor p = sinter::softmax(logits, 1);`
template <expr::NodeLike X>
auto softmax(const X& x, std::int64_t dim, const SourceLocation& location = SourceLocation::current()) {
  return detail::softmax_impl(eval(x, location), dim, false, location);
}
/// x - logsumexp(x) along dim, computed stably.
template <expr::NodeLike X>
auto log_softmax(const X& x, std::int64_t dim, const SourceLocation& location = SourceLocation::current()) {
  return detail::softmax_impl(eval(x, location), dim, true, location);
}

}  // namespace sinter
