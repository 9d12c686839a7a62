// SPDX-License-Identifier: Apache-2.0
// GEMM on the GPU through cuBLAS, on sinter's stream. cuBLAS is column-major: a row-major C = A . B is the
// column-major C^T = B^T . A^T, so the operands swap and each one's unit stride picks its transpose flag. An operand
// with no unit stride (a strided view) is copied to a contiguous scratch matrix first. TF32 is off unless allowed.
#pragma once

#include <cstdint>

#include <cublas_v2.h>

#include <sinter/backend/thrust/elementwise.hpp>

namespace sinter::cuda {

namespace detail {
inline bool& tf32_allowed() noexcept {
  static bool allowed = false;
  return allowed;
}
}  // namespace detail

/// Lets cuBLAS use TF32 tensor cores for float GEMMs (faster, about 10 bits of mantissa). Off by default, as in
/// PyTorch's torch.backends.cuda.matmul.allow_tf32.
inline void set_allow_tf32(bool allow) noexcept { detail::tf32_allowed() = allow; }
inline bool allow_tf32() noexcept { return detail::tf32_allowed(); }

}  // namespace sinter::cuda

namespace sinter::thrust_backend {

inline void check_cublas(cublasStatus_t s, const char* what) {
  SINTER_CHECK(s == CUBLAS_STATUS_SUCCESS, what, " failed: cuBLAS status ", static_cast<int>(s));
}

/// The cuBLAS handle, bound to this thread's current stream. One handle per thread: cuBLAS handles are not safe to
/// share between threads that bind different streams.
inline cublasHandle_t cublas_handle() {
  struct Handle {
    cublasHandle_t h = nullptr;
    cudaStream_t bound = nullptr;
    Handle() { check_cublas(cublasCreate(&h), "cublasCreate"); }
    ~Handle() { (void)cublasDestroy(h); }
  };
  thread_local Handle t;
  const cudaStream_t s = stream();
  if (t.bound != s) {  // setting it resets cuBLAS's workspace: only when the stream changed
    check_cublas(cublasSetStream(t.h, s), "cublasSetStream");
    t.bound = s;
  }
  return t.h;
}

/// A row-major operand as cuBLAS sees it: pointer, transpose flag and leading dimension; copied when it must be.
template <class T>
struct BlasOperand {
  const T* p;
  cublasOperation_t op;
  std::int64_t ld;
};

/// rows x cols with strides (rs, cs), seen column-major as its transpose (op N when cs == 1) or as itself (op T).
template <class T>
BlasOperand<T> blas_operand(const T* p, std::int64_t rows, std::int64_t cols, std::int64_t rs, std::int64_t cs,
                            Scratch<T>& copy) {
  // The stride of a size-1 dim is arbitrary; pick the one cuBLAS's leading-dimension rules accept.
  if (rows == 1) rs = cs == 1 ? cols : 1;
  if (cols == 1) cs = rs == 1 ? rows : 1;
  if (cs == 1 && rs >= cols) return {p, CUBLAS_OP_N, rs > 1 ? rs : 1};
  if (rs == 1 && cs >= rows) return {p, CUBLAS_OP_T, cs > 1 ? cs : 1};
  // No usable unit stride (a strided or expanded view): pack it row-major.
  const IterationSpace space(Shape{rows, cols}, {Shape{cols, 1}, Shape{rs, cs}});
  strided_copy(space, copy.resize(rows * cols), p, false);
  return {copy.get(), CUBLAS_OP_N, cols > 1 ? cols : 1};
}

template <class T>
void gemm(Device dev, std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t rsa, std::int64_t csa,
          const T* B, std::int64_t rsb, std::int64_t csb, T* C, std::int64_t ldc, bool accumulate) {
  require_supported(dev, "matmul");
  detail::count_kernel(dev);
  if (M == 0 || N == 0) return;
  if (K == 0) {  // an empty sum: C = 0, or unchanged when accumulating
    if (!accumulate)
      for (std::int64_t m = 0; m < M; ++m) zero(C + m * ldc, static_cast<std::size_t>(N) * sizeof(T));
    return;
  }
  constexpr std::int64_t kMax = 2147483647;  // cuBLAS takes int sizes
  SINTER_CHECK(M <= kMax && N <= kMax && K <= kMax, "matmul: ", M, "x", K, " by ", K, "x", N,
               " exceeds cuBLAS's 32-bit sizes; split the product");
  Scratch<T> sa, sb;
  const BlasOperand<T> a = blas_operand(A, M, K, rsa, csa, sa), b = blas_operand(B, K, N, rsb, csb, sb);
  const T one(1), beta(accumulate ? 1 : 0);
  const int n = static_cast<int>(N), m = static_cast<int>(M), k = static_cast<int>(K);
  const int lda = static_cast<int>(a.ld), ldb = static_cast<int>(b.ld), ldc_ = static_cast<int>(ldc > 1 ? ldc : 1);
  cublasHandle_t h = cublas_handle();
  // C^T (N x M, column-major, ld = ldc) = B^T (N x K) . A^T (K x M)
  if constexpr (std::is_same_v<T, float>) {
    check_cublas(cublasSetMathMode(h, cuda::allow_tf32() ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH),
                 "cublasSetMathMode");
    check_cublas(cublasSgemm(h, b.op, a.op, n, m, k, &one, b.p, ldb, a.p, lda, &beta, C, ldc_), "cublasSgemm");
  } else {
    check_cublas(cublasDgemm(h, b.op, a.op, n, m, k, &one, b.p, ldb, a.p, lda, &beta, C, ldc_), "cublasDgemm");
  }
}

}  // namespace sinter::thrust_backend
