// SPDX-License-Identifier: Apache-2.0
// Joining and indexing: cat, stack, index_select, gather. Barriers (an expression operand is materialised first).
// Indices are int64 tensors, as in PyTorch; every index is range-checked: on the CPU before anything is written, on a
// device by the kernel that reads it (the indices never leave the device).
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <vector>

#include <sinter/backend/cpu/parallel.hpp>
#include <sinter/core/atomic.hpp>
#include <sinter/ops/statement.hpp>

namespace sinter {
namespace detail {

/// A view of t narrowed to [start, start + len) along dim (geometry only, shares storage, no tape node).
inline TensorImpl narrow_impl(const TensorImpl& t, int dim, std::int64_t start, std::int64_t len) {
  TensorImpl v;
  v.storage = t.storage;
  v.dtype = t.dtype;
  v.shape = t.shape;
  v.strides = t.strides;
  v.offset = t.offset + start * t.strides[dim];
  v.shape[dim] = len;
  return v;
}

/// Gradient of cat: each input receives its slice of the output gradient.
class CatBackward final : public Node {
 public:
  CatBackward(int dim, std::vector<std::int64_t> starts) : dim_(dim), starts_(std::move(starts)) {}
  const char* name() const noexcept override { return "CatBackward"; }
  void apply(const TensorImpl& g, std::vector<GradTarget>& targets) override {
    for (std::size_t k = 0; k < targets.size(); ++k) {
      if (!targets[k].buffer) continue;
      const TensorImpl part = narrow_impl(g, dim_, starts_[k], targets[k].buffer->shape[dim_]);
      copy_into(*targets[k].buffer, part, targets[k].accumulate);
    }
  }

 private:
  int dim_;
  std::vector<std::int64_t> starts_;
};

/// Reads an int64 index tensor into host memory, checking every value against [-size, size).
inline std::vector<std::int64_t> checked_indices(const TensorOf<std::int64_t>& index, std::int64_t size,
                                                 const char* op, int dim) {
  std::vector<std::int64_t> v = index.to_vector();
  for (auto& i : v) {
    SINTER_CHECK(i >= -size && i < size, op, ": index ", i, " is out of bounds for dimension ", dim, " with size ",
                 size);
    if (i < 0) i += size;
  }
  return v;
}

/// out[o, j, :] = x[o, idx[j], :] (forward) or dx[o, idx[j], :] += g[o, j, :] (backward, add = true).
template <class T>
void index_rows(T* dst, const T* src, const std::vector<std::int64_t>& idx, RowLayout big, bool scatter) {
  const std::int64_t m = static_cast<std::int64_t>(idx.size()), inner = big.inner;
  const int nt = cpu::threads_for(big.outer * m * inner);
  const std::int64_t parts = scatter ? big.outer : big.outer * m;  // scatter: one thread owns a whole outer slab
  cpu::parallel(std::min<std::int64_t>(nt, std::max<std::int64_t>(parts, 1)), [&](int tid, int nth) {
    const std::int64_t p0 = parts * tid / nth, p1 = parts * (tid + 1) / nth;
    for (std::int64_t p = p0; p < p1; ++p) {
      if (scatter) {
        for (std::int64_t j = 0; j < m; ++j) {
          T* d = dst + (p * big.n + idx[static_cast<std::size_t>(j)]) * inner;
          const T* s = src + (p * m + j) * inner;
          for (std::int64_t i = 0; i < inner; ++i) d[i] += s[i];
        }
      } else {
        const std::int64_t o = p / m, j = p % m;
        std::memcpy(dst + p * inner, src + (o * big.n + idx[static_cast<std::size_t>(j)]) * inner,
                    static_cast<std::size_t>(inner) * sizeof(T));
      }
    }
  });
}

template <class T>
class IndexSelectBackward final : public Node {
 public:
  IndexSelectBackward(std::vector<std::int64_t> idx, RowLayout big) : idx_(std::move(idx)), big_(big) {}
  const char* name() const noexcept override { return "IndexSelectBackward"; }
  void apply(const TensorImpl& g, std::vector<GradTarget>& targets) override {
    auto& t = targets[0];
    if (!t.buffer) return;
    count_kernel(kCPU);  // zeroing and the scatter-add are one pass over the gradient
    T* dx = static_cast<T*>(t.buffer->data());
    if (!t.accumulate) std::memset(dx, 0, static_cast<std::size_t>(t.buffer->numel()) * sizeof(T));
    index_rows<T>(dx, static_cast<const T*>(g.data()), idx_, big_, true);
  }
  void release_saved() override { idx_ = {}; }

 private:
  std::vector<std::int64_t> idx_;
  RowLayout big_;
};

/// Walks every element of a contiguous tensor of shape `s`, giving its multi-index (row-major order).
template <class F>
void for_each_index(const Shape& s, F&& f) {
  const std::int64_t n = numel_of(s);
  std::int64_t idx[kMaxRank] = {};
  for (std::int64_t e = 0; e < n; ++e) {
    f(e, static_cast<const std::int64_t*>(idx));
    for (int d = s.size() - 1; d >= 0 && ++idx[d] == s[d]; --d) idx[d] = 0;
  }
}

/// Offsets into a tensor with `strides` for every element of an index tensor of shape `s`, dim taken from idx.
inline std::vector<std::int64_t> gather_offsets(const Shape& s, const Shape& strides, int dim,
                                                const std::vector<std::int64_t>& idx) {
  std::vector<std::int64_t> off(idx.size());
  for_each_index(s, [&](std::int64_t e, const std::int64_t* ix) {
    std::int64_t o = 0;
    for (int d = 0; d < s.size(); ++d) o += (d == dim ? idx[static_cast<std::size_t>(e)] : ix[d]) * strides[d];
    off[static_cast<std::size_t>(e)] = o;
  });
  return off;
}

template <class T>
class GatherBackward final : public Node {
 public:
  explicit GatherBackward(std::vector<std::int64_t> off) : off_(std::move(off)) {}
  const char* name() const noexcept override { return "GatherBackward"; }
  void apply(const TensorImpl& g, std::vector<GradTarget>& targets) override {
    auto& t = targets[0];
    if (!t.buffer) return;
    count_kernel(kCPU);
    T* dx = static_cast<T*>(t.buffer->data());
    if (!t.accumulate) std::memset(dx, 0, static_cast<std::size_t>(t.buffer->numel()) * sizeof(T));
    const T* gp = static_cast<const T*>(g.data());
    for (std::size_t e = 0; e < off_.size(); ++e) dx[off_[e]] += gp[e];  // serial: indices may repeat
  }
  void release_saved() override { off_ = {}; }

 private:
  std::vector<std::int64_t> off_;  // offsets into the contiguous input gradient
};

// ---- the device paths: one functor per element, the same code for any device (run by launch_for_each) ------------

/// Where element e of an index_select result [outer, m, inner] reads from x [outer, n, inner]; -1 when its index lies
/// outside [-n, n).
SINTER_HD inline std::int64_t select_source(std::int64_t e, const std::int64_t* idx, std::int64_t m, std::int64_t n,
                                            std::int64_t inner) {
  const std::int64_t i = e % inner, j = (e / inner) % m, o = e / (inner * m);
  const std::int64_t k = idx[j];
  if (k < -n || k >= n) return -1;
  return (o * n + (k < 0 ? k + n : k)) * inner + i;
}

/// index_select on a device: out[o, j, i] = x[o, idx[j], i]. The indices stay on the device: each is checked where
/// it is read, and one outside [-n, n) leaves its position + 1 in *bad for the host to report.
template <class T>
struct IndexSelectKernel {
  T* out;
  const T* x;
  const std::int64_t* idx;
  std::int64_t m, n, inner;
  std::int64_t* bad;
  SINTER_HD void operator()(std::int64_t e) const {
    const std::int64_t s = select_source(e, idx, m, n, inner);
    if (s < 0) *bad = (e / inner) % m + 1;
    else out[e] = x[s];
  }
};

/// The backward of both device ops: dx[at(e)] += g[e], atomically, since indices may repeat.
template <class T>
struct IndexAddKernel {
  T* dx;
  const T* g;
  const std::int64_t* idx;
  std::int64_t m, n, inner;
  bool rows;  // index_select (rows of the layout) or gather (idx holds offsets already)
  SINTER_HD void operator()(std::int64_t e) const {
    // the forward checked every index
    sinter::detail::atomic_add(dx + (rows ? select_source(e, idx, m, n, inner) : idx[e]), g[e]);
  }
};

/// gather on a device: out[e] = x[offset], with the index's coordinates except along dim, where index[e] is used.
/// Writes each element's offset into x to `off` for the backward; a bad index leaves e + 1 in *bad.
template <class T>
struct GatherKernel {
  T* out;
  const T* x;
  const std::int64_t* idx;
  std::int64_t* off;
  std::int64_t size[kMaxRank], stride[kMaxRank];
  int rank, dim;
  std::int64_t n;
  std::int64_t* bad;
  SINTER_HD void operator()(std::int64_t e) const {
    std::int64_t k = idx[e];
    if (k < -n || k >= n) {
      *bad = e + 1;
      return;
    }
    if (k < 0) k += n;
    std::int64_t rest = e, at = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const std::int64_t c = rest % size[d];
      rest /= size[d];
      at += (d == dim ? k : c) * stride[d];
    }
    off[e] = at;
    out[e] = x[at];
  }
};

/// Backward of a device index_select or gather: zero the gradient (when it is fresh) and scatter-add into it, one
/// counted kernel as on the CPU.
template <class T>
class DeviceIndexBackward final : public Node {
 public:
  DeviceIndexBackward(const char* name, std::shared_ptr<TensorImpl> idx, RowLayout big, std::int64_t m, bool rows)
      : name_(name), idx_(std::move(idx)), big_(big), m_(m), rows_(rows) {}
  const char* name() const noexcept override { return name_; }
  void apply(const TensorImpl& g, std::vector<GradTarget>& targets) override {
    auto& t = targets[0];
    if (!t.buffer) return;
    T* dx = static_cast<T*>(t.buffer->data());
    if (!t.accumulate) cuda_raw_ops().zero(dx, static_cast<std::size_t>(t.buffer->numel()) * sizeof(T));
    launch_for_each(g.device(), g.numel(),
                    IndexAddKernel<T>{dx, static_cast<const T*>(g.data()),
                                      static_cast<const std::int64_t*>(idx_->data()), m_, big_.n, big_.inner, rows_},
                    name_);
  }
  void release_saved() override { idx_.reset(); }

 private:
  const char* name_;
  std::shared_ptr<TensorImpl> idx_;
  RowLayout big_;
  std::int64_t m_;
  bool rows_;
};

/// Reads the status word a device kernel left (0, or the position + 1 of a bad index) and names the bad index as the
/// CPU path does.
inline void check_device_indices(const TensorImpl& word, const std::int64_t* idx, const char* op, int dim,
                                 std::int64_t size) {
  std::int64_t at = 0, k = 0;
  cuda_raw_ops().read(&at, word.data(), sizeof at);
  if (at == 0) return;
  cuda_raw_ops().read(&k, idx + (at - 1), sizeof k);
  fail(op, ": index ", k, " is out of bounds for dimension ", dim, " with size ", size);
}
inline std::shared_ptr<TensorImpl> status_word(Device dev) {
  auto w = TensorImpl::empty({1}, DType::Int64, dev);
  cuda_raw_ops().zero(w->data(), sizeof(std::int64_t));
  return w;
}
inline void require_same_device(const TensorImpl& x, const TensorImpl& index, const char* op) {
  SINTER_CHECK(x.device() == index.device(), op, ": the input is on ", x.device(), " but the index is on ",
               index.device(), "; move the index with .to(", x.device(), ")");
}

}  // namespace detail

/// Concatenates tensors along an existing dim (torch::cat). All must have the same rank and the same sizes except
/// along dim. Example: `Tensor z = sinter::cat({x, y}, 0);`
template <class T>
TensorOf<T> cat(const std::vector<TensorOf<T>>& xs, std::int64_t dim = 0) {
  SINTER_CHECK(!xs.empty(), "cat: expected a non-empty list of tensors");
  for (const auto& x : xs) detail::require_defined(x.impl().get(), "cat");
  const TensorOf<T>& first = xs.front();
  SINTER_CHECK(first.dim() > 0, "cat: zero-dimensional tensor cannot be concatenated; use stack() or unsqueeze(0)");
  const int d = normalize_dim(dim, first.dim(), "cat");
  Shape out_shape = first.shape();
  std::int64_t total = 0;
  std::vector<std::int64_t> starts;
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const auto& x = xs[k];
    SINTER_CHECK(x.device() == first.device(), "cat: tensor 0 is on ", first.device(), " but tensor ", k, " is on ",
                 x.device(), "; move them to one device with .to(device)");
    SINTER_CHECK(x.dim() == first.dim(), "cat: tensors must have the same number of dimensions: tensor 0 has shape ",
                 first.shape(), " and tensor ", k, " has shape ", x.shape());
    for (int i = 0; i < x.dim(); ++i)
      SINTER_CHECK(i == d || x.size(i) == first.size(i), "cat: sizes of tensors must match except in dimension ", d,
                   ": expected size ", first.size(i), " but got size ", x.size(i), " for tensor ", k,
                   " in dimension ", i, " (shapes ", first.shape(), " and ", x.shape(), ")");
    starts.push_back(total);
    total += x.size(d);
  }
  out_shape[d] = total;
  auto out = TensorImpl::empty(out_shape, dtype_of<T>(), first.device());
  for (std::size_t k = 0; k < xs.size(); ++k)
    if (xs[k].numel() > 0) detail::copy_into(detail::narrow_impl(*out, d, starts[k], xs[k].size(d)), *xs[k].impl());
  bool grad = false;
  if constexpr (is_element_v<T>) {
    if (is_grad_enabled())
      for (const auto& x : xs) grad = grad || x.requires_grad();
  }
  if (grad) {
    auto node = std::make_shared<detail::CatBackward>(d, starts);
    for (const auto& x : xs) node->inputs.push_back(x.impl());
    out->grad_fn = std::move(node);
  }
  return TensorOf<T>(std::move(out));
}

/// Stacks same-shaped tensors along a new dim (torch::stack).
template <class T>
TensorOf<T> stack(const std::vector<TensorOf<T>>& xs, std::int64_t dim = 0) {
  SINTER_CHECK(!xs.empty(), "stack: expected a non-empty list of tensors");
  for (const auto& x : xs) detail::require_defined(x.impl().get(), "stack");
  const int d = normalize_dim(dim, xs.front().dim() + 1, "stack");
  std::vector<TensorOf<T>> parts;
  parts.reserve(xs.size());
  for (std::size_t k = 0; k < xs.size(); ++k) {
    SINTER_CHECK(xs[k].shape() == xs.front().shape(), "stack: expects each tensor to be equal size, but got ",
                 xs.front().shape(), " at entry 0 and ", xs[k].shape(), " at entry ", k);
    parts.push_back(xs[k].unsqueeze(d));
  }
  return cat(parts, d);
}

template <class T>
TensorOf<T> cat(std::initializer_list<TensorOf<T>> xs, std::int64_t dim = 0) {
  return cat(std::vector<TensorOf<T>>(xs), dim);
}
template <class T>
TensorOf<T> stack(std::initializer_list<TensorOf<T>> xs, std::int64_t dim = 0) {
  return stack(std::vector<TensorOf<T>>(xs), dim);
}

/// The entries of x at `index` (1-D int64) along dim (torch::index_select). Negative indices count from the end.
template <expr::NodeLike X>
auto index_select(const X& x_in, std::int64_t dim, const TensorOf<std::int64_t>& index) {
  const auto xe = eval(x_in);
  using T = typename std::remove_cvref_t<decltype(xe)>::value_type;
  detail::require_defined(index.impl().get(), "index_select");
  SINTER_CHECK(index.dim() <= 1, "index_select: index must be 0-d or 1-d, but has shape ", index.shape());
  const int d = normalize_dim(dim, xe.dim(), "index_select");
  const std::int64_t size = xe.dim() == 0 ? 1 : xe.size(d);
  if (!xe.device().is_cpu()) {  // indices stay on the device; the kernel checks them
    detail::require_same_device(*xe.impl(), *index.impl(), "index_select");
    const TensorOf<T> x = xe.contiguous();
    const TensorOf<std::int64_t> ix = index.contiguous();
    Shape out_shape = x.shape();
    const std::int64_t m = index.numel();
    if (x.dim() > 0) out_shape[d] = m;
    const detail::RowLayout big = detail::row_layout(x.shape(), d);
    auto out = TensorImpl::empty(out_shape, dtype_of<T>(), x.device());
    auto bad = detail::status_word(x.device());
    detail::launch_for_each(x.device(), out->numel(),
                            detail::IndexSelectKernel<T>{static_cast<T*>(out->data()), x.data(), ix.data(), m, big.n,
                                                         big.inner, static_cast<std::int64_t*>(bad->data())},
                            "index_select");
    detail::check_device_indices(*bad, ix.data(), "index_select", d, size);
    if (is_grad_enabled() && x.requires_grad()) {
      auto node = std::make_shared<detail::DeviceIndexBackward<T>>("IndexSelectBackward", ix.impl(), big, m, true);
      node->inputs.push_back(x.impl());
      out->grad_fn = std::move(node);
    }
    return TensorOf<T>(std::move(out));
  }
  auto idx = detail::checked_indices(index, size, "index_select", d);
  const TensorOf<T> x = xe.contiguous();
  Shape out_shape = x.shape();
  if (x.dim() > 0) out_shape[d] = static_cast<std::int64_t>(idx.size());
  const detail::RowLayout big = detail::row_layout(x.shape(), d);
  auto out = TensorImpl::empty(out_shape, dtype_of<T>(), x.device());
  detail::count_kernel(kCPU);
  detail::index_rows<T>(static_cast<T*>(out->data()), x.data(), idx, big, false);
  if (is_grad_enabled() && x.requires_grad()) {
    auto node = std::make_shared<detail::IndexSelectBackward<T>>(std::move(idx), big);
    node->inputs.push_back(x.impl());
    out->grad_fn = std::move(node);
  }
  return TensorOf<T>(std::move(out));
}

/// out[i][j][k] = x[i][index[i][j][k]][k] for dim = 1, likewise for any dim (torch::gather). index has x's rank
/// and sizes no larger than x's outside dim; the result has index's shape.
template <expr::NodeLike X>
auto gather(const X& x_in, std::int64_t dim, const TensorOf<std::int64_t>& index) {
  const auto xe = eval(x_in);
  using T = typename std::remove_cvref_t<decltype(xe)>::value_type;
  detail::require_defined(index.impl().get(), "gather");
  const int d = normalize_dim(dim, xe.dim(), "gather");
  SINTER_CHECK(index.dim() == xe.dim(), "gather: index tensor must have the same number of dimensions as input "
                                        "tensor; input has shape ", xe.shape(), ", index has shape ", index.shape());
  for (int i = 0; i < xe.dim(); ++i)
    SINTER_CHECK(i == d || index.size(i) <= xe.size(i), "gather: size of index (", index.shape(),
                 ") does not fit the input (", xe.shape(), ") in dimension ", i, "; it must be no larger outside dim ",
                 d);
  const std::int64_t size = xe.dim() == 0 ? 1 : xe.size(d);
  if (!xe.device().is_cpu()) {  // indices stay on the device; the kernel checks them and keeps the offsets
    detail::require_same_device(*xe.impl(), *index.impl(), "gather");
    const TensorOf<T> x = xe.contiguous();
    const TensorOf<std::int64_t> ix = index.contiguous();
    auto out = TensorImpl::empty(index.shape(), dtype_of<T>(), x.device());
    auto off = TensorImpl::empty(index.shape(), DType::Int64, x.device());
    auto bad = detail::status_word(x.device());
    detail::GatherKernel<T> f{static_cast<T*>(out->data()), x.data(), ix.data(), static_cast<std::int64_t*>(off->data()),
                              {}, {}, index.dim(), d, size, static_cast<std::int64_t*>(bad->data())};
    for (int i = 0; i < index.dim(); ++i) f.size[i] = index.size(i), f.stride[i] = x.strides()[i];
    detail::launch_for_each(x.device(), out->numel(), f, "gather");
    detail::check_device_indices(*bad, ix.data(), "gather", d, size);
    if (is_grad_enabled() && x.requires_grad()) {
      auto node = std::make_shared<detail::DeviceIndexBackward<T>>("GatherBackward", off, detail::RowLayout{}, 0, false);
      node->inputs.push_back(x.impl());
      out->grad_fn = std::move(node);
    }
    return TensorOf<T>(std::move(out));
  }
  const auto idx = detail::checked_indices(index, size, "gather", d);
  const TensorOf<T> x = xe.contiguous();
  auto out = TensorImpl::empty(index.shape(), dtype_of<T>(), x.device());
  auto off = detail::gather_offsets(index.shape(), x.strides(), d, idx);
  detail::count_kernel(kCPU);
  T* o = static_cast<T*>(out->data());
  const T* xp = x.data();
  for (std::size_t e = 0; e < off.size(); ++e) o[e] = xp[off[e]];
  if (is_grad_enabled() && x.requires_grad()) {
    auto node = std::make_shared<detail::GatherBackward<T>>(std::move(off));
    node->inputs.push_back(x.impl());
    out->grad_fn = std::move(node);
  }
  return TensorOf<T>(std::move(out));
}

}  // namespace sinter
