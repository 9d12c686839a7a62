// SPDX-License-Identifier: Apache-2.0
// Device: where a tensor's storage lives. Chosen at run time; kernels are chosen at compile time.
#pragma once

#include <ostream>

namespace sinter {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  constexpr bool is_cpu() const noexcept { return type == DeviceType::CPU; }
  constexpr bool is_cuda() const noexcept { return type == DeviceType::CUDA; }
  friend constexpr bool operator==(Device a, Device b) noexcept { return a.type == b.type && a.index == b.index; }
  friend std::ostream& operator<<(std::ostream& os, Device d) {
    return d.is_cpu() ? os << "cpu" : os << "cuda:" << d.index;
  }
};

inline constexpr Device kCPU{DeviceType::CPU, 0};
inline constexpr Device kCUDA{DeviceType::CUDA, 0};

}  // namespace sinter
