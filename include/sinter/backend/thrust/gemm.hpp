// SPDX-License-Identifier: Apache-2.0
// GEMM on Thrust's host systems: one output element per index, any strides. The CUDA build uses cuBLAS instead
// (backend/cuda/blas.hpp); this one lets CI check matmul, linear and conv on the device code path without a GPU.
#pragma once

#include <cstdint>

#include <sinter/backend/thrust/elementwise.hpp>

namespace sinter::thrust_backend {

template <class T>
struct GemmKernel {
  std::int64_t N, K;
  const T* A;
  std::int64_t rsa, csa;
  const T* B;
  std::int64_t rsb, csb;
  T* C;
  std::int64_t ldc;
  bool accumulate;
  SINTER_HD void operator()(std::int64_t i) const {
    const std::int64_t m = i / N, n = i % N;
    T acc(0);
    for (std::int64_t k = 0; k < K; ++k) acc += A[m * rsa + k * csa] * B[k * rsb + n * csb];
    T* c = C + m * ldc + n;
    *c = accumulate ? *c + acc : acc;
  }
};

template <class T>
void gemm(Device dev, std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t rsa, std::int64_t csa,
          const T* B, std::int64_t rsb, std::int64_t csb, T* C, std::int64_t ldc, bool accumulate) {
  require_supported(dev, "matmul");
  detail::count_kernel(dev);
  for_each_index(M * N, GemmKernel<T>{N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate});
  check_launch("matmul");
}

}  // namespace sinter::thrust_backend
