// SPDX-License-Identifier: Apache-2.0
// The two roofs a workload is measured against, measured in the same process run: the FP32 FMA throughput (register-
// blocked independent FMA chains on every thread, no memory traffic) and the STREAM triad bandwidth (a = b + s * c
// over three 128 MiB arrays, 12 bytes per element as STREAM counts it). A workload's roofline fraction is its
// FLOP/s over the first or its bytes/s over the second. Same method as ../shared/perf/src (peak_flops, stream).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <sinter/backend/cpu/simd.hpp>

namespace bench {

namespace detail {
template <class F>
double best_seconds(int repeats, F&& f) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}
}  // namespace detail

/// FP32 GFLOP/s of fused multiply-adds on `threads` threads.
inline double fma_peak_gflops(int threads) {
  using V = sinter::cpu::vec<float>;
  constexpr int kChains = 16;  // enough independent chains to cover FMA latency x pipes
  constexpr std::int64_t kIters = 20'000'000;
  volatile float sink = 0;
  const double s = detail::best_seconds(3, [&] {
#pragma omp parallel num_threads(threads)
    {
      V acc[kChains];
      for (int c = 0; c < kChains; ++c) acc[c] = V(1.0f + 1e-3f * static_cast<float>(c));
      const V m(0.999999f), a(1e-7f);
      for (std::int64_t i = 0; i < kIters; ++i)
        for (int c = 0; c < kChains; ++c) acc[c] = xsimd::fma(acc[c], m, a);
      V t = acc[0];
      for (int c = 1; c < kChains; ++c) t += acc[c];
      sink = sink + xsimd::hadd(t);
    }
  });
  return 2.0 * static_cast<double>(V::size) * kChains * kIters * threads / s / 1e9;
}

/// STREAM triad GB/s on `threads` threads.
inline double triad_gbps(int threads) {
  const std::int64_t n = (128 << 20) / 4;
  std::vector<float> a(static_cast<std::size_t>(n)), b(static_cast<std::size_t>(n), 1.0f),
      c(static_cast<std::size_t>(n), 2.0f);
  float* pa = a.data();
  const float *pb = b.data(), *pc = c.data();
  const float s = 3.0f;
  const double t = detail::best_seconds(5, [&] {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < n; ++i) pa[i] = pb[i] + s * pc[i];
  });
  return 12.0 * static_cast<double>(n) / t / 1e9;
}

}  // namespace bench
