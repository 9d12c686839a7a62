// SPDX-License-Identifier: Apache-2.0
#include <support/reference.hpp>

namespace st = sinter;
using testing::TD;

TEST_CASE("gradients accumulate across backward calls and zero_grad resets them", "[autograd]") {
  TD x = st::from_vector<double>({1, 2, 3}).requires_grad_();
  TD y = st::sum(x * x);
  y.backward(true);
  CHECK(x.grad().to_vector() == std::vector<double>{2, 4, 6});
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<double>{4, 8, 12});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a graph used twice needs retain_graph", "[autograd][error]") {
  TD x = st::from_vector<double>({1, 2}).requires_grad_();
  TD y = st::sum(st::exp(x));
  y.backward();
  CHECK_THROWS_WITH(y.backward(), Catch::StartsWith("sinter: backward(): trying to backward through the graph a "
                                                    "second time") && Catch::Contains("retain_graph=true"));
}

TEST_CASE("backward errors read like PyTorch's", "[autograd][error]") {
  TD x = st::ones<double>({2, 2}).requires_grad_();
  TD y = x * 2.0;
  CHECK_THROWS_WITH(y.backward(), Catch::StartsWith("sinter: backward(): grad can be implicitly created only for "
                                                    "scalar outputs"));
  CHECK_THROWS_WITH(y.backward(st::ones<double>({3})), Catch::StartsWith("sinter: backward(): the gradient has shape [3]"));
  TD c = st::ones<double>({2});
  CHECK_THROWS_WITH(st::sum(c).backward(), Catch::StartsWith("sinter: backward(): the tensor does not require grad"));
  CHECK_THROWS_WITH(c.grad(), Catch::StartsWith("sinter: grad(): the tensor does not require grad"));
  CHECK_THROWS_WITH(y.grad(), Catch::StartsWith("sinter: grad(): the tensor is not a leaf"));
  CHECK_THROWS_WITH(x += 1.0, Catch::StartsWith("sinter: in-place write into a tensor while gradients are recorded"));
}

TEST_CASE("NoGradGuard and detach stop recording", "[autograd]") {
  TD x = st::ones<double>({3}).requires_grad_();
  {
    st::NoGradGuard guard;
    TD y = x * 2.0;
    CHECK_FALSE(y.requires_grad());
    x += 1.0;  // allowed: optimisers update parameters this way
  }
  CHECK(st::is_grad_enabled());
  TD z = x.detach() * 3.0;
  CHECK_FALSE(z.requires_grad());
  CHECK(x.to_vector() == std::vector<double>(3, 2.0));
  TD w = x * 3.0;
  CHECK(w.requires_grad());
  CHECK_FALSE(w.is_leaf());
}

TEST_CASE("gradients flow through views, copies and chains of statements", "[autograd][views]") {
  st::manual_seed(5);
  TD x = st::randn<double>({3, 4}).requires_grad_();
  const std::vector<testing::Fn> fns = {
      [](const auto& v) { return TD(st::exp(v[0].t()) * 2.0); },
      [](const auto& v) { return TD(st::tanh(v[0].slice(1, 1, 3))); },
      [](const auto& v) { return TD(v[0].reshape({4, 3}) * v[0].reshape({4, 3})); },
      [](const auto& v) { return TD(v[0].permute({1, 0}).contiguous() + v[0].t()); },
      [](const auto& v) { return TD(v[0][1] * v[0].select(1, 2).slice(0, 0, 1)); },
      [](const auto& v) {
        TD h = st::sigmoid(v[0]);  // a chain: the second statement reads the first's output twice
        return TD(h * h + st::log(h));
      },
      [](const auto& v) { return TD(v[0].unsqueeze(0).squeeze(0).clone() * v[0].flatten().reshape({3, 4})); },
  };
  for (std::size_t k = 0; k < fns.size(); ++k) {
    INFO("case " << k);
    CHECK(st::gradcheck(fns[k], {x}));
  }
}

TEST_CASE("a leaf's backward just adds the gradient", "[autograd]") {
  TD x = st::from_vector<double>({1, 2}).requires_grad_();
  x.backward(st::from_vector<double>({3, 4}));
  CHECK(x.grad().to_vector() == std::vector<double>{3, 4});
}

TEST_CASE("freeing the graph frees saved tensors", "[autograd][memory]") {
  std::weak_ptr<sinter::TensorImpl> watch;
  TD y;
  {
    TD x = st::ones<double>({4}).requires_grad_();
    TD h = x * 2.0;
    watch = h.impl();
    y = st::sum(h * h);
  }
  CHECK_FALSE(watch.expired());  // the tape keeps h alive
  y.backward();
  CHECK(watch.expired());  // released after backward without retain_graph
}

TEST_CASE("statement nodes are named after their root op, as PyTorch names them", "[autograd]") {
  TD x = st::randn<double>({3, 4}).requires_grad_(), b = st::randn<double>({4}).requires_grad_();
  CHECK(TD(st::leaky_relu(x * b, 0.1)).grad_fn_name() == "LeakyReluBackward");
  CHECK(TD(st::log1p(st::abs(x))).grad_fn_name() == "Log1pBackward");
  CHECK(TD(st::eval(x + 1.0) * 1.0).grad_fn_name() == "MulBackward");
  CHECK(st::sum(x * b).grad_fn_name() == "SumBackward");
  CHECK(st::mean(x, {1}).grad_fn_name() == "MeanBackward");
  CHECK(st::amax(x - b, {0}).grad_fn_name() == "AmaxBackward");
  CHECK(st::logsumexp(x, {1}).grad_fn_name() == "LogsumexpBackward");
  // A reduction's node keeps its expression and saved tensors until backward, then releases both.
  std::weak_ptr<sinter::TensorImpl> saved_input;
  TD m;
  {
    TD h = x * 3.0;
    saved_input = h.impl();
    m = st::amax(h + b, {1});
  }
  CHECK_FALSE(saved_input.expired());
  st::sum(m).backward();
  CHECK(saved_input.expired());
}
