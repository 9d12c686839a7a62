// SPDX-License-Identifier: Apache-2.0
// Element types: float and double, named at run time for messages and files.
#pragma once

#include <cstddef>
#include <type_traits>

namespace sinter {

enum class DType { Float32, Float64 };

template <class T>
inline constexpr bool is_element_v = std::is_same_v<T, float> || std::is_same_v<T, double>;

template <class T>
constexpr DType dtype_of() noexcept {
  static_assert(is_element_v<T>, "sinter: tensors hold float or double; convert other types before building a tensor");
  return std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
}

constexpr std::size_t element_size(DType t) noexcept { return t == DType::Float32 ? 4 : 8; }
constexpr const char* dtype_name(DType t) noexcept { return t == DType::Float32 ? "float" : "double"; }

}  // namespace sinter
