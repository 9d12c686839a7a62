// SPDX-License-Identifier: Apache-2.0
// matmul(a, b, epilogue): the element-wise epilogue rides on the GEMM. Values and gradients equal the two-statement
// form; without gradients it is one kernel and one allocation; every fallback gives the same result.
#include <support/reference.hpp>

namespace st = sinter;
using testing::TD;

namespace {
template <class T>
void require_equal(const st::TensorOf<T>& got, const st::TensorOf<T>& want, double tol) {
  REQUIRE(got.shape() == want.shape());
  const auto g = got.to_vector(), w = want.to_vector();
  for (std::size_t i = 0; i < g.size(); ++i)
    REQUIRE(std::abs(double(g[i]) - double(w[i])) <= tol * (1 + std::abs(double(w[i]))));
}
}  // namespace

TEST_CASE("matmul epilogue: relu(p + bias) and a residual add match the unfused statements on both GEMM paths",
          "[ops][matmul][epilogue]") {
  st::manual_seed(5);
  // (M, K, N): edges of the 6 x 32 micro-tiles and of the dot-product blocks, a long k, a wide C (tiles taken along
  // panels of B), an empty k.
  for (auto [M, K, N] : {std::tuple{1, 1, 1}, {7, 5, 33}, {70, 50, 90}, {64, 784, 256}, {7, 20, 200}, {13, 0, 9}}) {
    const st::Tensor x = st::randn({M, K}), b = st::randn({N}), r = st::randn({M, N});
    const st::Tensor w = st::randn({K, N}), wt = st::randn({N, K});
    for (const st::Tensor& wk : {w, wt.t()}) {  // packed path, and A . B^T read as dot products
      st::NoGradGuard no_grad;
      st::reset_counters();
      const st::Tensor y = st::matmul(x, wk, [&](const st::Tensor& p) { return st::relu(p + b); });
      CHECK(st::counters().kernels == 1);
      CHECK(st::counters().allocations == 1);
      require_equal(y, st::eval(st::relu(st::matmul(x, wk) + b)), 0.0);
      const st::Tensor z = st::matmul(x, wk, [&](const st::Tensor& p) { return st::gelu(p) * 0.5f + r; });
      // gelu's SIMD and scalar lanes may differ in the last bit, and the tiles split rows differently
      require_equal(z, st::eval(st::gelu(st::matmul(x, wk)) * 0.5f + r), 1e-6);
    }
  }
  // double, through the same kernels
  const TD xd = st::randn<double>({33, 17}), wd = st::randn<double>({17, 40}), bd = st::randn<double>({40});
  require_equal(st::matmul(xd, wd, [&](const TD& p) { return st::tanh(p - bd); }),
                st::eval(st::tanh(st::matmul(xd, wd) - bd)), 0.0);
}

TEST_CASE("matmul epilogue: gradients equal the unfused form's and pass gradcheck, and forward is one kernel",
          "[ops][matmul][epilogue][autograd]") {
  st::manual_seed(6);
  const TD x0 = st::randn<double>({9, 6}), w0 = st::randn<double>({6, 11}), b0 = st::randn<double>({11});
  const TD gy = st::randn<double>({9, 11});
  auto grads = [&](bool fused) {
    TD x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
    st::reset_counters();
    TD y = fused ? st::matmul(x, w, [&](const TD& p) { return st::sigmoid(p * b) + p; })
                 : st::eval(st::sigmoid(st::matmul(x, w) * b) + st::matmul(x, w));
    if (fused) CHECK(st::counters().kernels == 1);
    if (fused) CHECK(st::counters().allocations == 2);  // the product is kept for the backward, and y
    y.backward(gy);
    return std::tuple{y, x.grad(), w.grad(), b.grad()};
  };
  const auto [yf, xf, wf, bf] = grads(true);
  const auto [yu, xu, wu, bu] = grads(false);
  require_equal(yf, yu, 1e-12);
  require_equal(xf, xu, 1e-12);
  require_equal(wf, wu, 1e-12);
  require_equal(bf, bu, 1e-12);
  TD x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
  CHECK(st::gradcheck([](const auto& t) {
    return st::matmul(t[0], t[1], [&](const TD& p) { return st::softplus(p) * t[2]; });
  }, {x, w, b}));
}

TEST_CASE("matmul epilogue: vectors, batches, transposed or broadcast reads of p and eager epilogues fall back",
          "[ops][matmul][epilogue]") {
  st::manual_seed(7);
  st::NoGradGuard no_grad;
  const st::Tensor a = st::randn({8, 8}), b = st::randn({8, 8}), v = st::randn({8}), c = st::randn({8});
  // p read transposed: its elements are not final tile by tile, so this runs as two statements.
  st::reset_counters();
  const st::Tensor pt = st::matmul(a, b, [&](const st::Tensor& p) { return p.t() + c; });
  CHECK(st::counters().kernels == 2);
  require_equal(pt, st::eval(st::matmul(a, b).t() + c), 0.0);
  // The epilogue's result is larger than p (broadcast): two statements.
  const st::Tensor big = st::randn({3, 8, 8});
  require_equal(st::matmul(a, b, [&](const st::Tensor& p) { return p * big; }),
                st::eval(st::matmul(a, b) * big), 0.0);
  // An epilogue that does not read p at all.
  require_equal(st::matmul(a, b, [&](const st::Tensor&) { return c * 2.0f; }), st::eval(c * 2.0f), 0.0);
  // A launch inside the epilogue (a reduction of p) would read p before the GEMM: the epilogue is called again after.
  require_equal(st::matmul(a, b, [&](const st::Tensor& p) { return p - st::mean(p); }),
                st::eval(st::matmul(a, b) - st::mean(st::matmul(a, b))), 1e-6);
  // Matrix-vector and batched products.
  require_equal(st::matmul(a, v, [&](const st::Tensor& p) { return st::exp(p * 0.1f); }),
                st::eval(st::exp(st::matmul(a, v) * 0.1f)), 0.0);
  const st::Tensor ba = st::randn({2, 8, 8});
  require_equal(st::matmul(ba, b, [&](const st::Tensor& p) { return st::relu(p); }),
                st::eval(st::relu(st::matmul(ba, b))), 0.0);
  // Shape errors still name the shapes.
  REQUIRE_THROWS_WITH(st::matmul(a, st::randn({7, 3}), [&](const st::Tensor& p) { return p + 1.0f; }),
                      Catch::Contains("sinter: matmul: shapes [8, 8] and [7, 3] cannot be multiplied"));
}
