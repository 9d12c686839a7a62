// SPDX-License-Identifier: Apache-2.0
// Strided loops over N operands that share one shape: dimension coalescing and a row-wise walk.
// Used by copies, fills and view gradients; the fused evaluators in backend/ have their own SIMD loops.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include <sinter/core/counters.hpp>
#include <sinter/core/tensor_impl.hpp>

namespace sinter::detail {

/// One shape and N stride lists after merging dimensions that are contiguous for every operand.
template <int N>
struct StridedGeometry {
  Shape shape;
  std::array<Shape, N> strides;
};

/// Drops size-1 dims and merges dim i into i+1 when every operand steps through them as one run.
template <int N>
StridedGeometry<N> coalesce(const Shape& shape, const std::array<Shape, N>& strides) {
  StridedGeometry<N> g;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    const int last = g.shape.size() - 1;
    bool merge = last >= 0;
    for (int k = 0; k < N && merge; ++k) merge = g.strides[k][last] == strides[k][d] * shape[d];
    if (merge) {
      g.shape[last] *= shape[d];
      for (int k = 0; k < N; ++k) g.strides[k][last] = strides[k][d];
    } else {
      g.shape.push_back(shape[d]);
      for (int k = 0; k < N; ++k) g.strides[k].push_back(strides[k][d]);
    }
  }
  if (g.shape.empty() && numel_of(shape) == 1) {  // a single element
    g.shape.push_back(1);
    for (int k = 0; k < N; ++k) g.strides[k].push_back(1);
  }
  return g;
}

/// Calls row(len, offsets, inner_strides) once per innermost row of the coalesced geometry.
template <int N, class Row>
void for_each_row(const StridedGeometry<N>& g, Row&& row) {
  const int r = g.shape.size();
  if (r == 0) return;
  for (auto e : g.shape)
    if (e == 0) return;
  const std::int64_t len = g.shape[r - 1];
  std::array<std::int64_t, N> inner{}, off{};
  for (int k = 0; k < N; ++k) inner[k] = g.strides[k][r - 1];
  std::int64_t idx[kMaxRank] = {};
  while (true) {
    row(len, off, inner);
    int d = r - 2;
    for (; d >= 0; --d) {
      for (int k = 0; k < N; ++k) off[k] += g.strides[k][d];
      if (++idx[d] < g.shape[d]) break;
      for (int k = 0; k < N; ++k) off[k] -= g.strides[k][d] * g.shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

template <class T>
void copy_rows(T* dst, const T* src, const StridedGeometry<2>& g, bool add) {
  for_each_row(g, [&](std::int64_t len, const std::array<std::int64_t, 2>& off, const std::array<std::int64_t, 2>& st) {
    T* d = dst + off[0];
    const T* s = src + off[1];
    if (!add && st[0] == 1 && st[1] == 1) {
      std::memcpy(d, s, static_cast<std::size_t>(len) * sizeof(T));
    } else if (add) {
      for (std::int64_t j = 0; j < len; ++j) d[j * st[0]] += s[j * st[1]];
    } else {
      for (std::int64_t j = 0; j < len; ++j) d[j * st[0]] = s[j * st[1]];
    }
  });
}

using DeviceCopyFn = void (*)(const TensorImpl& dst, const TensorImpl& src, bool add);
/// Filled by sinter/cuda.hpp: copies where either side lives on a CUDA device.
inline DeviceCopyFn& cuda_copy_hook() noexcept {
  static DeviceCopyFn fn = nullptr;
  return fn;
}

/// dst (+)= src element-wise; src is broadcast to dst's shape. One kernel.
inline void copy_into(const TensorImpl& dst, const TensorImpl& src, bool add = false) {
  SINTER_CHECK(dst.dtype == src.dtype, "copy_: element types differ (", dtype_name(dst.dtype), " and ",
               dtype_name(src.dtype), "); convert with .to<T>() first");
  const Shape bshape = broadcast_shapes(dst.shape, src.shape, "copy_");
  SINTER_CHECK(bshape == dst.shape, "copy_: the source of shape ", src.shape,
               " cannot be broadcast to the destination of shape ", dst.shape);
  if (!dst.device().is_cpu() || !src.device().is_cpu()) {
    auto fn = cuda_copy_hook();
    SINTER_CHECK(fn != nullptr, "copying between ", src.device(), " and ", dst.device(),
                 " needs sinter's CUDA backend: include <sinter/cuda.hpp> in a file compiled with nvcc and link "
                 "sinter::cuda");
    fn(dst, src, add);
    return;
  }
  count_kernel(kCPU);
  const auto g = coalesce<2>(dst.shape, {dst.strides, broadcast_strides(src.shape, src.strides, dst.shape)});
  if (dst.dtype == DType::Float32)
    copy_rows(static_cast<float*>(dst.data()), static_cast<const float*>(src.data()), g, add);
  else
    copy_rows(static_cast<double*>(dst.data()), static_cast<const double*>(src.data()), g, add);
  dst.storage->bump_version();
}

template <class T>
void fill_rows(T* dst, const StridedGeometry<1>& g, T value) {
  for_each_row(g, [&](std::int64_t len, const std::array<std::int64_t, 1>& off, const std::array<std::int64_t, 1>& st) {
    T* d = dst + off[0];
    for (std::int64_t j = 0; j < len; ++j) d[j * st[0]] = value;
  });
}

using DeviceFillFn = void (*)(const TensorImpl& dst, double value);
inline DeviceFillFn& cuda_fill_hook() noexcept {
  static DeviceFillFn fn = nullptr;
  return fn;
}

/// Sets every element of dst to value. One kernel.
inline void fill(const TensorImpl& dst, double value) {
  if (!dst.device().is_cpu()) {
    auto fn = cuda_fill_hook();
    SINTER_CHECK(fn != nullptr, "filling a tensor on ", dst.device(),
                 " needs sinter's CUDA backend: include <sinter/cuda.hpp> in a file compiled with nvcc and link "
                 "sinter::cuda");
    fn(dst, value);
    return;
  }
  count_kernel(kCPU);
  const auto g = coalesce<1>(dst.shape, {dst.strides});
  if (dst.dtype == DType::Float32)
    fill_rows(static_cast<float*>(dst.data()), g, static_cast<float>(value));
  else
    fill_rows(static_cast<double*>(dst.data()), g, value);
  dst.storage->bump_version();
}

}  // namespace sinter::detail
