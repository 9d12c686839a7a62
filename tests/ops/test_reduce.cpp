// SPDX-License-Identifier: Apache-2.0
#include <limits>

#include <support/reference.hpp>

namespace st = sinter;
using testing::TD;

TEST_CASE("sum, mean, amax and amin over all and over dims", "[ops][reduce]") {
  const TD x = st::arange<double>(24).reshape({2, 3, 4});
  CHECK(st::sum(x).item() == 276);
  CHECK(st::mean(x).item() == 11.5);
  CHECK(st::amax(x).item() == 23);
  CHECK(st::amin(x * -1.0).item() == -23);
  CHECK(st::sum(x, {1}).shape() == st::Shape{2, 4});
  CHECK(st::sum(x, {1}).to_vector() == std::vector<double>{12, 15, 18, 21, 48, 51, 54, 57});
  CHECK(st::sum(x, {-1}, true).shape() == st::Shape{2, 3, 1});
  CHECK(st::sum(x, {0, 2}).to_vector() == std::vector<double>{60, 92, 124});
  CHECK(st::mean(x, {0}).to_vector()[0] == 6);
  CHECK(st::amax(x, {2}).to_vector() == std::vector<double>{3, 7, 11, 15, 19, 23});
  CHECK(st::amin(x.transpose(0, 1).transpose(1, 0), {0, 1}).to_vector() == std::vector<double>{0, 1, 2, 3});
  // a reduction of a lazy, transposed, broadcast expression
  const TD s = st::sum(x.transpose(0, 2) * st::ones<double>({3, 1}), {0});
  CHECK(s.shape() == st::Shape{3, 2});
  CHECK(s.to_vector() == std::vector<double>{6, 54, 22, 70, 38, 86});
}

TEST_CASE("long float sums stay accurate", "[ops][reduce][float]") {
  const st::Tensor x = st::full({3000000}, 0.1f);
  CHECK(st::sum(x).item() == Approx(300000.0).epsilon(1e-5));
}

TEST_CASE("empty and 0-d reductions", "[ops][reduce][edge]") {
  CHECK(st::sum(st::zeros<double>({0, 3})).item() == 0);
  CHECK(st::sum(st::zeros<double>({0, 3}), {0}).to_vector() == std::vector<double>{0, 0, 0});
  CHECK(st::sum(st::scalar_tensor(4.0)).item() == 4);
  CHECK_THROWS_WITH(st::amax(st::zeros<double>({0})), Catch::StartsWith("sinter: amax: cannot reduce an empty tensor"));
  CHECK_THROWS_WITH(st::sum(st::zeros<double>({2}), {1}), Catch::StartsWith("sinter: sum: dimension out of range"));
  CHECK_THROWS_WITH(st::sum(st::zeros<double>({2, 2}), {1, -1}), Catch::Contains("appears more than once"));
}

TEST_CASE("logsumexp is stable at 1e4 and with -inf", "[ops][reduce][stability]") {
  const TD x = st::from_vector<double>({1e4, 1e4, -1e4, 0}, st::Shape{2, 2});
  const auto l = st::logsumexp(x, {1}).to_vector();
  CHECK(l[0] == Approx(1e4 + std::log(2.0)));
  CHECK(l[1] == Approx(0.0).margin(1e-12));
  const double inf = std::numeric_limits<double>::infinity();
  const TD m = st::from_vector<double>({-inf, -inf, -inf, 1.0}, st::Shape{2, 2});
  const auto lm = st::logsumexp(m, {1}).to_vector();
  CHECK(lm[0] == -inf);
  CHECK(lm[1] == Approx(1.0));
  TD xg = st::from_vector<double>({1e4, 1e4 - 1}).requires_grad_();
  st::logsumexp(xg, {0}).backward();
  const auto g = xg.grad().to_vector();
  CHECK(g[0] == Approx(1 / (1 + std::exp(-1.0))));
  CHECK(std::isfinite(g[1]));
}

TEST_CASE("reductions pass gradcheck, ties share the gradient", "[ops][reduce][grad]") {
  st::manual_seed(21);
  const TD x = st::randn<double>({3, 4}).requires_grad_(), b = st::randn<double>({4}).requires_grad_();
  const std::vector<testing::Fn> fns = {
      [](const auto& v) { return TD(st::sum(v[0] * v[1])); },
      [](const auto& v) { return TD(st::mean(st::exp(v[0]) - v[1], {1})); },
      [](const auto& v) { return TD(st::sum(st::tanh(v[0]) + v[1], {0}, true)); },
      [](const auto& v) { return TD(st::amax(v[0] * v[1], {1})); },
      [](const auto& v) { return TD(st::amin(v[0] + v[1])); },
      [](const auto& v) { return TD(st::logsumexp(v[0] * v[1], {0, 1})); },
  };
  for (std::size_t k = 0; k < fns.size(); ++k) {
    INFO("case " << k);
    CHECK(st::gradcheck(fns[k], {x, b}));
  }
  TD t = st::from_vector<double>({1, 3, 3}).requires_grad_();
  st::amax(t).backward();
  CHECK(t.grad().to_vector() == std::vector<double>{0, 0.5, 0.5});
}
