// SPDX-License-Identifier: Apache-2.0
// Zero-copy interop with xtensor. Not part of <sinter/sinter.hpp>: xtensor's headers are heavy, so only the files
// that need them pay for them.
#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>

#include <sinter/core/factory.hpp>

namespace sinter {

/// An xtensor view of t's memory (no copy): writes through it change t. The tensor must outlive the view, as with
/// xt::adapt. Works for any strides (transposed, sliced). Example: `auto v = sinter::as_xtensor(t); v(0, 1) = 2;`
template <class T>
auto as_xtensor(const TensorOf<T>& t) {
  SINTER_CHECK(t.device().is_cpu(), "as_xtensor: the tensor is on ", t.device(),
               "; xtensor reads host memory, so call .to(sinter::kCPU) first");
  std::vector<std::size_t> shape;
  std::vector<std::ptrdiff_t> strides;
  for (int i = 0; i < t.dim(); ++i) {
    shape.push_back(static_cast<std::size_t>(t.size(i)));
    strides.push_back(static_cast<std::ptrdiff_t>(t.strides()[i]));
  }
  // xtensor wants the buffer size to equal the element count; with strides that are not row-major it steps through
  // them and never walks the buffer linearly, so a sliced tensor's gaps are never touched.
  return xt::adapt(t.data(), static_cast<std::size_t>(t.numel()), xt::no_ownership(), std::move(shape),
                   std::move(strides));
}

/// A tensor from an xtensor expression. An lvalue container (xt::xarray, xt::xtensor, an adaptor) with non-negative
/// strides is shared without a copy, like torch::from_blob: keep it alive and do not resize it while the tensor
/// lives. Anything else (a lazy expression, a temporary, a view with negative strides) is evaluated into a new tensor.
template <class E>
auto from_xtensor(E&& x) {
  using D = std::remove_cvref_t<E>;
  using T = std::remove_cv_t<typename D::value_type>;
  static_assert(is_storable_v<T>, "sinter: from_xtensor needs float, double or std::int64_t elements; cast the "
                                  "xtensor expression with xt::cast<float>(x) first");
  Shape shape;
  SINTER_CHECK(x.dimension() <= static_cast<std::size_t>(kMaxRank), "from_xtensor: rank ", x.dimension(),
               " exceeds sinter's maximum of ", kMaxRank);
  for (std::size_t i = 0; i < x.dimension(); ++i) shape.push_back(static_cast<std::int64_t>(x.shape()[i]));
  constexpr bool shareable = std::is_lvalue_reference_v<E> && !std::is_const_v<std::remove_reference_t<E>> &&
                             requires(D& c) {
                               { c.data() } -> std::convertible_to<T*>;
                               c.strides();
                               c.data_offset();
                             };
  if constexpr (shareable) {
    Shape strides;
    bool ok = true;
    for (std::size_t i = 0; i < x.dimension(); ++i) {
      const auto s = static_cast<std::int64_t>(x.strides()[i]);
      ok = ok && s >= 0;
      strides.push_back(x.shape()[i] == 1 ? 0 : s);  // xtensor reports 0 for size-1 dims; either is valid
    }
    if (ok) return from_blob<T>(x.data() + x.data_offset(), shape, strides);
  }
  auto out = empty<T>(shape);
  auto view = as_xtensor(out);
  view = x;  // xtensor evaluates the expression straight into sinter's memory
  return out;
}

}  // namespace sinter
