// SPDX-License-Identifier: Apache-2.0
// The iteration space every kernel walks: dimension coalescing over any number of operands, and each operand's
// geometry in it. Copies, fills and view gradients walk it here; the fused evaluators in backend/ add SIMD.
#pragma once

#include <vector>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <sinter/config.hpp>
#include <sinter/core/counters.hpp>
#include <sinter/core/tensor_impl.hpp>

namespace sinter {

/// Where one operand sits in the coalesced iteration space: strides over the outer dims and the innermost one.
struct OperandGeometry {
  std::int64_t outer[kMaxRank] = {};
  std::int64_t inner = 0;
  int outer_rank = 0;
  SINTER_HD std::int64_t row_offset(const std::int64_t* idx) const {
    std::int64_t o = 0;
    for (int d = 0; d < outer_rank; ++d) o += idx[d] * outer[d];
    return o;
  }
  /// The same as a call, for the host loops' per-row setup of every leaf of a plan: inlined there, each leaf of each
  /// expression got its own unrolled and vectorised copy of the loop above (compile time), for one call per row.
  std::int64_t row_offset_call(const std::int64_t* idx) const;
};

/// Dimension coalescing for any number of operands: drops size-1 dims and merges runs that are contiguous for all.
struct IterationSpace {
  Shape shape;                      // coalesced extents; never empty (a scalar is [1])
  std::vector<OperandGeometry> ops;  // one per operand, in the order given

  /// coalesce = false keeps every dim as given (a GEMM epilogue addresses its result by row and column).
  IterationSpace(const Shape& full, const std::vector<Shape>& strides, bool coalesce = true);
  std::int64_t numel() const { return numel_of(shape); }
  std::int64_t row_length() const { return shape[shape.size() - 1]; }
};

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
[[gnu::noinline]] SINTER_SHARED std::int64_t OperandGeometry::row_offset_call(const std::int64_t* idx) const {
  return row_offset(idx);
}

SINTER_SHARED IterationSpace::IterationSpace(const Shape& full, const std::vector<Shape>& strides, bool coalesce) {
  std::vector<Shape> st(strides.size());
  if (!coalesce) shape = full, st = strides;
  for (int d = 0; coalesce && d < full.size(); ++d) {
    if (full[d] == 1) continue;
    const int last = shape.size() - 1;
    bool merge = last >= 0;
    for (std::size_t k = 0; k < strides.size() && merge; ++k) merge = st[k][last] == strides[k][d] * full[d];
    if (merge) {
      shape[last] *= full[d];
      for (std::size_t k = 0; k < strides.size(); ++k) st[k][last] = strides[k][d];
    } else {
      shape.push_back(full[d]);
      for (std::size_t k = 0; k < strides.size(); ++k) st[k].push_back(strides[k][d]);
    }
  }
  if (shape.empty()) {
    shape.push_back(numel_of(full) == 0 ? 0 : 1);
    for (auto& s : st) s.push_back(0);
  }
  const int r = shape.size();
  ops.resize(strides.size());
  for (std::size_t k = 0; k < strides.size(); ++k) {
    ops[k].outer_rank = r - 1;
    for (int d = 0; d < r - 1; ++d) ops[k].outer[d] = st[k][d];
    ops[k].inner = st[k][r - 1];
  }
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace sinter

namespace sinter::detail {

/// Calls row(outer_index) once per innermost row of the space, in row-major order.
template <class Row>
void for_each_row(const IterationSpace& space, Row&& row) {
  const int r = space.shape.size();
  if (space.numel() == 0) return;
  std::int64_t idx[kMaxRank] = {};
  for (std::int64_t rows = space.numel() / space.row_length(); rows > 0; --rows) {
    row(static_cast<const std::int64_t*>(idx));
    for (int d = r - 2; d >= 0 && ++idx[d] == space.shape[d]; --d) idx[d] = 0;
  }
}

/// dst (+)= src row by row; S differs from D for dtype conversions (static_cast per element).
template <class D, class S>
void copy_rows(D* dst, const S* src, const IterationSpace& space, bool add) {
  const auto &gd = space.ops[0], &gs = space.ops[1];
  const std::int64_t len = space.row_length();
  for_each_row(space, [&](const std::int64_t* idx) {
    D* d = dst + gd.row_offset(idx);
    const S* s = src + gs.row_offset(idx);
    if constexpr (std::is_same_v<D, S>) {
      if (!add && gd.inner == 1 && gs.inner == 1) {
        std::memcpy(d, s, static_cast<std::size_t>(len) * sizeof(D));
        return;
      }
    }
    if constexpr (std::is_integral_v<D> && std::is_floating_point_v<S>) {
      // Casting NaN or a value beyond int64's range is undefined behaviour in C++: refuse it instead.
      for (std::int64_t j = 0; j < len; ++j) {
        const S v = s[j * gs.inner];
        SINTER_CHECK(v > S(-9.2e18) && v < S(9.2e18), "to<int64>(): the value ", v,
                     " cannot be represented as an int64 (NaN, inf or beyond +-9.2e18); clamp or round it first");
      }
    }
    if (add) {
      for (std::int64_t j = 0; j < len; ++j) d[j * gd.inner] += static_cast<D>(s[j * gs.inner]);
    } else {
      for (std::int64_t j = 0; j < len; ++j) d[j * gd.inner] = static_cast<D>(s[j * gs.inner]);
    }
  });
}

using DeviceCopyFn = void (*)(const TensorImpl& dst, const TensorImpl& src, bool add, bool non_blocking);
/// Filled by sinter/cuda.hpp: copies where either side lives on a CUDA device.
inline DeviceCopyFn& cuda_copy_hook() noexcept {
  static DeviceCopyFn fn = nullptr;
  return fn;
}

/// dst (+)= src element-wise; src is broadcast to dst's shape. One kernel. `non_blocking`: a copy from pinned host
/// memory to the GPU returns before it is done (the source must not be written until the stream reaches it).
void copy_into(const TensorImpl& dst, const TensorImpl& src, bool add = false, bool non_blocking = false);

template <class T>
void fill_rows(T* dst, const IterationSpace& space, T value) {
  const auto& g = space.ops[0];
  const std::int64_t len = space.row_length();
  for_each_row(space, [&](const std::int64_t* idx) {
    T* d = dst + g.row_offset(idx);
    for (std::int64_t j = 0; j < len; ++j) d[j * g.inner] = value;
  });
}

using DeviceFillFn = void (*)(const TensorImpl& dst, double value);
inline DeviceFillFn& cuda_fill_hook() noexcept {
  static DeviceFillFn fn = nullptr;
  return fn;
}

/// Sets every element of dst to value. One kernel.
void fill(const TensorImpl& dst, double value);

using DeviceConvertFn = void (*)(const TensorImpl& dst, const TensorImpl& src);
inline DeviceConvertFn& cuda_convert_hook() noexcept {
  static DeviceConvertFn fn = nullptr;
  return fn;
}

/// dst = static_cast<dst type>(src), same shape, any strides and element types. One kernel.
void convert_into(const TensorImpl& dst, const TensorImpl& src);

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED void copy_into(const TensorImpl& dst, const TensorImpl& src, bool add, bool non_blocking) {
  SINTER_CHECK(dst.dtype == src.dtype, "copy_: element types differ (", dtype_name(dst.dtype), " and ",
               dtype_name(src.dtype), "); convert with .to<T>() first");
  const Shape bshape = broadcast_shapes(dst.shape, src.shape, "copy_");
  SINTER_CHECK(bshape == dst.shape, "copy_: the source of shape ", src.shape,
               " cannot be broadcast to the destination of shape ", dst.shape);
  if (!dst.device().is_cpu() || !src.device().is_cpu()) {
    auto fn = cuda_copy_hook();
    SINTER_CHECK(fn != nullptr, "copying between ", src.device(), " and ", dst.device(),
                 kNeedsCudaBackend);
    fn(dst, src, add, non_blocking);
    return;
  }
  count_kernel(kCPU);
  const IterationSpace space(dst.shape, {dst.strides, broadcast_strides(src.shape, src.strides, dst.shape)});
  visit_dtype(dst.dtype, [&](auto d) {
    using D = decltype(d);
    copy_rows(static_cast<D*>(dst.data()), static_cast<const D*>(src.data()), space, add);
  });
  dst.storage->bump_version();
}

SINTER_SHARED void fill(const TensorImpl& dst, double value) {
  if (!dst.device().is_cpu()) {
    auto fn = cuda_fill_hook();
    SINTER_CHECK(fn != nullptr, "filling a tensor on ", dst.device(),
                 kNeedsCudaBackend);
    fn(dst, value);
    return;
  }
  count_kernel(kCPU);
  const IterationSpace space(dst.shape, {dst.strides});
  visit_dtype(dst.dtype, [&](auto d) {
    using D = decltype(d);
    fill_rows(static_cast<D*>(dst.data()), space, static_cast<D>(value));
  });
  dst.storage->bump_version();
}

SINTER_SHARED void convert_into(const TensorImpl& dst, const TensorImpl& src) {
  SINTER_CHECK(dst.shape == src.shape, "to(): shapes differ (", dst.shape, " and ", src.shape, ")");
  if (dst.dtype == src.dtype) return copy_into(dst, src, false);
  if (!dst.device().is_cpu() || !src.device().is_cpu()) {
    auto fn = cuda_convert_hook();
    SINTER_CHECK(fn != nullptr, "converting a tensor on ", src.device(),
                 kNeedsCudaBackend);
    fn(dst, src);
    return;
  }
  count_kernel(kCPU);
  const IterationSpace space(dst.shape, {dst.strides, src.strides});
  visit_dtype(dst.dtype, [&](auto d) {
    visit_dtype(src.dtype, [&](auto s) {
      using D = decltype(d);
      using S = decltype(s);
      copy_rows(static_cast<D*>(dst.data()), static_cast<const S*>(src.data()), space, false);
    });
  });
  dst.storage->bump_version();
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace sinter::detail
