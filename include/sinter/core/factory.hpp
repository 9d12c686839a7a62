// SPDX-License-Identifier: Apache-2.0
// Tensor factories with PyTorch's names. The element type is the template argument: zeros<double>({2, 3}).
#pragma once

#include <cstdint>
#include <vector>

#include <sinter/core/random.hpp>
#include <sinter/core/tensor.hpp>

namespace sinter {

/// Uninitialised contents. Example: `auto t = sinter::empty({64, 784});`
template <class T = float>
TensorOf<T> empty(const Shape& shape, Device device = kCPU) {
  return TensorOf<T>(TensorImpl::empty(shape, dtype_of<T>(), device));
}
template <class T = float>
TensorOf<T> full(const Shape& shape, T value, Device device = kCPU) {
  auto t = empty<T>(shape, device);
  t.fill_(value);
  return t;
}
template <class T = float>
TensorOf<T> zeros(const Shape& shape, Device device = kCPU) {
  return full<T>(shape, T(0), device);
}
template <class T = float>
TensorOf<T> ones(const Shape& shape, Device device = kCPU) {
  return full<T>(shape, T(1), device);
}
template <class T>
TensorOf<T> empty_like(const TensorOf<T>& t) {
  return empty<T>(t.shape(), t.device());
}
template <class T>
TensorOf<T> zeros_like(const TensorOf<T>& t) {
  return zeros<T>(t.shape(), t.device());
}
template <class T>
TensorOf<T> ones_like(const TensorOf<T>& t) {
  return ones<T>(t.shape(), t.device());
}
template <class T>
TensorOf<T> full_like(const TensorOf<T>& t, T value) {
  return full<T>(t.shape(), value, t.device());
}

namespace detail {
template <class T, class Fill>
TensorOf<T> host_filled(const Shape& shape, Device device, Fill&& f) {
  auto t = empty<T>(shape, kCPU);
  count_kernel(kCPU);
  T* p = t.data();
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(f(i));
  return device.is_cpu() ? t : t.to(device);
}
}  // namespace detail

/// A copy of `values` with the given shape (1-D when shape is omitted).
template <class T>
TensorOf<T> from_vector(const std::vector<T>& values, std::optional<Shape> shape = std::nullopt, Device device = kCPU) {
  const Shape s = shape ? *shape : Shape{static_cast<std::int64_t>(values.size())};
  SINTER_CHECK(numel_of(s) == static_cast<std::int64_t>(values.size()), "from_vector: ", values.size(),
               " values do not fill shape ", s, " (", numel_of(s), " elements)");
  return detail::host_filled<T>(s, device, [&](std::int64_t i) { return values[static_cast<std::size_t>(i)]; });
}
/// A tensor over memory sinter does not own (torch::from_blob): no copy; the caller keeps `data` alive and unmoved
/// while the tensor or any view of it exists. Strides are in elements; omitted means row-major.
template <class T>
TensorOf<T> from_blob(T* data, const Shape& shape, std::optional<Shape> strides = std::nullopt) {
  SINTER_CHECK(data != nullptr || numel_of(shape) == 0, "from_blob: data is null for a shape of ", shape);
  for (auto d : shape) SINTER_CHECK(d >= 0, "from_blob: negative dimension in shape ", shape);
  const Shape st = strides ? *strides : contiguous_strides(shape);
  SINTER_CHECK(st.size() == shape.size(), "from_blob: strides ", st, " do not match the rank of shape ", shape);
  std::int64_t span = 1;  // elements from data to the furthest one addressed
  for (int i = 0; i < shape.size(); ++i) {
    SINTER_CHECK(st[i] >= 0, "from_blob: negative stride in ", st, "; pass a pointer to the first element in memory");
    if (shape[i] > 0) span += (shape[i] - 1) * st[i];
  }
  if (numel_of(shape) == 0) span = 0;
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<void*>(data), static_cast<std::size_t>(span) * sizeof(T), kCPU,
                                            nullptr);
  impl->shape = shape;
  impl->strides = st;
  impl->dtype = dtype_of<T>();
  return TensorOf<T>(std::move(impl));
}
/// A 0-d tensor holding one value.
template <class T = float>
TensorOf<T> scalar_tensor(T value, Device device = kCPU) {
  return full<T>(Shape{}, value, device);
}
/// Values start, start+step, ... below end (1-D), as torch::arange.
template <class T = float>
TensorOf<T> arange(double start, double end, double step = 1, Device device = kCPU) {
  SINTER_CHECK(step != 0, "arange: step must be nonzero");
  const double n = std::ceil((end - start) / step);
  SINTER_CHECK(n >= 0, "arange: the range [", start, ", ", end, ") with step ", step, " is empty the wrong way round");
  return detail::host_filled<T>({static_cast<std::int64_t>(n)}, device,
                                [&](std::int64_t i) { return start + static_cast<double>(i) * step; });
}
template <class T = float>
TensorOf<T> arange(double end, Device device = kCPU) {
  return arange<T>(0, end, 1, device);
}
/// Standard normal samples from this thread's generator (see manual_seed).
template <class T = float>
TensorOf<T> randn(const Shape& shape, Device device = kCPU) {
  static_assert(is_element_v<T>, "sinter: randn draws float or double; use randint for int64");
  auto& g = default_generator();
  return detail::host_filled<T>(shape, device, [&](std::int64_t) { return g.normal(); });
}
/// Uniform samples in [0, 1).
template <class T = float>
TensorOf<T> rand(const Shape& shape, Device device = kCPU) {
  auto& g = default_generator();
  return detail::host_filled<T>(shape, device, [&](std::int64_t) { return g.uniform(); });
}
/// Integers drawn uniformly from [low, high) (torch::randint); int64 by default.
template <class T = std::int64_t>
TensorOf<T> randint(std::int64_t low, std::int64_t high, const Shape& shape, Device device = kCPU) {
  SINTER_CHECK(low < high, "randint: expects low < high, got low=", low, " and high=", high);
  auto& g = default_generator();
  const double span = static_cast<double>(high - low);
  return detail::host_filled<T>(shape, device, [&](std::int64_t) {
    const auto v = low + static_cast<std::int64_t>(g.uniform() * span);
    return v < high ? v : high - 1;
  });
}
/// Uniform samples in [low, high).
template <class T = float>
TensorOf<T> uniform(const Shape& shape, double low, double high, Device device = kCPU) {
  auto& g = default_generator();
  return detail::host_filled<T>(shape, device, [&](std::int64_t) { return low + (high - low) * g.uniform(); });
}

}  // namespace sinter
