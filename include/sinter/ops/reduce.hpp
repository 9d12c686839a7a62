// SPDX-License-Identifier: Apache-2.0
// Reductions: sum, mean, amax, amin, max, min, logsumexp over all dims or given dims, with keepdim.
// A reduction of a lazy expression is one pass with no temporary; its backward is the expression's fused backward
// with the incoming gradient broadcast back over the reduced dims.
#pragma once

#include <algorithm>
#include <limits>
#include <vector>

#include <sinter/ops/statement.hpp>

namespace sinter {

namespace detail {

struct ReducedDims {
  Shape kept;      // the input shape with reduced dims set to 1
  Shape squeezed;  // the output shape without keepdim
  std::int64_t count = 1;  // elements folded into each output
};

inline ReducedDims reduced_dims(const Shape& in, const std::vector<std::int64_t>& dims, const char* op) {
  ReducedDims r;
  r.kept = in;
  std::vector<bool> red(static_cast<std::size_t>(in.size()), dims.empty());
  for (auto d : dims) {
    const int n = normalize_dim(d, in.size(), op);
    if (in.size() == 0) continue;
    SINTER_CHECK(!red[static_cast<std::size_t>(n)], op, ": dim ", d, " appears more than once in the list of dims");
    red[static_cast<std::size_t>(n)] = true;
  }
  for (int i = 0; i < in.size(); ++i) {
    if (red[static_cast<std::size_t>(i)]) {
      r.count *= in[i];
      r.kept[i] = 1;
    } else {
      r.squeezed.push_back(in[i]);
    }
  }
  return r;
}

/// Folds expression e into a fresh tensor of shape `kept`, times scale. One kernel.
template <expr::ReduceKind K, class T, class E>
std::shared_ptr<TensorImpl> fold(const E& e, const LeafHandles& leaves, const Shape& kept, Device dev,
                                 T scale = T(1)) {
  auto out = TensorImpl::empty(kept, dtype_of<T>(), dev);
  const expr::IterationSpace space = statement_space(leaves, e.shape(), kept, contiguous_strides(kept));
  expr::PlanBuilder b(space);
  const auto plan = e.plan(b);
  launch_reduce<K, T>(dev, space, plan, b.extra(0), static_cast<T*>(out->data()), out->numel(), scale);
  return out;
}

/// Records a reduction's tape node: the expression's fused sweep, its root seeded per element by make_seed from the
/// incoming gradient (broadcast back over the reduced dims) and the saved operands.
template <class T, class E, class MakeSeed>
void record_reduction(const std::shared_ptr<TensorImpl>& out, const char* name, const E& e, const LeafHandles& leaves,
                      const Shape& kept, std::vector<std::shared_ptr<TensorImpl>> saved, MakeSeed make_seed,
                      const SourceLocation& location) {
  if (!any_needs_grad(leaves)) return;
  attach_node(*out, statement_node<T>(name, e, make_seed, kept, std::move(saved)), leaves, location);
}

/// The result with keepdim's shape, or without the reduced dims. The result is contiguous, so dropping size-1 dims
/// is a change of shape, not a view node: its backward sees the gradient with keepdim's shape anyway.
template <class T>
TensorOf<T> finish(std::shared_ptr<TensorImpl> out, const ReducedDims& r, bool keepdim) {
  if (!keepdim) {
    out->shape = r.squeezed;
    out->strides = contiguous_strides(r.squeezed);
  }
  return TensorOf<T>(std::move(out));
}

template <class T, class E>
TensorOf<T> sum_impl(const E& e, const std::vector<std::int64_t>& dims, bool keepdim, T scale, const char* op,
                     const char* node, const SourceLocation& location) {
  const auto leaves = leaves_of(e);
  const Device dev = statement_device(leaves, op);
  const auto r = reduced_dims(e.shape(), dims, op);
  auto out = fold<expr::ReduceKind::Sum, T>(e, leaves, r.kept, dev, scale);
  check_statement_anomaly(*out, leaves, op, location);
  record_reduction<T>(out, node, e, leaves, r.kept, {}, ScaledGradSeed<T>{scale}, location);
  return finish<T>(std::move(out), r, keepdim);
}

template <expr::ReduceKind K, class T, class E>
TensorOf<T> extreme_impl(const E& e, const std::vector<std::int64_t>& dims, bool keepdim, const char* op,
                         const char* node, const SourceLocation& location) {
  const auto leaves = leaves_of(e);
  const Device dev = statement_device(leaves, op);
  const auto r = reduced_dims(e.shape(), dims, op);
  SINTER_CHECK(numel_of(e.shape()) > 0 && (r.count > 0 || numel_of(r.kept) == 0), op,
               ": cannot reduce an empty tensor (shape ", e.shape(), "), since the operation has no identity");
  auto out = fold<K, T>(e, leaves, r.kept, dev);
  check_statement_anomaly(*out, leaves, op, location);
  if (any_needs_grad(leaves)) {
    // Ties share the gradient, as in PyTorch: count the elements equal to the extreme (one more kernel).
    TensorOf<T> m(out);
    std::shared_ptr<TensorImpl> count;
    {
      NoGradGuard ng;
      const auto hits = expr::make_map(expr::ops::Equal{}, e, m);
      count = fold<expr::ReduceKind::Sum, T>(hits, leaves_of(hits), r.kept, dev);
    }
    auto saved_m = std::make_shared<TensorImpl>(*out);  // shares storage; no grad_fn, so no cycle
    saved_m->grad_fn.reset();
    record_reduction<T>(out, node, e, leaves, r.kept, {saved_m, count}, [](const std::vector<expr::LeafPlan<T>>& s) {
      return expr::ExtremeSeed<T>{s[0], s[1], s[2]};
    }, location);
  }
  return finish<T>(std::move(out), r, keepdim);
}

template <class X>
using element_t = typename expr::detail::common_element<X>::type;

}  // namespace detail

/// Sum of all elements (a 0-d tensor). `sum(x * y)` is one fused pass. Example: `Tensor s = sinter::sum(x * y);`
template <expr::NodeLike X>
auto sum(const X& x, const SourceLocation& location = SourceLocation::current()) {
  using T = detail::element_t<X>;
  return detail::sum_impl<T>(expr::detail::as_node<T>(x), {}, false, T(1), "sum", "SumBackward", location);
}
/// Sum over `dims` (negative dims count from the end); keepdim keeps them with size 1.
template <expr::NodeLike X>
auto sum(const X& x, const std::vector<std::int64_t>& dims, bool keepdim = false,
         const SourceLocation& location = SourceLocation::current()) {
  using T = detail::element_t<X>;
  SINTER_CHECK(!dims.empty(), "sum: the list of dims is empty; call sum(x) to reduce over every dim");
  return detail::sum_impl<T>(expr::detail::as_node<T>(x), dims, keepdim, T(1), "sum", "SumBackward", location);
}
template <expr::NodeLike X>
auto mean(const X& x, const SourceLocation& location = SourceLocation::current()) {
  using T = detail::element_t<X>;
  const auto e = expr::detail::as_node<T>(x);
  const auto n = numel_of(e.shape());
  SINTER_CHECK(n > 0, "mean: the mean of an empty tensor (shape ", e.shape(), ") is undefined");
  return detail::sum_impl<T>(e, {}, false, T(1) / static_cast<T>(n), "mean", "MeanBackward", location);
}
template <expr::NodeLike X>
auto mean(const X& x, const std::vector<std::int64_t>& dims, bool keepdim = false,
          const SourceLocation& location = SourceLocation::current()) {
  using T = detail::element_t<X>;
  SINTER_CHECK(!dims.empty(), "mean: the list of dims is empty; call mean(x) to reduce over every dim");
  const auto e = expr::detail::as_node<T>(x);
  const auto r = detail::reduced_dims(e.shape(), dims, "mean");
  SINTER_CHECK(r.count > 0, "mean: the mean over an empty dim is undefined (shape ", e.shape(), ")");
  return detail::sum_impl<T>(e, dims, keepdim, T(1) / static_cast<T>(r.count), "mean", "MeanBackward", location);
}
/// Largest element over all dims (NaN if any is NaN), as torch::amax; ties share the gradient.
template <expr::NodeLike X>
auto amax(const X& x, const SourceLocation& location = SourceLocation::current()) {
  using T = detail::element_t<X>;
  return detail::extreme_impl<expr::ReduceKind::Max, T>(expr::detail::as_node<T>(x), {}, false, "amax", "AmaxBackward",
                                                       location);
}
template <expr::NodeLike X>
auto amax(const X& x, const std::vector<std::int64_t>& dims, bool keepdim = false,
          const SourceLocation& location = SourceLocation::current()) {
  using T = detail::element_t<X>;
  return detail::extreme_impl<expr::ReduceKind::Max, T>(expr::detail::as_node<T>(x), dims, keepdim, "amax",
                                                        "AmaxBackward", location);
}
template <expr::NodeLike X>
auto amin(const X& x, const SourceLocation& location = SourceLocation::current()) {
  using T = detail::element_t<X>;
  return detail::extreme_impl<expr::ReduceKind::Min, T>(expr::detail::as_node<T>(x), {}, false, "amin", "AminBackward",
                                                       location);
}
template <expr::NodeLike X>
auto amin(const X& x, const std::vector<std::int64_t>& dims, bool keepdim = false,
          const SourceLocation& location = SourceLocation::current()) {
  using T = detail::element_t<X>;
  return detail::extreme_impl<expr::ReduceKind::Min, T>(expr::detail::as_node<T>(x), dims, keepdim, "amin",
                                                        "AminBackward", location);
}
/// Largest element of all (torch::max(x) without a dim).
template <expr::NodeLike X>
auto max(const X& x, const SourceLocation& location = SourceLocation::current()) {
  return amax(x, location);
}
template <expr::NodeLike X>
auto min(const X& x, const SourceLocation& location = SourceLocation::current()) {
  return amin(x, location);
}

/// log(sum(exp(x))) over dims, stable for large magnitudes and -inf: the maximum is subtracted first.
/// Three passes (amax, the sum of exponentials, the log); backward is one fused pass.
template <expr::NodeLike X>
auto logsumexp(const X& x, const std::vector<std::int64_t>& dims, bool keepdim = false,
               const SourceLocation& location = SourceLocation::current()) {
  using T = detail::element_t<X>;
  const auto e = expr::detail::as_node<T>(x);
  const auto leaves = detail::leaves_of(e);
  const Device dev = detail::statement_device(leaves, "logsumexp");
  const auto r = detail::reduced_dims(e.shape(), dims, "logsumexp");
  std::shared_ptr<TensorImpl> out;
  {
    NoGradGuard ng;
    TensorOf<T> m(detail::fold<expr::ReduceKind::Max, T>(e, leaves, r.kept, dev));
    // An all -inf (or +inf) slice must not produce inf - inf: shift by 0 there instead.
    TensorOf<T> shift = where(abs(m) == std::numeric_limits<T>::infinity(), T(0), m);
    const auto shifted = exp(e - shift);
    TensorOf<T> s(detail::fold<expr::ReduceKind::Sum, T>(shifted, detail::leaves_of(shifted), r.kept, dev));
    TensorOf<T> lse = log(s) + shift;
    out = lse.impl();
  }
  detail::check_statement_anomaly(*out, leaves, "logsumexp", location);
  auto saved = std::make_shared<TensorImpl>(*out);
  saved->grad_fn.reset();
  detail::record_reduction<T>(out, "LogsumexpBackward", e, leaves, r.kept, {saved},
                              [](const std::vector<expr::LeafPlan<T>>& s) { return expr::LogSumExpSeed<T>{s[0], s[1]}; },
                              location);
  return detail::finish<T>(std::move(out), r, keepdim);
}

}  // namespace sinter
