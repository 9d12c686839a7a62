// SPDX-License-Identifier: Apache-2.0
// Numerical stability without a peer at hand: inputs of magnitude 1e4 and -inf masks give the finite, exact answers
// that the stable formulas promise, in float and double. (tests/reference/test_vs_libtorch.cpp checks the same ops,
// and the domain edges of log, sqrt and pow, against libtorch itself.)
#include <limits>

#include <support/reference.hpp>
#include <sinter/nn.hpp>

namespace st = sinter;
namespace F = sinter::nn::functional;

namespace {
template <class T>
void check_all_finite(const st::TensorOf<T>& t) {
  for (auto v : t.to_vector()) CHECK(std::isfinite(v));
}
template <class T>
void check_values(const st::TensorOf<T>& t, const std::vector<double>& want, double tol) {
  const auto v = t.to_vector();
  REQUIRE(v.size() == want.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    INFO("element " << i);
    CHECK(v[i] == Approx(want[i]).margin(tol).epsilon(tol));
  }
}
}  // namespace

TEMPLATE_TEST_CASE("softmax, log_softmax and logsumexp are exact at magnitude 1e4", "[ops][stability]", float, double) {
  using T = TestType;
  st::TensorOf<T> x = st::from_vector<T>({T(1e4), 0, T(-1e4), T(1e4), T(1e4), T(-1e4)}, st::Shape{2, 3}).requires_grad_();
  const st::TensorOf<T> p = st::softmax(x, 1);
  check_values(p, {1, 0, 0, 0.5, 0.5, 0}, 1e-6);
  st::sum(p * st::from_vector<T>({1, 2, 3, 4, 5, 6}, st::Shape{2, 3})).backward();
  check_all_finite(x.grad());
  check_values(x.grad(), {0, 0, 0, -0.25, 0.25, 0}, 1e-6);

  st::TensorOf<T> y = x.detach().requires_grad_();
  const st::TensorOf<T> lp = st::log_softmax(y, 1);
  check_values(lp, {0, -1e4, -2e4, -std::log(2.0), -std::log(2.0), -2e4 - std::log(2.0)}, 1e-6);
  st::sum(lp).backward();
  check_values(y.grad(), {-2, 1, 1, -0.5, -0.5, 1}, 1e-6);

  st::TensorOf<T> z = x.detach().requires_grad_();
  const st::TensorOf<T> lse = st::logsumexp(z, {1});
  check_values(lse, {1e4, 1e4 + std::log(2.0)}, 1e-6);
  st::sum(lse).backward();
  // The gradient is exp(x - lse) through the rounded result, as in PyTorch: in float, lse = 10000.693 carries an error
  // of 2e-4, so 0.5 comes out as 0.49989.
  check_values(z.grad(), {1, 0, 0, 0.5, 0.5, 0}, sizeof(T) == 4 ? 1e-3 : 1e-9);
}

TEMPLATE_TEST_CASE("masks of -inf drop out of softmax and logsumexp with zero gradient", "[ops][stability]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity();
  st::TensorOf<T> x = st::from_vector<T>({0, -inf, std::log(T(3)), -inf}, st::Shape{1, 4}).requires_grad_();
  const st::TensorOf<T> p = st::softmax(x, 1);
  check_values(p, {0.25, 0, 0.75, 0}, 1e-6);
  st::sum(p * st::from_vector<T>({1, 5, 3, 7}, st::Shape{1, 4})).backward();
  check_values(x.grad(), {0.25 * (1 - 2.5), 0, 0.75 * (3 - 2.5), 0}, 1e-6);

  st::TensorOf<T> y = x.detach().requires_grad_();
  const st::TensorOf<T> lse = st::logsumexp(y, {1});
  check_values(lse, {std::log(4.0)}, 1e-6);
  st::sum(lse).backward();
  check_values(y.grad(), {0.25, 0, 0.75, 0}, 1e-6);
  // A row that is entirely masked has log-sum-exp -inf (PyTorch's answer), not NaN.
  const st::TensorOf<T> all = st::full<T>({2}, -inf);
  CHECK(st::logsumexp(all, {0}).item() == -inf);
}

TEMPLATE_TEST_CASE("sigmoid, softplus, silu, cross_entropy and BCE with logits stay finite at magnitude 1e4",
                   "[ops][stability]", float, double) {
  using T = TestType;
  st::TensorOf<T> z = st::from_vector<T>({T(1e4), T(-1e4)}).requires_grad_();
  const st::TensorOf<T> s = st::sigmoid(z);
  check_values(s, {1, 0}, 1e-7);
  st::sum(s).backward();
  check_values(z.grad(), {0, 0}, 1e-7);
  z.grad().zero_();
  const st::TensorOf<T> sp = st::softplus(z);
  check_values(sp, {1e4, 0}, 1e-7);
  st::sum(sp).backward();
  check_values(z.grad(), {1, 0}, 1e-7);
  z.grad().zero_();
  const st::TensorOf<T> si = st::silu(z);
  check_values(si, {1e4, 0}, 1e-7);
  st::sum(si).backward();
  check_values(z.grad(), {1, 0}, 1e-7);

  st::TensorOf<T> logits = st::from_vector<T>({T(1e4), 0, T(-1e4), T(-1e4), T(1e4), 0}, st::Shape{2, 3}).requires_grad_();
  const auto target = st::from_vector<std::int64_t>({2, 1}, st::Shape{2});
  const st::TensorOf<T> ce = F::cross_entropy(logits, target);
  check_values(ce, {1e4}, 1e-6);  // (2e4 + 0) / 2
  ce.backward();
  check_values(logits.grad(), {0.5, 0, -0.5, 0, 0, 0}, 1e-6);

  // A masked (-inf) logit in a row: the loss stays finite and the masked class gets no gradient.
  const T inf = std::numeric_limits<T>::infinity();
  st::TensorOf<T> masked = st::from_vector<T>({0, -inf, std::log(T(3))}, st::Shape{1, 3}).requires_grad_();
  const st::TensorOf<T> ce_masked = F::cross_entropy(masked, st::from_vector<std::int64_t>({2}, st::Shape{1}));
  check_values(ce_masked, {std::log(4.0 / 3.0)}, 1e-6);
  ce_masked.backward();
  check_values(masked.grad(), {0.25, 0, -0.25}, 1e-6);

  st::TensorOf<T> x = st::from_vector<T>({T(1e4), T(-1e4), T(1e4), T(-1e4)}).requires_grad_();
  const st::TensorOf<T> bce = F::binary_cross_entropy_with_logits(x, st::from_vector<T>({0, 1, 1, 0}),
                                                                   sinter::nn::Reduction::None);
  check_values(bce, {1e4, 1e4, 0, 0}, 1e-6);
  st::sum(bce).backward();
  check_values(x.grad(), {1, -1, 0, 0}, 1e-6);
}
