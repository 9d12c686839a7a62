// SPDX-License-Identifier: Apache-2.0
// TensorOf<T>: the user's tensor. A cheap, shared handle (like torch::Tensor) over a TensorImpl.
// Members that need higher layers (evaluating expressions, backward) are declared here and defined in the layer
// that owns them; <sinter/sinter.hpp> brings every definition in.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <functional>
#include <iomanip>
#include <memory>
#include <optional>
#include <ostream>
#include <sinter/core/source_location.hpp>
#include <sstream>
#include <type_traits>
#include <utility>
#include <vector>

#include <sinter/config.hpp>
#include <sinter/core/device.hpp>
#include <sinter/core/dtype.hpp>
#include <sinter/core/error.hpp>
#include <sinter/core/grad_mode.hpp>
#include <sinter/core/shape.hpp>
#include <sinter/core/strided.hpp>
#include <sinter/core/tensor_impl.hpp>

namespace sinter {

/// Base of every lazy expression node (see sinter/expr/node.hpp). Nothing is computed until a statement ends.
struct expression_tag {};

/// A lazy expression: assigning it to a tensor runs one fused kernel.
template <class E>
concept Expression = std::is_base_of_v<expression_tag, std::remove_cvref_t<E>>;

template <class T>
class TensorOf;

namespace detail {
/// Runs the fused kernel of `e` into a new tensor and records one tape node (sinter/expr/evaluate.hpp).
template <class T, class E>
std::shared_ptr<TensorImpl> materialize(const E& e, const SourceLocation& location);
/// dst = e (add = false) or dst += e, in place; safe when e reads dst (sinter/expr/evaluate.hpp).
template <class T, class E>
void assign_into(const TensorImpl& dst, const E& e, bool add, const SourceLocation& location);
/// Runs backward from `root` (sinter/autograd/backward.hpp).
void run_backward(const std::shared_ptr<TensorImpl>& root, const std::shared_ptr<TensorImpl>& grad,
                  bool retain_graph);

/// Tape node of a view: re-applies the same view to the input's gradient buffer and writes through it.
class ViewBackward final : public Node {
 public:
  using Reapply = std::function<std::shared_ptr<TensorImpl>(const std::shared_ptr<TensorImpl>&)>;
  ViewBackward(const char* name, Reapply reapply, bool covers_input)
      : name_(name), reapply_(std::move(reapply)), covers_input_(covers_input) {}
  const char* name() const noexcept override { return name_; }
  void apply(const TensorImpl& grad_out, std::vector<GradTarget>& targets) override {
    auto& t = targets[0];
    if (!t.buffer) return;
    if (!t.accumulate && !covers_input_) fill(*t.buffer, 0.0);
    copy_into(*reapply_(t.buffer), grad_out, t.accumulate || !covers_input_);
  }

 private:
  const char* name_;
  Reapply reapply_;
  bool covers_input_;
};

/// Tape node of a float <-> double conversion: the gradient is converted back.
class ConvertBackward final : public Node {
 public:
  const char* name() const noexcept override { return "ToCopyBackward"; }
  void apply(const TensorImpl& grad_out, std::vector<GradTarget>& targets) override {
    auto& t = targets[0];
    if (!t.buffer) return;
    if (!t.accumulate) return convert_into(*t.buffer, grad_out);
    auto tmp = TensorImpl::empty(t.buffer->shape, t.buffer->dtype, t.buffer->device());
    convert_into(*tmp, grad_out);
    copy_into(*t.buffer, *tmp, true);
  }
};

/// Tape node of an identity copy (clone, contiguous, a device transfer): the gradient passes through.
class CopyBackward final : public Node {
 public:
  explicit CopyBackward(const char* name) : name_(name) {}
  const char* name() const noexcept override { return name_; }
  void apply(const TensorImpl& grad_out, std::vector<GradTarget>& targets) override {
    if (targets[0].buffer) copy_into(*targets[0].buffer, grad_out, targets[0].accumulate);
  }

 private:
  const char* name_;
};

/// Builds a tensor that shares `base`'s storage with new geometry; records a ViewBackward when grad flows.
inline std::shared_ptr<TensorImpl> make_view(const std::shared_ptr<TensorImpl>& base, const char* name, bool covers,
                                              std::function<void(const TensorImpl&, TensorImpl&)> geometry) {
  auto v = std::make_shared<TensorImpl>();
  v->storage = base->storage;
  v->dtype = base->dtype;
  geometry(*base, *v);
  if (is_grad_enabled() && base->needs_grad()) {
    auto node = std::make_shared<ViewBackward>(
        name,
        [geometry](const std::shared_ptr<TensorImpl>& g) {
          auto gv = std::make_shared<TensorImpl>();
          gv->storage = g->storage;
          gv->dtype = g->dtype;
          geometry(*g, *gv);
          return gv;
        },
        covers);
    node->inputs.push_back(base);
    v->grad_fn = std::move(node);
  }
  return v;
}

/// The check every CPU kernel makes: a tensor on another device needs the CUDA backend in this translation unit.
inline void require_cpu(Device d, const char* op) {
  SINTER_CHECK(d.is_cpu(), op, ": this translation unit has no kernels for ", d,
               "; compile it with nvcc, include <sinter/cuda.hpp> and link sinter::cuda");
}

inline void require_defined(const TensorImpl* t, const char* op) {
  SINTER_CHECK(t != nullptr, op, ": the tensor is undefined (default-constructed); create it with a factory such as "
                                 "sinter::zeros first");
}

}  // namespace detail

/// An n-dimensional array of T (float or double) with PyTorch semantics: copies share data, views share storage,
/// and expressions over it are fused. Example: `sinter::Tensor x = sinter::randn({2, 3}).requires_grad_();`
template <class T>
class TensorOf {
  static_assert(is_storable_v<T>, "sinter: TensorOf<T> holds float, double or std::int64_t");

 public:
  using value_type = T;

  TensorOf() = default;
  explicit TensorOf(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {
    if (impl_)
      SINTER_CHECK(impl_->dtype == dtype_of<T>(), "a tensor of ", dtype_name(impl_->dtype),
                   " cannot be viewed as a tensor of ", dtype_name(dtype_of<T>()));
  }

  /// Evaluates a lazy expression in one fused kernel (one tape node when it needs grad).
  /// `where` is the statement's line, for anomaly messages (DetectAnomalyGuard); callers never pass it.
  template <Expression E>
  TensorOf(const E& e,  // NOLINT: implicit on purpose, `Tensor y = a * x + b;`
           const SourceLocation& location = SourceLocation::current()) {
    static_assert(std::is_same_v<typename std::remove_cvref_t<E>::value_type, T>,
                  "sinter: the expression's element type differs from the tensor's; convert one side with .to<T>() "
                  "(sinter never converts float and double silently)");
    impl_ = detail::materialize<T>(e, location);
  }
  // `y = y * 2` rebinds y to a new tensor, as in PyTorch: the implicit conversion above, then the move assignment
  // (so the conversion, and with it the statement's line, happens at the caller). To write into memory use copy_.

  // ---- geometry -------------------------------------------------------------------------------------------
  bool defined() const noexcept { return impl_ != nullptr; }
  const Shape& shape() const { return checked().shape; }
  const Shape& sizes() const { return shape(); }
  const Shape& strides() const { return checked().strides; }
  std::int64_t size(std::int64_t d) const { return shape()[normalize_dim(d, dim(), "size")]; }
  int dim() const { return shape().size(); }
  std::int64_t numel() const { return checked().numel(); }
  std::int64_t storage_offset() const { return checked().offset; }
  Device device() const { return checked().device(); }
  DType dtype() const noexcept { return dtype_of<T>(); }
  bool is_contiguous() const { return checked().is_contiguous(); }
  T* data() const { return static_cast<T*>(checked().data()); }
  const std::shared_ptr<TensorImpl>& impl() const noexcept { return impl_; }
  /// True when both handles are the same tensor (not merely equal values).
  bool is_same(const TensorOf& o) const noexcept { return impl_ == o.impl_; }

  // ---- element access -------------------------------------------------------------------------------------
  std::vector<T> to_vector() const {
    auto c = cpu_contiguous();
    const T* p = static_cast<const T*>(c->data());
    return std::vector<T>(p, p + c->numel());
  }
  T item() const {
    SINTER_CHECK(numel() == 1, "item(): a Tensor with ", numel(), " elements cannot be converted to a scalar; shape is ",
                 shape());
    return to_vector()[0];
  }

  // ---- views (share storage; gradients flow back through them) --------------------------------------------
  TensorOf view(const Shape& new_shape) const {
    const Shape s = infer_shape(new_shape, "view");
    SINTER_CHECK(is_contiguous(), "view(", new_shape, "): the tensor of shape ", shape(), " with strides ", strides(),
                 " is not contiguous; use reshape(), which copies when it must, or call contiguous() first");
    return wrap(detail::make_view(impl_, "ViewBackward", true, [s](const TensorImpl& b, TensorImpl& v) {
      v.shape = s;
      v.strides = contiguous_strides(s);
      v.offset = b.offset;
    }));
  }
  TensorOf reshape(const Shape& new_shape) const {
    return is_contiguous() ? view(new_shape) : contiguous().view(new_shape);
  }
  TensorOf flatten(std::int64_t start = 0, std::int64_t end = -1) const {
    if (dim() == 0) return reshape({1});
    const int s = normalize_dim(start, dim(), "flatten"), e = normalize_dim(end, dim(), "flatten");
    SINTER_CHECK(s <= e, "flatten: start_dim ", start, " comes after end_dim ", end);
    Shape out;
    for (int i = 0; i < s; ++i) out.push_back(size(i));
    std::int64_t m = 1;
    for (int i = s; i <= e; ++i) m *= size(i);
    out.push_back(m);
    for (int i = e + 1; i < dim(); ++i) out.push_back(size(i));
    return reshape(out);
  }
  TensorOf transpose(std::int64_t d0, std::int64_t d1) const {
    const int a = normalize_dim(d0, dim(), "transpose"), b = normalize_dim(d1, dim(), "transpose");
    return wrap(detail::make_view(impl_, "TransposeBackward", true, [a, b](const TensorImpl& t, TensorImpl& v) {
      v.shape = t.shape;
      v.strides = t.strides;
      v.offset = t.offset;
      if (t.shape.size() == 0) return;
      std::swap(v.shape[a], v.shape[b]);
      std::swap(v.strides[a], v.strides[b]);
    }));
  }
  /// Matrix transpose of a 2-D tensor (a 0-D or 1-D tensor is returned as is), as torch::Tensor::t().
  TensorOf t() const {
    SINTER_CHECK(dim() <= 2, "t(): expects a tensor with <= 2 dimensions, but the tensor has shape ", shape());
    return dim() < 2 ? *this : transpose(0, 1);
  }
  TensorOf permute(const Shape& dims) const {
    SINTER_CHECK(dims.size() == dim(), "permute: the number of dims (", dims.size(),
                 ") does not match the tensor's rank (", dim(), ")");
    Shape p;
    std::vector<bool> seen(static_cast<std::size_t>(dim()), false);
    for (auto d : dims) {
      const int n = normalize_dim(d, dim(), "permute");
      SINTER_CHECK(!seen[static_cast<std::size_t>(n)], "permute: dim ", d, " appears twice in ", dims);
      seen[static_cast<std::size_t>(n)] = true;
      p.push_back(n);
    }
    return wrap(detail::make_view(impl_, "PermuteBackward", true, [p](const TensorImpl& t, TensorImpl& v) {
      v.offset = t.offset;
      v.shape = Shape::filled(p.size(), 0);
      v.strides = Shape::filled(p.size(), 0);
      for (int i = 0; i < p.size(); ++i) {
        v.shape[i] = t.shape[static_cast<int>(p[i])];
        v.strides[i] = t.strides[static_cast<int>(p[i])];
      }
    }));
  }
  TensorOf unsqueeze(std::int64_t d) const {
    const int n = normalize_dim(d, dim() + 1, "unsqueeze");
    return wrap(detail::make_view(impl_, "UnsqueezeBackward", true, [n](const TensorImpl& t, TensorImpl& v) {
      v.shape = t.shape;
      v.strides = t.strides;
      v.offset = t.offset;
      const std::int64_t st = n < t.shape.size() ? t.strides[n] * t.shape[n] : 1;
      v.shape.insert(n, 1);
      v.strides.insert(n, st);
    }));
  }
  /// Removes every size-1 dim.
  TensorOf squeeze() const {
    return wrap(detail::make_view(impl_, "SqueezeBackward", true, [](const TensorImpl& t, TensorImpl& v) {
      v.offset = t.offset;
      for (int i = 0; i < t.shape.size(); ++i)
        if (t.shape[i] != 1) {
          v.shape.push_back(t.shape[i]);
          v.strides.push_back(t.strides[i]);
        }
    }));
  }
  /// Removes dim d if it has size 1 (otherwise returns the same geometry), as PyTorch.
  TensorOf squeeze(std::int64_t d) const {
    if (dim() == 0) return *this;
    const int n = normalize_dim(d, dim(), "squeeze");
    if (size(n) != 1) return *this;
    return wrap(detail::make_view(impl_, "SqueezeBackward", true, [n](const TensorImpl& t, TensorImpl& v) {
      v.shape = t.shape;
      v.strides = t.strides;
      v.offset = t.offset;
      v.shape.erase(n);
      v.strides.erase(n);
    }));
  }
  /// Elements start, start+step, ... below end along dim; start and end are clamped like Python slices.
  TensorOf slice(std::int64_t d, std::int64_t start = 0, std::int64_t end = INT64_MAX, std::int64_t step = 1) const {
    const int n = normalize_dim(d, dim(), "slice");
    SINTER_CHECK(dim() > 0, "slice: cannot slice a 0-d tensor");
    SINTER_CHECK(step > 0, "slice: step must be positive, got ", step);
    const std::int64_t len = size(n);
    auto clampi = [len](std::int64_t i) { return std::clamp<std::int64_t>(i < 0 ? i + len : i, 0, len); };
    const std::int64_t s = clampi(start), e = std::max(s, clampi(end));
    const bool covers = s == 0 && e == len && step == 1;
    return wrap(detail::make_view(impl_, "SliceBackward", covers, [n, s, e, step](const TensorImpl& t, TensorImpl& v) {
      v.shape = t.shape;
      v.strides = t.strides;
      v.offset = t.offset + s * t.strides[n];
      v.shape[n] = (e - s + step - 1) / step;
      v.strides[n] = t.strides[n] * step;
    }));
  }
  /// The sub-tensor at `index` along dim d, which is removed (torch::Tensor::select).
  TensorOf select(std::int64_t d, std::int64_t index) const {
    const int n = normalize_dim(d, dim(), "select");
    SINTER_CHECK(dim() > 0, "select: cannot index a 0-d tensor");
    const std::int64_t len = size(n);
    SINTER_CHECK(index >= -len && index < len, "select: index ", index, " is out of bounds for dimension ", n,
                 " with size ", len);
    const std::int64_t i = index < 0 ? index + len : index;
    return wrap(detail::make_view(impl_, "SelectBackward", len == 1, [n, i](const TensorImpl& t, TensorImpl& v) {
      v.shape = t.shape;
      v.strides = t.strides;
      v.offset = t.offset + i * t.strides[n];
      v.shape.erase(n);
      v.strides.erase(n);
    }));
  }
  TensorOf operator[](std::int64_t index) const { return select(0, index); }

  // ---- copies -----------------------------------------------------------------------------------------------
  /// A contiguous tensor with the same values: this one if already contiguous, else a copy (one kernel).
  TensorOf contiguous() const { return is_contiguous() ? *this : copy_as("ContiguousBackward", device()); }
  /// A new tensor with its own storage and the same values; gradients flow back to this one.
  TensorOf clone() const { return copy_as("CloneBackward", device()); }
  /// The same tensor on `d` (this one if already there). `non_blocking` (as in PyTorch): a copy from pinned memory
  /// (pin_memory()) to the GPU returns at once and runs in order on the current stream; do not write the source
  /// before the stream has passed it. Copies to the host always wait, so their values can be read at once.
  TensorOf to(Device d, bool non_blocking = false) const {
    return d == device() ? *this : copy_as("ToCopyBackward", d, non_blocking);
  }
  /// This CPU tensor in page-locked memory (a contiguous copy; this tensor when it already is pinned): copies to the
  /// GPU run at the bus's full speed, and with to(kCUDA, true) overlap the host's work. Needs the CUDA backend
  /// (<sinter/cuda.hpp>) in the program.
  TensorOf pin_memory() const {
    SINTER_CHECK(device().is_cpu(), "pin_memory(): the tensor is on ", device(), "; only CPU tensors can be pinned");
    return is_pinned() ? *this : copy_as("PinMemoryBackward", kCPU, false, /*pinned=*/true);
  }
  /// True when the tensor's memory is page-locked host memory.
  bool is_pinned() const { return checked().storage->pinned(); }
  /// The same values as element type U (a copy, one kernel; this tensor when U is T). float <-> double keeps the
  /// gradient flowing; int64 results are not differentiable.
  template <class U>
  TensorOf<U> to() const {
    if constexpr (std::is_same_v<U, T>) {
      return *this;
    } else {
      auto out = TensorImpl::empty(shape(), dtype_of<U>(), device());
      detail::convert_into(*out, checked());
      if constexpr (is_element_v<T> && is_element_v<U>) {
        if (is_grad_enabled() && impl_->needs_grad()) {
          auto node = std::make_shared<detail::ConvertBackward>();
          node->inputs.push_back(impl_);
          out->grad_fn = std::move(node);
        }
      }
      return TensorOf<U>(std::move(out));
    }
  }

  /// Shares storage, cut from the graph: no gradient flows back through the result.
  TensorOf detach() const {
    auto v = std::make_shared<TensorImpl>(checked());
    v->requires_grad = false;
    v->grad_fn.reset();
    v->grad.reset();
    return wrap(std::move(v));
  }

  // ---- in-place -----------------------------------------------------------------------------------------------
  TensorOf& fill_(T value) {
    detail::fill(checked(), static_cast<double>(value));
    return *this;
  }
  TensorOf& zero_() { return fill_(T(0)); }
  /// Copies src (broadcast to this shape) into this tensor's memory, views included.
  TensorOf& copy_(const TensorOf& src) {
    detail::copy_into(checked(), src.checked(), false);
    return *this;
  }
  /// Evaluates e into this tensor's memory in one kernel; correct even when e reads overlapping memory.
  template <Expression E>
  TensorOf& copy_(const E& e, const SourceLocation& location = SourceLocation::current()) {
    static_assert(std::is_same_v<typename std::remove_cvref_t<E>::value_type, T>,
                  "sinter: the expression's element type differs from the tensor's; convert one side with .to<T>()");
    detail::assign_into<T>(checked(), e, false, location);
    return *this;
  }

  // ---- autograd -----------------------------------------------------------------------------------------------
  /// Marks a leaf as requiring a gradient (returns *this so factories chain: randn({3}).requires_grad_()).
  TensorOf& requires_grad_(bool on = true) {
    auto& t = checked();
    SINTER_CHECK(!on || is_element_v<T>, "requires_grad_(): only float and double tensors can require gradients; "
                                         "this one holds ", dtype_name(dtype_of<T>()));
    SINTER_CHECK(!t.grad_fn || on, "requires_grad_(false): only leaf tensors can change requires_grad; use detach() "
                                   "to cut a non-leaf from the graph");
    if (!t.grad_fn) t.requires_grad = on;
    return *this;
  }
  bool requires_grad() const { return checked().needs_grad(); }
  bool is_leaf() const { return !checked().grad_fn; }
  /// Name of the tape node that produced this tensor ("" for leaves).
  std::string grad_fn_name() const { return checked().grad_fn ? checked().grad_fn->name() : ""; }
  /// The accumulated gradient of a leaf; undefined until a backward pass reaches it.
  TensorOf grad() const {
    const auto& t = checked();
    SINTER_CHECK(t.needs_grad(), "grad(): the tensor does not require grad; call requires_grad_() on the leaf before "
                                 "the forward pass");
    SINTER_CHECK(!t.grad_fn, "grad(): the tensor is not a leaf (it was produced by ", t.grad_fn->name(),
                 "), so its gradient is not kept; take the gradient of the leaves it was computed from");
    return t.grad ? TensorOf(t.grad) : TensorOf();
  }
  /// Drops the accumulated gradient (PyTorch's set_to_none), so the next backward writes it in its own kernel.
  void zero_grad() const { checked().grad.reset(); }
  /// Backpropagates from a scalar (implicit gradient 1).
  void backward(bool retain_graph = false) const { detail::run_backward(impl_, nullptr, retain_graph); }
  /// Backpropagates `grad` (same shape as this tensor).
  void backward(const TensorOf& grad, bool retain_graph = false) const {
    detail::run_backward(impl_, grad.impl_, retain_graph);
  }

  friend std::ostream& operator<<(std::ostream& os, const TensorOf& t) { return t.print(os); }

 private:
  static TensorOf wrap(std::shared_ptr<TensorImpl> p) { return TensorOf(std::move(p)); }

  TensorImpl& checked() const {
    detail::require_defined(impl_.get(), "tensor");
    return *impl_;
  }

  Shape infer_shape(const Shape& s, const char* op) const {
    Shape out = s;
    int infer = -1;
    std::int64_t known = 1;
    for (int i = 0; i < s.size(); ++i) {
      if (s[i] == -1) {
        SINTER_CHECK(infer < 0, op, ": only one dimension can be inferred (-1) in ", s);
        infer = i;
      } else {
        SINTER_CHECK(s[i] >= 0, op, ": invalid shape dimension ", s[i], " in ", s);
        known *= s[i];
      }
    }
    if (infer >= 0) {
      SINTER_CHECK(known != 0 && numel() % known == 0, op, ": shape ", s, " is invalid for input of size ", numel());
      out[infer] = numel() / known;
    }
    SINTER_CHECK(numel_of(out) == numel(), op, ": shape ", s, " is invalid for input of size ", numel());
    return out;
  }

  TensorOf copy_as(const char* name, Device d, bool non_blocking = false, bool pinned = false) const {
    auto out = TensorImpl::empty(shape(), dtype_of<T>(), d, pinned);
    detail::copy_into(*out, checked(), false, non_blocking);
    if (is_grad_enabled() && impl_->needs_grad()) {
      auto node = std::make_shared<detail::CopyBackward>(name);
      node->inputs.push_back(impl_);
      out->grad_fn = std::move(node);
    }
    return wrap(std::move(out));
  }

  std::shared_ptr<TensorImpl> cpu_contiguous() const {
    const auto& t = checked();
    if (t.device().is_cpu() && t.is_contiguous()) return impl_;
    auto out = TensorImpl::empty(t.shape, t.dtype, kCPU);
    detail::copy_into(*out, t, false);
    return out;
  }

  std::ostream& print(std::ostream& os) const {
    if (!impl_) return os << "[ undefined tensor ]";
    auto c = cpu_contiguous();
    const T* p = static_cast<const T*>(c->data());
    const Shape& s = c->shape;
    const bool elide = c->numel() > 1000;
    // Fixed 4 decimals unless the magnitudes ask for scientific notation.
    double maxabs = 0, minabs = INFINITY;
    for (std::int64_t i = 0; i < c->numel(); ++i) {
      const double a = std::fabs(static_cast<double>(p[i]));
      if (std::isfinite(a)) {
        maxabs = std::max(maxabs, a);
        if (a > 0) minabs = std::min(minabs, a);
      }
    }
    const bool sci = maxabs >= 1e8 || (minabs < 1e-4 && minabs > 0);
    auto fmt = [&](T v) {
      std::ostringstream e;
      if constexpr (!is_element_v<T>)
        e << v;
      else if (sci)
        e << std::scientific << std::setprecision(4) << v;
      else
        e << std::fixed << std::setprecision(4) << v;
      return e.str();
    };
    std::size_t width = 0;
    for (std::int64_t i = 0; i < c->numel(); ++i) width = std::max(width, fmt(p[i]).size());
    const Shape st = contiguous_strides(s);
    std::function<void(int, std::int64_t)> rec = [&](int d, std::int64_t off) {
      if (d == s.size()) {
        os << std::setw(static_cast<int>(width)) << fmt(p[off]);
        return;
      }
      os << '[';
      for (std::int64_t i = 0; i < s[d]; ++i) {
        if (elide && s[d] > 6 && i == 3) {
          os << "...";
          i = s[d] - 4;
          if (d + 1 < s.size()) os << ",\n" << std::string(static_cast<std::size_t>(d + 8), ' ');
          else os << ", ";
          continue;
        }
        if (i > 0) {
          os << ',';
          if (d + 1 < s.size()) os << std::string(static_cast<std::size_t>(s.size() - d - 1), '\n')
                                   << std::string(static_cast<std::size_t>(d + 8), ' ');
          else os << ' ';
        }
        rec(d + 1, off + i * st[d]);
      }
      os << ']';
    };
    os << "tensor(";
    rec(0, 0);
    os << ", shape=" << s << ", dtype=" << dtype_name(dtype_of<T>());
    if (!device().is_cpu()) os << ", device=" << device();
    if (impl_->grad_fn) os << ", grad_fn=<" << impl_->grad_fn->name() << '>';
    else if (impl_->requires_grad) os << ", requires_grad=true";
    return os << ')';
  }

  std::shared_ptr<TensorImpl> impl_;
};

/// The default tensor type, as in PyTorch: 32-bit floats.
using Tensor = TensorOf<float>;
/// Indices and class labels (PyTorch's kLong).
using LongTensor = TensorOf<std::int64_t>;

#define SINTER_TENSOR_INSTANCES(X) X(class TensorOf<float>) X(class TensorOf<double>) X(class TensorOf<std::int64_t>)
SINTER_TENSOR_INSTANCES(SINTER_EXTERN_TEMPLATE)

}  // namespace sinter
