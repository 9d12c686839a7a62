// SPDX-License-Identifier: Apache-2.0
// A Debug build (g++ -O0) for AVX-512: every function that reaches xsimd's integer select (log, pow, and the ops built
// on them) must compile, and the kernels must agree with the C library. CMake builds it with the AVX-512 flags on
// every x86 machine with g++ (the compile is the main check) and runs it where the CPU has AVX-512BW.
#include <cmath>
#include <cstdio>

#include <sinter/sinter.hpp>

int main() {
  namespace st = sinter;
  st::manual_seed(0);
  st::TensorOf<float> x = st::rand({100}) + 0.5f;
  x.requires_grad_();
  st::TensorOf<double> xd = st::rand<double>({100}) + 0.5;
  st::TensorOf<float> y = st::log(x) + st::pow(x, x) + st::log1p(x) * st::exp(-x);
  st::TensorOf<double> yd = st::log(xd) + st::pow(xd, xd);
  st::sum(y).backward();
  const auto xv = x.to_vector(), yv = y.to_vector(), gv = x.grad().to_vector();
  const auto xdv = xd.to_vector(), ydv = yd.to_vector();
  int bad = 0;
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const double a = xv[i];
    const double want = std::log(a) + std::pow(a, a) + std::log1p(a) * std::exp(-a);
    // d/da: 1/a + a^a (log a + 1) + exp(-a) (1 / (1 + a) - log1p(a))
    const double dwant = 1 / a + std::pow(a, a) * (std::log(a) + 1) + std::exp(-a) * (1 / (1 + a) - std::log1p(a));
    const double b = xdv[i], dd = std::log(b) + std::pow(b, b);
    if (std::abs(yv[i] - want) > 1e-5 * (1 + std::abs(want)) || std::abs(gv[i] - dwant) > 1e-4 * (1 + std::abs(dwant)) ||
        std::abs(ydv[i] - dd) > 1e-12 * (1 + std::abs(dd))) {
      std::printf("sinter: debug_build_avx512: element %zu: got %g / %g / %g, expected %g / %g / %g\n", i, yv[i], gv[i],
                  ydv[i], want, dwant, dd);
      ++bad;
    }
  }
  std::printf("debug_build_avx512: %d of %zu elements differ\n", bad, xv.size());
  return bad == 0 ? 0 : 1;
}
