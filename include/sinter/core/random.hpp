// SPDX-License-Identifier: Apache-2.0
// The random generator behind randn, rand, dropout and initialisers: per thread, seeded by manual_seed.
// mt19937_64 and our own uniform/normal transforms are fully specified, so a seed gives the same numbers
// with every compiler and standard library.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace sinter {

class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0x5eed5eedULL) : engine_(seed) {}
  void seed(std::uint64_t s) {
    engine_.seed(s);
    has_spare_ = false;
  }
  std::uint64_t next_u64() { return engine_(); }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  /// Standard normal by the Box-Muller transform; values come in pairs.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double a = 6.283185307179586476925 * u2;
    spare_ = r * std::sin(a);
    has_spare_ = true;
    return r * std::cos(a);
  }

 private:
  std::mt19937_64 engine_;
  double spare_ = 0;
  bool has_spare_ = false;
};

/// The calling thread's generator.
inline Generator& default_generator() {
  thread_local Generator g;
  return g;
}

/// Seeds this thread's generator: every later random factory and initialiser on the thread is reproducible.
inline void manual_seed(std::uint64_t seed) { default_generator().seed(seed); }

}  // namespace sinter
