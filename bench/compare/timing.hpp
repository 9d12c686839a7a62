// SPDX-License-Identifier: Apache-2.0
// Timing for side-by-side comparisons: warm up, calibrate a batch to >= 50 ms, report the median of 7 batches.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace bench {

template <class F>
double median_seconds(F&& f) {
  using clock = std::chrono::steady_clock;
  f();
  long reps = 1;
  for (;;) {
    const auto t0 = clock::now();
    for (long i = 0; i < reps; ++i) f();
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s >= 0.05 || reps >= (1L << 24)) break;
    reps *= s < 0.005 ? 10 : 2;
  }
  std::vector<double> batches;
  for (int b = 0; b < 7; ++b) {
    const auto t0 = clock::now();
    for (long i = 0; i < reps; ++i) f();
    batches.push_back(std::chrono::duration<double>(clock::now() - t0).count() / static_cast<double>(reps));
  }
  std::nth_element(batches.begin(), batches.begin() + 3, batches.end());
  return batches[3];
}

/// One line per measurement: `RESULT <key> <value> <unit>`, the format of ../shared/perf.
inline void result(const char* key, double value, const char* unit) { std::printf("RESULT %s %.6g %s\n", key, value, unit); }

}  // namespace bench
