// SPDX-License-Identifier: Apache-2.0
// Threads for CPU kernels: OpenMP when the translation unit is built with it (link sinter::openmp), else one thread.
// Work splits into contiguous, fixed chunks, so a result depends only on the thread count, never on timing.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <utility>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace sinter {

namespace detail {
inline std::atomic<int>& thread_setting() noexcept {
  static std::atomic<int> n{0};  // 0: OpenMP's default
  return n;
}
}  // namespace detail

/// Threads used by CPU kernels (PyTorch's torch::set_num_threads). Ignored without OpenMP.
inline void set_num_threads(int n) { detail::thread_setting() = n < 1 ? 1 : n; }
inline int get_num_threads() noexcept {
#if defined(_OPENMP)
  const int n = detail::thread_setting().load();
  return n > 0 ? n : omp_get_max_threads();
#else
  return 1;
#endif
}

namespace cpu {

/// Element-wise and reduction work below this many elements stays on one thread (a fork costs more).
inline constexpr std::int64_t kParallelGrain = 32768;

inline int threads_for(std::int64_t work, std::int64_t grain = kParallelGrain) {
  const std::int64_t by_work = std::max<std::int64_t>(1, work / grain);
  return static_cast<int>(std::min<std::int64_t>(get_num_threads(), by_work));
}

/// Runs body(tid, nthreads) on nthreads threads.
template <class Body>
void parallel([[maybe_unused]] int nthreads, Body&& body) {
#if defined(_OPENMP)
  if (nthreads > 1) {
#pragma omp parallel num_threads(nthreads)
    body(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  body(0, 1);
}

/// n elements of T rounded up to whole pairs of cache lines: the stride between threads' partial buffers, so that no
/// two threads write one line (a line shared by two threads' few partial sums made 2 threads slower than 1).
template <class T>
constexpr std::int64_t thread_stride(std::int64_t n) {
  constexpr std::int64_t line = 128 / static_cast<std::int64_t>(sizeof(T));
  return (n + line - 1) / line * line;
}

/// The tid-th of n contiguous chunks of [0, total), boundaries rounded to multiples of `align`.
inline std::pair<std::int64_t, std::int64_t> chunk(std::int64_t total, int tid, int n, std::int64_t align = 64) {
  auto edge = [&](int t) {
    if (t >= n) return total;
    const std::int64_t e = total * t / n;
    return std::min(total, (e + align - 1) / align * align);
  };
  return {edge(tid), edge(tid + 1)};
}

}  // namespace cpu
}  // namespace sinter
