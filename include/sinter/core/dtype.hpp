// SPDX-License-Identifier: Apache-2.0
// Element types. Expressions and gradients are over float and double; int64 tensors hold indices and class labels
// (PyTorch's kLong) and take part in indexing ops, copies and conversions only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace sinter {

enum class DType { Float32, Float64, Int64 };

/// Element types of expressions and autograd.
template <class T>
inline constexpr bool is_element_v = std::is_same_v<T, float> || std::is_same_v<T, double>;
/// Element types a tensor can hold.
template <class T>
inline constexpr bool is_storable_v = is_element_v<T> || std::is_same_v<T, std::int64_t>;

template <class T>
constexpr DType dtype_of() noexcept {
  static_assert(is_storable_v<T>, "sinter: tensors hold float, double or std::int64_t; convert other types first");
  if constexpr (std::is_same_v<T, float>)
    return DType::Float32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::Float64;
  else
    return DType::Int64;
}

constexpr std::size_t element_size(DType t) noexcept { return t == DType::Float32 ? 4 : 8; }
constexpr const char* dtype_name(DType t) noexcept {
  return t == DType::Float32 ? "float" : t == DType::Float64 ? "double" : "int64";
}
constexpr bool is_floating(DType t) noexcept { return t != DType::Int64; }

/// Calls f(T{}) with the C++ type of a run-time dtype.
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: return f(std::int64_t{});
  }
}

}  // namespace sinter
