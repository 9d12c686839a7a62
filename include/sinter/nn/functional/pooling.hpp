// SPDX-License-Identifier: Apache-2.0
// 2-D pooling over NCHW input: max (argmax saved for the backward scatter), average, adaptive average.
// One kernel each way; planes (n, c) are spread over threads, so backward writes never collide.
#pragma once

#include <array>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include <sinter/backend/cpu/parallel.hpp>
#include <sinter/backend/cpu/simd.hpp>
#include <sinter/backend/dispatch.hpp>
#include <sinter/core/atomic.hpp>
#include <sinter/ops/statement.hpp>

namespace sinter::nn::functional {
namespace detail {

using sinter::detail::count_kernel;

/// One pooling window per output element: rows [h0, h1) and columns [w0, w1) of the input plane.
struct PoolGeometry {
  std::int64_t planes, H, W, OH, OW;
  std::int64_t kh, kw, sh, sw, ph, pw;
  bool adaptive = false;
  bool count_include_pad = true;
  SINTER_HD std::int64_t h0(std::int64_t oh) const { return adaptive ? (oh * H) / OH : oh * sh - ph; }
  SINTER_HD std::int64_t h1(std::int64_t oh) const {
    return adaptive ? ((oh + 1) * H + OH - 1) / OH : oh * sh - ph + kh;
  }
  SINTER_HD std::int64_t w0(std::int64_t ow) const { return adaptive ? (ow * W) / OW : ow * sw - pw; }
  SINTER_HD std::int64_t w1(std::int64_t ow) const {
    return adaptive ? ((ow + 1) * W + OW - 1) / OW : ow * sw - pw + kw;
  }
  struct Window {
    std::int64_t h0, h1, w0, w1;  // clipped to the image
    std::int64_t count;           // average pooling's divisor, per PyTorch's rules
  };
  /// The window of output (oh, ow).
  SINTER_HD Window window(std::int64_t oh, std::int64_t ow) const {
    const std::int64_t a0 = h0(oh), a1 = h1(oh), c0 = w0(ow), c1 = w1(ow);
    Window b{a0 > 0 ? a0 : 0, a1 < H ? a1 : H, c0 > 0 ? c0 : 0, c1 < W ? c1 : W, 0};
    const std::int64_t ph1 = a1 < H + ph ? a1 : H + ph, pw1 = c1 < W + pw ? c1 : W + pw;
    b.count = adaptive || !count_include_pad ? (b.h1 - b.h0) * (b.w1 - b.w0) : (ph1 - a0) * (pw1 - c0);
    return b;
  }
};

/// Whether v replaces the running maximum best: larger, or a NaN (which then sticks), as PyTorch's max pooling does.
/// One rule for the device kernel and the CPU's scalar loops (the SIMD loop spells it with masks).
template <class T>
SINTER_HD bool replaces_max(T v, T best) {
  return best == best && !(v <= best);
}

// ---- device kernels: one output element per index; backward adds into the (zeroed) input gradient atomically ----

template <class T>
struct MaxPoolKernel {
  const T* x;
  T* out;
  std::int32_t* argmax;
  PoolGeometry g;
  SINTER_HD void operator()(std::int64_t i) const {
    const std::int64_t on = g.OH * g.OW, q = i / on, oh = (i % on) / g.OW, ow = i % g.OW;
    const auto b = g.window(oh, ow);
    const T* s = x + q * g.H * g.W;
    T best = -std::numeric_limits<T>::infinity();
    std::int64_t arg = b.h0 * g.W + b.w0;
    for (std::int64_t h = b.h0; h < b.h1; ++h)
      for (std::int64_t w = b.w0; w < b.w1; ++w) {
        const T v = s[h * g.W + w];
        if (replaces_max(v, best)) best = v, arg = h * g.W + w;
      }
    out[i] = best;
    argmax[i] = static_cast<std::int32_t>(arg);
  }
};

template <class T>
struct MaxPoolBackwardKernel {
  const T* g_out;
  const std::int32_t* argmax;
  T* dx;
  std::int64_t in, on;
  SINTER_HD void operator()(std::int64_t i) const {
    sinter::detail::atomic_add(dx + (i / on) * in + argmax[i], g_out[i]);
  }
};

template <class T>
struct AvgPoolKernel {
  const T* src;
  T* dst;
  PoolGeometry g;
  bool backward;
  SINTER_HD void operator()(std::int64_t i) const {
    const std::int64_t on = g.OH * g.OW, q = i / on, oh = (i % on) / g.OW, ow = i % g.OW;
    const auto b = g.window(oh, ow);
    const T inv = b.count > 0 ? T(1) / static_cast<T>(b.count) : T(0);
    if (!backward) {
      const T* s = src + q * g.H * g.W;
      T acc(0);
      for (std::int64_t h = b.h0; h < b.h1; ++h)
        for (std::int64_t w = b.w0; w < b.w1; ++w) acc += s[h * g.W + w];
      dst[i] = acc * inv;
    } else {
      T* d = dst + q * g.H * g.W;
      const T v = src[i] * inv;
      for (std::int64_t h = b.h0; h < b.h1; ++h)
        for (std::int64_t w = b.w0; w < b.w1; ++w) sinter::detail::atomic_add(d + h * g.W + w, v);
    }
  }
};

/// Zeroes a device gradient buffer that kernels then add into (part of the backward pass, as on the CPU).
inline void zero_device(const TensorImpl& t) {
  sinter::detail::cuda_raw_ops().zero(t.data(), static_cast<std::size_t>(t.numel()) * element_size(t.dtype));
}

template <class F>
void for_planes(const PoolGeometry& g, F&& f) {
  cpu::parallel(cpu::threads_for(g.planes * g.H * g.W), [&](int tid, int nth) {
    for (std::int64_t q = g.planes * tid / nth; q < g.planes * (tid + 1) / nth; ++q) f(q);
  });
}

template <class T>
class MaxPool2dBackward final : public Node {
 public:
  MaxPool2dBackward(PoolGeometry g, std::shared_ptr<Storage> argmax) : g_(g), argmax_(std::move(argmax)) {}
  const char* name() const noexcept override { return "MaxPool2DWithIndicesBackward"; }
  void apply(const TensorImpl& gout, std::vector<GradTarget>& targets) override {
    auto& t = targets[0];
    if (!t.buffer) return;
    const T* gp = static_cast<const T*>(gout.data());
    T* dx = static_cast<T*>(t.buffer->data());
    const std::int64_t in = g_.H * g_.W, on = g_.OH * g_.OW;
    if (const Device dev = t.buffer->device(); !dev.is_cpu()) {
      if (!t.accumulate) zero_device(*t.buffer);
      const auto* am = static_cast<const std::int32_t*>(argmax_->data());
      sinter::detail::launch_for_each(dev, g_.planes * on, MaxPoolBackwardKernel<T>{gp, am, dx, in, on}, name());
      return;
    }
    count_kernel(kCPU);
    for_planes(g_, [&](std::int64_t q) {
      T* d = dx + q * in;
      if (!t.accumulate) std::fill_n(d, in, T(0));
      const std::int32_t* a = static_cast<const std::int32_t*>(argmax_->data()) + q * on;
      const T* s = gp + q * on;
      for (std::int64_t o = 0; o < on; ++o) d[a[o]] += s[o];
    });
  }
  void release_saved() override { argmax_.reset(); }

 private:
  PoolGeometry g_;
  std::shared_ptr<Storage> argmax_;  // int32 offset of each output's maximum inside its input plane
};

/// Average pooling (fixed or adaptive windows) forward or backward; divisor per PyTorch's rules.
template <class T>
void avg_pool(Device dev, const TensorImpl& dst_t, const T* src, T* dst, const PoolGeometry& g, bool backward,
              bool accumulate) {
  if (!dev.is_cpu()) {
    if (backward && !accumulate) zero_device(dst_t);
    return sinter::detail::launch_for_each(dev, g.planes * g.OH * g.OW, AvgPoolKernel<T>{src, dst, g, backward},
                                           backward ? "avg_pool2d backward" : "avg_pool2d");
  }
  count_kernel(kCPU);
  const std::int64_t in = g.H * g.W, on = g.OH * g.OW;
  for_planes(g, [&](std::int64_t q) {
    const T* s = src + q * (backward ? on : in);
    T* d = dst + q * (backward ? in : on);
    if (backward && !accumulate) std::fill_n(d, in, T(0));
    for (std::int64_t oh = 0; oh < g.OH; ++oh)
      for (std::int64_t ow = 0; ow < g.OW; ++ow) {
        const auto win = g.window(oh, ow);
        const std::int64_t c0 = win.h0, c1 = win.h1, e0 = win.w0, e1 = win.w1;
        const T inv = win.count > 0 ? T(1) / static_cast<T>(win.count) : T(0);
        if (!backward) {
          T acc = 0;
          for (std::int64_t h = c0; h < c1; ++h)
            for (std::int64_t w = e0; w < e1; ++w) acc += s[h * g.W + w];
          d[oh * g.OW + ow] = acc * inv;
        } else {
          const T v = s[oh * g.OW + ow] * inv;
          for (std::int64_t h = c0; h < c1; ++h)
            for (std::int64_t w = e0; w < e1; ++w) d[h * g.W + w] += v;
        }
      }
  });
}

/// MaxPool2d(2) over one plane of width W: out[oh, ow] = the first maximum of its 2x2 window (a NaN wins and sticks,
/// as in PyTorch) with its offset in the plane. The window maximum is computed with SIMD at every position p of the
/// flattened plane (candidates p, p+1, p+W, p+W+1: contiguous loads whatever the width, no branches), and the outputs
/// are the positions 2*oh*W + 2*ow. Four times the comparisons of the outputs alone, but a scalar compare-and-branch
/// mispredicts about once per window on real data, and LeNet's planes (28 and 10 wide) are narrower than a row of
/// vectors would need.
template <class T>
void max_pool_2x2_plane(const T* s, T* o, std::int32_t* a, std::int64_t W, std::int64_t OH, std::int64_t OW) {
  using V = cpu::vec<T>;
  constexpr std::int64_t L = V::size;
  const std::int64_t last = 2 * (OH - 1) * W + 2 * (OW - 1);  // the last window's first position
  thread_local std::vector<T, xsimd::aligned_allocator<T, 64>> scratch;
  if (static_cast<std::int64_t>(scratch.size()) < 2 * (last + 1)) scratch.resize(static_cast<std::size_t>(2 * (last + 1)));
  T* best_at = scratch.data();
  T* off_at = best_at + last + 1;
  std::int64_t p = 0;
  for (; p + L <= last + 1; p += L) {  // the farthest load ends at p + W + L <= last + W + 1: inside the plane
    V best = V::load_unaligned(s + p), off(T(0));
    const auto step = [&](V v, T at) {
      const auto take = (best == best) & ((v > best) | xsimd::isnan(v));  // replaces_max, lane by lane
      best = xsimd::select(take, v, best);
      off = xsimd::select(take, V(at), off);
    };
    step(V::load_unaligned(s + p + 1), T(1));
    step(V::load_unaligned(s + p + W), static_cast<T>(W));
    step(V::load_unaligned(s + p + W + 1), static_cast<T>(W + 1));
    best.store_unaligned(best_at + p);
    off.store_unaligned(off_at + p);
  }
  for (; p <= last; ++p) {
    T best = s[p], off = T(0);
    const T cand[3] = {s[p + 1], s[p + W], s[p + W + 1]}, at[3] = {T(1), static_cast<T>(W), static_cast<T>(W + 1)};
    for (int k = 0; k < 3; ++k) {
      const bool take = replaces_max(cand[k], best);
      best = take ? cand[k] : best;
      off = take ? at[k] : off;
    }
    best_at[p] = best, off_at[p] = off;
  }
  for (std::int64_t oh = 0; oh < OH; ++oh)
    for (std::int64_t ow = 0; ow < OW; ++ow) {
      const std::int64_t q = 2 * oh * W + 2 * ow;
      o[oh * OW + ow] = best_at[q];
      a[oh * OW + ow] = static_cast<std::int32_t>(q + static_cast<std::int64_t>(off_at[q]));
    }
}

/// Max over each window, with the argmax offset inside the plane; NaN wins, as in PyTorch.
template <class T>
void max_pool_forward(const T* xp, T* op, std::int32_t* am, const PoolGeometry g) {
  const std::int64_t H = g.H, W = g.W, OH = g.OH, OW = g.OW, kh = g.kh, kw = g.kw, in = H * W, on = OH * OW;
  const bool simple = g.ph == 0 && g.pw == 0 && kh == g.sh && kw == g.sw && OH * kh <= H && OW * kw <= W;
  for_planes(g, [&](std::int64_t q) {
    const T* s = xp + q * in;
    T* o = op + q * on;
    std::int32_t* a = am + q * on;
    if (simple && kh == 2 && kw == 2) {  // MaxPool2d(2), the common case: four candidates, no bounds
      max_pool_2x2_plane(s, o, a, W, OH, OW);
      return;
    }
    for (std::int64_t oh = 0; oh < OH; ++oh)
      for (std::int64_t ow = 0; ow < OW; ++ow) {
        std::int64_t h0, h1, w0, w1;
        if (simple) {  // non-overlapping windows inside the image (MaxPool2d(2)): no bounds to clip
          h0 = oh * kh, h1 = h0 + kh, w0 = ow * kw, w1 = w0 + kw;
        } else {
          const auto win = g.window(oh, ow);
          h0 = win.h0, h1 = win.h1, w0 = win.w0, w1 = win.w1;
        }
        T best = -std::numeric_limits<T>::infinity();
        std::int64_t arg = h0 * W + w0;
        for (std::int64_t h = h0; h < h1; ++h)
          for (std::int64_t w = w0; w < w1; ++w) {
            const T v = s[h * W + w];
            const bool take = replaces_max(v, best);  // branch-free select: data order is random
            best = take ? v : best;
            arg = take ? h * W + w : arg;
          }
        o[oh * OW + ow] = best;
        a[oh * OW + ow] = static_cast<std::int32_t>(arg);
      }
  });
}

template <class T>
class AvgPool2dBackward final : public Node {
 public:
  explicit AvgPool2dBackward(PoolGeometry g) : g_(g) {}
  const char* name() const noexcept override { return g_.adaptive ? "AdaptiveAvgPool2DBackward" : "AvgPool2DBackward"; }
  void apply(const TensorImpl& gout, std::vector<GradTarget>& targets) override {
    auto& t = targets[0];
    if (t.buffer)
      avg_pool<T>(t.buffer->device(), *t.buffer, static_cast<const T*>(gout.data()),
                  static_cast<T*>(t.buffer->data()), g_, true, t.accumulate);
  }

 private:
  PoolGeometry g_;
};

template <class T>
std::pair<TensorOf<T>, PoolGeometry> pool_setup(const TensorOf<T>& input, const char* op) {
  sinter::detail::require_defined(input.impl().get(), op);
  SINTER_CHECK(input.dim() == 3 || input.dim() == 4, op, ": expected a 3-D (CHW) or 4-D (NCHW) input, got shape ",
               input.shape());
  PoolGeometry g{};
  const int r = input.dim();
  g.H = input.size(r - 2);
  g.W = input.size(r - 1);
  g.planes = input.numel() / std::max<std::int64_t>(g.H * g.W, 1);
  return {input.contiguous(), g};
}

template <class T>
TensorOf<T> pooled_output(const TensorOf<T>& x, const PoolGeometry& g) {
  Shape s = x.shape();
  s[s.size() - 2] = g.OH;
  s[s.size() - 1] = g.OW;
  return TensorOf<T>(TensorImpl::empty(s, dtype_of<T>(), x.device()));
}

/// Average pooling of x over the windows of g (fixed or adaptive), recording the backward when grad flows.
template <class T>
TensorOf<T> avg_pooled(const TensorOf<T>& x, const PoolGeometry& g) {
  TensorOf<T> out = pooled_output(x, g);
  avg_pool<T>(x.device(), *out.impl(), x.data(), out.data(), g, false, false);
  if (is_grad_enabled() && x.requires_grad()) {
    auto node = std::make_shared<AvgPool2dBackward<T>>(g);
    node->inputs.push_back(x.impl());
    out.impl()->grad_fn = std::move(node);
  }
  return out;
}

inline void fixed_windows(PoolGeometry& g, std::array<std::int64_t, 2> k, std::array<std::int64_t, 2> s,
                          std::array<std::int64_t, 2> p, bool ceil_mode, const char* op) {
  for (int i = 0; i < 2; ++i) {
    SINTER_CHECK(k[i] > 0 && s[i] > 0, op, ": kernel_size and stride must be positive, got ", k[i], " and ", s[i]);
    SINTER_CHECK(p[i] >= 0 && 2 * p[i] <= k[i], op, ": pad should be at most half of the kernel size, but got pad=",
                 p[i], " and kernel_size=", k[i]);
  }
  g.kh = k[0], g.kw = k[1], g.sh = s[0], g.sw = s[1], g.ph = p[0], g.pw = p[1];
  auto out = [&](std::int64_t in, std::int64_t kk, std::int64_t ss, std::int64_t pp) {
    const std::int64_t span = in + 2 * pp - kk;
    std::int64_t o = (ceil_mode ? (span + ss - 1) / ss : span / ss) + 1;
    if (ceil_mode && (o - 1) * ss >= in + pp) --o;  // the last window must start inside the input or left padding
    return o;
  };
  g.OH = out(g.H, g.kh, g.sh, g.ph);
  g.OW = out(g.W, g.kw, g.sw, g.pw);
  SINTER_CHECK(g.OH > 0 && g.OW > 0, op, ": the output would be empty: input ", g.H, "x", g.W, ", kernel ", g.kh, "x",
               g.kw, ", padding ", g.ph, "x", g.pw);
}

}  // namespace detail

/// Max pooling (torch::nn::functional::max_pool2d); stride defaults to the kernel size. Padding is -inf.
template <class T>
TensorOf<T> max_pool2d(const TensorOf<T>& input, std::array<std::int64_t, 2> kernel_size,
                       std::optional<std::array<std::int64_t, 2>> stride = std::nullopt,
                       std::array<std::int64_t, 2> padding = {0, 0}, bool ceil_mode = false) {
  auto [x, g] = detail::pool_setup(input, "max_pool2d");
  detail::fixed_windows(g, kernel_size, stride.value_or(kernel_size), padding, ceil_mode, "max_pool2d");
  TensorOf<T> out = detail::pooled_output(x, g);
  // Argmax offsets come from the caching allocator too: a fresh std::vector per call costs page faults.
  auto argmax = sinter::detail::allocate_storage(
      static_cast<std::size_t>(g.planes * g.OH * g.OW) * sizeof(std::int32_t), x.device());
  auto* am = static_cast<std::int32_t*>(argmax->data());
  if (x.device().is_cpu()) {
    detail::count_kernel(kCPU);
    detail::max_pool_forward(x.data(), out.data(), am, g);
  } else {
    sinter::detail::launch_for_each(x.device(), g.planes * g.OH * g.OW,
                                    detail::MaxPoolKernel<T>{x.data(), out.data(), am, g}, "max_pool2d");
  }
  if (is_grad_enabled() && x.requires_grad()) {
    auto node = std::make_shared<detail::MaxPool2dBackward<T>>(g, std::move(argmax));
    node->inputs.push_back(x.impl());
    out.impl()->grad_fn = std::move(node);
  }
  return out;
}

/// Average pooling (torch::nn::functional::avg_pool2d); stride defaults to the kernel size.
template <class T>
TensorOf<T> avg_pool2d(const TensorOf<T>& input, std::array<std::int64_t, 2> kernel_size,
                       std::optional<std::array<std::int64_t, 2>> stride = std::nullopt,
                       std::array<std::int64_t, 2> padding = {0, 0}, bool ceil_mode = false,
                       bool count_include_pad = true) {
  auto [x, g] = detail::pool_setup(input, "avg_pool2d");
  detail::fixed_windows(g, kernel_size, stride.value_or(kernel_size), padding, ceil_mode, "avg_pool2d");
  g.count_include_pad = count_include_pad;
  return detail::avg_pooled(x, g);
}

/// Adaptive average pooling to output_size (torch::nn::functional::adaptive_avg_pool2d).
template <class T>
TensorOf<T> adaptive_avg_pool2d(const TensorOf<T>& input, std::array<std::int64_t, 2> output_size) {
  auto [x, g] = detail::pool_setup(input, "adaptive_avg_pool2d");
  SINTER_CHECK(output_size[0] > 0 && output_size[1] > 0, "adaptive_avg_pool2d: output_size must be positive, got ",
               output_size[0], "x", output_size[1]);
  g.adaptive = true;
  g.OH = output_size[0];
  g.OW = output_size[1];
  return detail::avg_pooled(x, g);
}

#define SINTER_POOL_INSTANCES(X, T)                                                                                  \
  X(TensorOf<T> max_pool2d<T>(const TensorOf<T>&, std::array<std::int64_t, 2>,                                       \
                              std::optional<std::array<std::int64_t, 2>>, std::array<std::int64_t, 2>, bool))
SINTER_POOL_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_POOL_INSTANCES(SINTER_EXTERN_TEMPLATE, double)
}  // namespace sinter::nn::functional
