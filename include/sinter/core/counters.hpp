// SPDX-License-Identifier: Apache-2.0
// Kernel and allocation counters: the proof of fusion. Per thread, so concurrent work never blurs a count.
#pragma once

#include <cstddef>

#include <sinter/core/device.hpp>

namespace sinter {

/// What the calling thread has launched and allocated since the last reset_counters().
/// A kernel is one pass over memory: an element-wise statement, a reduction, a GEMM, a copy or a fill.
struct Counters {
  std::size_t kernels = 0;
  std::size_t allocations = 0;
  std::size_t bytes_allocated = 0;
};

namespace detail {
struct CounterSet {
  Counters cpu, cuda;
};
inline CounterSet& counter_set() noexcept {
  thread_local CounterSet c;
  return c;
}
inline Counters& counters_for(Device d) noexcept { return d.is_cpu() ? counter_set().cpu : counter_set().cuda; }
inline void count_kernel(Device d = Device{}) noexcept { ++counters_for(d).kernels; }
inline void count_allocation(Device d, std::size_t bytes) noexcept {
  auto& c = counters_for(d);
  ++c.allocations;
  c.bytes_allocated += bytes;
}
}  // namespace detail

/// Counts on all devices together. Example: `reset_counters(); Tensor y = a * x + b; assert(counters().kernels == 1);`
inline Counters counters() noexcept {
  const auto& s = detail::counter_set();
  return {s.cpu.kernels + s.cuda.kernels, s.cpu.allocations + s.cuda.allocations,
          s.cpu.bytes_allocated + s.cuda.bytes_allocated};
}
/// Counts on one device.
inline Counters counters(Device d) noexcept { return detail::counters_for(d); }
inline void reset_counters() noexcept { detail::counter_set() = {}; }

}  // namespace sinter
