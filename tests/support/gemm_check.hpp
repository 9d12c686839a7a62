// SPDX-License-Identifier: Apache-2.0
// The built-in GEMM against a double reference on the shapes that reach every path of it: packed panels and dot
// products for A . B^T, all four transpose cases, edge tiles in every direction, with and without accumulation, one
// and two threads. Shared by the GEMM test and the instruction-set dispatch test.
#pragma once

#include <array>
#include <cmath>
#include <vector>

#include <support/reference.hpp>

namespace sinter_test {

template <class T>
void check_gemm(std::int64_t M, std::int64_t N, std::int64_t K, bool ta, bool tb, bool acc) {
  namespace st = sinter;
  st::manual_seed(static_cast<std::uint64_t>(M * 1000003 + N * 1009 + K));
  const st::TensorOf<T> at = st::randn<T>({M * K}), bt = st::randn<T>({K * N});
  const T* a = at.data();
  const T* b = bt.data();
  const std::int64_t rsa = ta ? 1 : K, csa = ta ? M : 1, rsb = tb ? 1 : N, csb = tb ? K : 1;
  std::vector<T> c(static_cast<std::size_t>(M * N), T(0.25));
  st::cpu::gemm<T>(M, N, K, a, rsa, csa, b, rsb, csb, c.data(), N, acc);
  int bad = 0;
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      double want = acc ? 0.25 : 0.0;
      for (std::int64_t k = 0; k < K; ++k) want += double(a[i * rsa + k * csa]) * double(b[k * rsb + j * csb]);
      const double got = c[static_cast<std::size_t>(i * N + j)];
      const double tol = (sizeof(T) == 4 ? 1e-5 : 1e-13) * (1 + std::sqrt(double(K)) * 4);
      if (std::fabs(got - want) > tol * (1 + std::fabs(want)) && ++bad <= 3)
        FAIL_CHECK(M << "x" << N << "x" << K << " ta " << ta << " tb " << tb << " acc " << acc << " at (" << i << ", "
                      << j << "): " << got << " vs " << want);
    }
  CHECK(bad == 0);
}

/// check_gemm over every transpose and accumulation case of shapes that are tiny, have edge tiles (M not a multiple
/// of 3, 4, 6 or 12, with a last panel of A just at, under and over half a micro-tile's rows, which picks its
/// half-height kernel; N not of 4 or of two vectors), a long k (the dot path for A . B^T takes M <= 64 with K >= 32, or
/// K >= 512), span several blocks of N and of K (packed and computed one after another), and are big
/// enough to thread, or read B in place with up to 16 panels of A (rows an odd number of cache lines apart: 80 floats,
/// 40 doubles; k in three equal blocks for K = 600); on one and two threads.
template <class T>
void check_gemm_paths() {
  for (int threads : {1, 2}) {
    sinter::set_num_threads(threads);
    for (auto [M, N, K] : {std::array<std::int64_t, 3>{1, 1, 1}, {5, 7, 3}, {13, 33, 40}, {64, 256, 100}, {65, 31, 77},
                           {130, 70, 600}, {300, 9, 520}, {7, 300, 33},
                           {70, 1030, 300}, {40, 80, 600}, {40, 40, 70}, {66, 40, 50}, {63, 21, 45}})
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (bool acc : {false, true}) check_gemm<T>(M, N, K, ta, tb, acc);
  }
  sinter::set_num_threads(2);
}

}  // namespace sinter_test
