// SPDX-License-Identifier: Apache-2.0
#include <support/reference.hpp>

namespace st = sinter;
using testing::TD;

TEST_CASE("a custom Function with a hand-written backward passes gradcheck and composes", "[autograd][function]") {
  // f(x, y) = x * y^2 with its own backward.
  const st::FunctionOf<double> f{
      [](const auto& in) { return TD(in[0] * in[1] * in[1]); },
      [](const auto& in, const TD&, const TD& g) {
        return std::vector<TD>{TD(g * in[1] * in[1]), TD(g * 2.0 * in[0] * in[1])};
      },
      "XYSquaredBackward"};
  st::manual_seed(120);
  const TD x = st::randn<double>({3, 4}).requires_grad_(), y = st::randn<double>({3, 4}).requires_grad_();
  const TD out = f({x, y});
  CHECK(out.grad_fn_name() == "XYSquaredBackward");
  CHECK(st::gradcheck([&](const auto& t) { return st::eval(st::tanh(f({t[0], st::eval(t[1] * 2.0)}))); }, {x, y}));
  // Without grad the op records nothing.
  const TD plain = f({x.detach(), y.detach()});
  CHECK_FALSE(plain.requires_grad());
  // A backward that returns the wrong shape is reported.
  const st::FunctionOf<double> bad{[](const auto& in) { return in[0].clone(); },
                                   [](const auto&, const TD&, const TD&) { return std::vector<TD>{st::zeros<double>({2})}; },
                                   "Bad"};
  CHECK_THROWS_WITH(st::sum(bad({x})).backward(),
                    Catch::StartsWith("sinter: custom function 'Bad': the gradient of input 0 has shape [2]"));
}

TEST_CASE("a learnable-slope activation is one kernel forward and one backward", "[autograd][fusion]") {
  st::Tensor x = st::randn({64, 256}).requires_grad_(), beta = st::ones({256}).requires_grad_();
  const st::Tensor g = st::randn({64, 256});
  st::reset_counters();
  st::Tensor y = x * st::sigmoid(beta * x);
  CHECK(st::counters().kernels == 1);
  st::reset_counters();
  y.backward(g);
  CHECK(st::counters().kernels == 1);  // x's gradient and beta's folded gradient in the same pass
  CHECK(beta.grad().shape() == st::Shape{256});
}
