// SPDX-License-Identifier: Apache-2.0
// Compiled mode (include/sinter/implementation.hpp, docs/compiled_mode.md): this program's files are compiled with
// SINTER_COMPILED, so they see the shared machinery as declarations, and sinter_compiled_mode() adds the one file
// that compiles it. The program links only if every declared instance is defined there; these tests check that
// statements, autograd, the products, the losses and every optimiser behave as in a header-only build.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <sinter/sinter.hpp>

#include "implementation/compiled_model.hpp"

namespace st = sinter;

static_assert(SINTER_DEFINE_SHARED == 0, "this test must be compiled in compiled mode (sinter_compiled_mode)");

TEST_CASE("compiled mode: a fused statement is one kernel forward and one backward, with exact values") {
  st::manual_seed(3);
  st::Tensor x = st::randn({1000}).requires_grad_(), a = st::randn({1000}).requires_grad_(),
             b = st::randn({1000}).requires_grad_();
  st::reset_counters();
  st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
  CHECK(st::counters().kernels == 1);
  const st::Tensor g = st::ones({1000});
  st::reset_counters();
  y.backward(g);
  CHECK(st::counters().kernels == 1);
  const auto xv = x.to_vector(), av = a.to_vector(), bv = b.to_vector(), yv = y.to_vector();
  const auto gx = x.grad().to_vector(), ga = a.grad().to_vector(), gb = b.grad().to_vector();
  for (std::size_t i = 0; i < xv.size(); ++i) {
    const double s = 1 / (1 + std::exp(-(double(av[i]) * xv[i] + bv[i]))), t = std::tanh(double(xv[i]));
    REQUIRE(yv[i] == Approx(s * t).epsilon(1e-5).margin(1e-6));
    const double ds = s * (1 - s);
    REQUIRE(gx[i] == Approx(ds * av[i] * t + s * (1 - t * t)).epsilon(1e-4).margin(1e-5));
    REQUIRE(ga[i] == Approx(ds * xv[i] * t).epsilon(1e-4).margin(1e-5));
    REQUIRE(gb[i] == Approx(ds * t).epsilon(1e-4).margin(1e-5));
  }
}

TEST_CASE("compiled mode: matmul, softmax and log_softmax pass gradcheck in double") {
  st::manual_seed(4);
  auto w = st::randn<double>({5, 4}).requires_grad_(), v = st::randn<double>({4, 3}).requires_grad_();
  CHECK(st::gradcheck(
      [](const std::vector<st::TensorOf<double>>& in) {
        const st::TensorOf<double> p = st::matmul(in[0], in[1]);
        return st::eval(st::softmax(p, 1) * st::log_softmax(p, 0) + st::sum(p * p, {1}, true));
      },
      {w, v}));
}

TEST_CASE("compiled mode: every optimiser trains the small conv net") {
  for (const char* name : {"sgd", "adam", "adamw", "rmsprop", "adagrad"}) {
    INFO(name);
    const auto [first, last] = train_small_net(name, 30);
    CHECK(std::isfinite(last));
    CHECK(last < 0.5 * first);
  }
}

TEST_CASE("compiled mode: a module with BatchNorm2d round-trips through a safetensors checkpoint") {
  const std::string path = "compiled_mode_checkpoint.safetensors";
  CHECK(checkpoint_round_trip(path));
  std::remove(path.c_str());
}

TEST_CASE("compiled mode: a custom Function runs its own forward and backward") {
  const st::Function twice{[](const auto& in) { return st::eval(in[0] * 2.0f); },
                           [](const auto&, const auto&, const st::Tensor& g) {
                             return std::vector<st::Tensor>{st::eval(g * 3.0f)};  // not the true derivative, on purpose
                           },
                           "TwiceBackward"};
  st::Tensor x = st::full({4}, 1.5f).requires_grad_();
  st::Tensor y = twice({x});
  CHECK(y.to_vector() == std::vector<float>(4, 3.0f));
  st::sum(y).backward();
  CHECK(x.grad().to_vector() == std::vector<float>(4, 3.0f));
}

TEST_CASE("compiled mode: errors still start with sinter:") {
  const st::Tensor a = st::zeros({2, 3}), b = st::zeros({4});
  CHECK_THROWS_WITH(st::Tensor(a + b), Catch::Contains("sinter:") && Catch::Contains("[2, 3]"));
}
