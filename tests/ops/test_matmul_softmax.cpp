// SPDX-License-Identifier: Apache-2.0
#include <support/reference.hpp>

namespace st = sinter;
using testing::TD;

namespace {
std::vector<double> naive(const TD& a, const TD& b, std::int64_t M, std::int64_t K, std::int64_t N) {
  std::vector<double> c(static_cast<std::size_t>(M * N));
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (std::int64_t k = 0; k < K; ++k) s += testing::at(a, {M, K}, i * K + k) * testing::at(b, {K, N}, k * N + j);
      c[static_cast<std::size_t>(i * N + j)] = s;
    }
  return c;
}
}  // namespace

TEST_CASE("matmul of matrices matches a naive product for every transpose case and odd sizes", "[ops][matmul]") {
  st::manual_seed(31);
  for (auto [M, K, N] : {std::tuple{1, 1, 1}, {5, 7, 3}, {67, 129, 45}, {200, 300, 70}}) {
    const TD a = st::randn<double>({M, K}), b = st::randn<double>({K, N});
    const TD at = st::randn<double>({K, M}).t(), bt = st::randn<double>({N, K}).t();
    for (const auto& [x, y] : {std::pair{a, b}, {at, b}, {a, bt}, {at, bt}}) {
      const TD c = st::matmul(x, y);
      REQUIRE(c.shape() == st::Shape{M, N});
      const auto want = naive(x, y, M, K, N);
      testing::check_values(c, [&](std::int64_t i) { return want[static_cast<std::size_t>(i)]; }, 1e-10, 1e-10);
    }
  }
  const st::Tensor af = st::randn({64, 784}), bf = st::randn({784, 256});
  const st::Tensor cf = st::matmul(af, bf);
  const auto av = af.to_vector(), bv = bf.to_vector();
  const TD ad = st::from_vector<double>(std::vector<double>(av.begin(), av.end()), af.shape());
  const TD bd = st::from_vector<double>(std::vector<double>(bv.begin(), bv.end()), bf.shape());
  const auto want = naive(ad, bd, 64, 784, 256);
  testing::check_values(cf, [&](std::int64_t i) { return want[static_cast<std::size_t>(i)]; }, 1e-4, 1e-3);
}

TEST_CASE("matmul covers PyTorch's vector and batched cases", "[ops][matmul]") {
  const TD v = st::from_vector<double>({1, 2, 3});
  const TD m = st::arange<double>(6).reshape({3, 2});
  CHECK(st::matmul(v, v).dim() == 0);
  CHECK(st::matmul(v, v).item() == 14);
  CHECK(st::matmul(v, m).to_vector() == std::vector<double>{16, 22});
  CHECK(st::matmul(m.t(), v).to_vector() == std::vector<double>{16, 22});
  const TD batch = st::arange<double>(12).reshape({2, 2, 3});
  const TD r = st::matmul(batch, m);
  CHECK(r.shape() == st::Shape{2, 2, 2});
  CHECK(r.to_vector() == std::vector<double>{10, 13, 28, 40, 46, 67, 64, 94});
  CHECK(st::matmul(st::ones<double>({4, 1, 2, 3}), st::ones<double>({5, 3, 2})).shape() == st::Shape{4, 5, 2, 2});
  CHECK_THROWS_WITH(st::matmul(m, m), Catch::StartsWith("sinter: matmul: shapes [3, 2] and [3, 2] cannot be multiplied"));
}

TEST_CASE("matmul gradients pass gradcheck, broadcast batches included", "[ops][matmul][grad]") {
  st::manual_seed(32);
  const TD a = st::randn<double>({3, 4}).requires_grad_(), b = st::randn<double>({4, 2}).requires_grad_();
  const TD v = st::randn<double>({4}).requires_grad_(), bb = st::randn<double>({2, 3, 4}).requires_grad_();
  CHECK(st::gradcheck([](const auto& t) { return st::matmul(t[0], t[1]); }, {a, b}));
  CHECK(st::gradcheck([](const auto& t) { return st::matmul(t[0].t(), t[1].t()); }, {b, a}));
  CHECK(st::gradcheck([](const auto& t) { return st::matmul(t[0], t[1]); }, {a, v}));
  CHECK(st::gradcheck([](const auto& t) { return st::matmul(t[0], t[0]); }, {v}));
  CHECK(st::gradcheck([](const auto& t) { return st::matmul(t[0], t[1]); }, {bb, b}));
  CHECK(st::gradcheck([](const auto& t) { return st::matmul(t[1], t[0].t()); }, {a, bb}));
}

TEST_CASE("softmax and log_softmax are correct and stable", "[ops][softmax]") {
  const TD x = st::from_vector<double>({1, 2, 3, 1e4, 1e4, -1e4}, st::Shape{2, 3});
  const auto p = st::softmax(x, 1).to_vector();
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(p[0] == Approx(std::exp(1.0) / z));
  CHECK(p[3] == Approx(0.5));
  CHECK(p[5] == 0.0);
  const auto lp = st::log_softmax(x, -1).to_vector();
  CHECK(lp[2] == Approx(3 - std::log(z)));
  CHECK(lp[5] == Approx(-2e4 - std::log(2.0)));
  const auto p0 = st::softmax(x, 0).to_vector();
  CHECK(p0[0] + p0[3] == Approx(1.0));
  const double inf = std::numeric_limits<double>::infinity();
  const auto lm = st::log_softmax(st::from_vector<double>({-inf, 0.0}), 0).to_vector();
  CHECK(lm[0] == -inf);
  CHECK(lm[1] == 0.0);
  const st::Tensor f = st::randn({5, 37});
  const auto fs = st::softmax(f, 1).to_vector();
  double row = 0;
  for (int k = 0; k < 37; ++k) row += fs[static_cast<std::size_t>(k)];
  CHECK(row == Approx(1.0).epsilon(1e-5));
}

TEST_CASE("softmax gradients pass gradcheck along every dim", "[ops][softmax][grad]") {
  st::manual_seed(33);
  const TD x = st::randn<double>({2, 3, 4}).requires_grad_();
  for (int d = 0; d < 3; ++d) {
    INFO("dim " << d);
    CHECK(st::gradcheck([d](const auto& t) { return st::softmax(t[0] * 2.0, d); }, {x}));
    CHECK(st::gradcheck([d](const auto& t) { return st::log_softmax(t[0], d); }, {x}));
  }
}
