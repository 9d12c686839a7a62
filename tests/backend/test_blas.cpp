// SPDX-License-Identifier: Apache-2.0
// sinter::blas: large GEMMs go to the system CBLAS, small ones and strides CBLAS cannot describe stay with the
// built-in GEMM, and both give the reference product in every transpose case, with and without accumulation.
#include <support/reference.hpp>

#ifndef SINTER_USE_CBLAS
#error "this test is built with sinter::blas"
#endif

namespace st = sinter;

namespace {
/// C (+)= A . B in double with A[i, k] = A[i * rsa + k * csa] and B[k, j] = B[k * rsb + j * csb].
template <class T>
std::vector<double> reference(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t rsa,
                              std::int64_t csa, const T* B, std::int64_t rsb, std::int64_t csb, const std::vector<T>& c0,
                              bool accumulate) {
  std::vector<double> c(static_cast<std::size_t>(M * N));
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      double s = accumulate ? c0[static_cast<std::size_t>(i * N + j)] : 0.0;
      for (std::int64_t k = 0; k < K; ++k) s += double(A[i * rsa + k * csa]) * double(B[k * rsb + j * csb]);
      c[static_cast<std::size_t>(i * N + j)] = s;
    }
  return c;
}
}  // namespace

TEMPLATE_TEST_CASE("GEMMs through CBLAS match the reference in all four transpose cases", "[backend][blas]", float,
                   double) {
  using T = TestType;
  st::manual_seed(3);
  for (auto [M, N, K] : {std::array<std::int64_t, 3>{70, 90, 110}, {3, 5, 7}, {128, 64, 256}}) {
    const auto a = st::randn<T>({M * K}).to_vector(), b = st::randn<T>({K * N}).to_vector();
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (bool acc : {false, true}) {
          INFO(M << "x" << N << "x" << K << " ta " << ta << " tb " << tb << " accumulate " << acc);
          const std::int64_t rsa = ta ? 1 : K, csa = ta ? M : 1, rsb = tb ? 1 : N, csb = tb ? K : 1;
          std::vector<T> c(static_cast<std::size_t>(M * N), T(0.5));
          const auto c0 = c;
          st::cpu::gemm<T>(M, N, K, a.data(), rsa, csa, b.data(), rsb, csb, c.data(), N, acc);
          CHECK(st::cpu::uses_cblas<T>(M, N, K, rsa, csa, rsb, csb, N) == (M * N * K >= 64 * 64 * 64));
          const auto want = reference(M, N, K, a.data(), rsa, csa, b.data(), rsb, csb, c0, acc);
          for (std::size_t i = 0; i < c.size(); ++i)
            CHECK(c[i] == Approx(want[i]).epsilon(sizeof(T) == 4 ? 1e-4 : 1e-12).margin(sizeof(T) == 4 ? 1e-4 : 1e-12));
        }
  }
  // Neither operand has a unit stride: CBLAS cannot describe it, the built-in GEMM takes it.
  CHECK_FALSE(st::cpu::uses_cblas<T>(100, 100, 100, 200, 2, 200, 2, 100));
}

TEST_CASE("matmul and its gradients are the reference products with sinter::blas", "[backend][blas]") {
  st::manual_seed(4);
  const std::int64_t M = 96, K = 80, N = 72;
  st::TensorOf<double> a = st::randn<double>({M, K}).requires_grad_(), b = st::randn<double>({K, N}).requires_grad_();
  const st::TensorOf<double> g = st::randn<double>({M, N});
  const st::TensorOf<double> y = st::matmul(a, b);
  y.backward(g);
  const auto av = a.to_vector(), bv = b.to_vector(), gv = g.to_vector();
  const std::vector<double> none;
  // y = a b, da = g b^T, db = a^T g, each through CBLAS (M N K >= 64^3) with the transposes as strides.
  const auto want_y = reference(M, N, K, av.data(), K, 1, bv.data(), N, 1, none, false);
  const auto want_da = reference(M, K, N, gv.data(), N, 1, bv.data(), 1, N, none, false);
  const auto want_db = reference(K, N, M, av.data(), 1, K, gv.data(), N, 1, none, false);
  for (auto [got, want] : {std::pair{y.to_vector(), want_y}, {a.grad().to_vector(), want_da}, {b.grad().to_vector(), want_db}})
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(got[i] == Approx(want[i]).epsilon(1e-12).margin(1e-12));
}

TEST_CASE("a GEMM epilogue runs after CBLAS's product, over row bands of the threads asked for", "[backend][blas]") {
  st::manual_seed(5);
  const st::Tensor a = st::randn({130, 90}), b = st::randn({90, 70}), bias = st::randn({70});
  REQUIRE(st::cpu::uses_cblas<float>(130, 70, 90, 90, 1, 70, 1, 70));
  for (int threads : {1, 2}) {
    st::set_num_threads(threads);
    const st::Tensor y = st::matmul(a, b, [&](const st::Tensor& p) { return st::relu(p + bias); });
    const st::Tensor p = st::matmul(a, b);
    const st::Tensor want = st::relu(p + bias);
    CHECK(y.to_vector() == want.to_vector());
  }
  st::set_num_threads(2);
}
