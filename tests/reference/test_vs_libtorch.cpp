// SPDX-License-Identifier: Apache-2.0
// sinter against libtorch (Debian's libtorch-dev, the peer, never a dependency of sinter): the same inputs through
// both libraries, forward values and gradients compared. Built only when libtorch is installed (ctest label
// `libtorch`).
#include <catch2/catch.hpp>
#include <torch/torch.h>

#include <sinter/sinter.hpp>

namespace st = sinter;

namespace {

template <class T>
constexpr auto torch_dtype() {
  return std::is_same_v<T, float> ? torch::kFloat32 : torch::kFloat64;
}

/// A libtorch tensor with the same values as t (a copy, requiring grad when t does).
template <class T>
torch::Tensor to_torch(const st::TensorOf<T>& t) {
  std::vector<std::int64_t> shape(t.shape().begin(), t.shape().end());
  auto v = t.to_vector();
  auto out = torch::from_blob(v.data(), shape, torch::TensorOptions().dtype(torch_dtype<T>())).clone();
  return t.requires_grad() ? out.requires_grad_(true) : out;
}

template <class T>
void check_close(const st::TensorOf<T>& ours, const torch::Tensor& theirs, double rtol, double atol) {
  REQUIRE(theirs.defined());
  const auto c = theirs.contiguous().to(torch_dtype<T>());
  REQUIRE(std::vector<std::int64_t>(ours.shape().begin(), ours.shape().end()) == c.sizes().vec());
  const auto v = ours.to_vector();
  const T* p = c.template data_ptr<T>();
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double a = v[i], b = p[i];
    INFO("element " << i << ": sinter " << a << ", libtorch " << b);
    CHECK(std::abs(a - b) <= atol + rtol * std::abs(b));
  }
}

template <class T>
constexpr double rtol() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

}  // namespace

TEMPLATE_TEST_CASE("matmul forward and gradients agree with libtorch", "[libtorch][matmul]", float, double) {
  using T = TestType;
  st::manual_seed(61);
  const std::vector<std::pair<st::Shape, st::Shape>> cases = {
      {{7}, {7}}, {{5}, {5, 3}}, {{4, 5}, {5}}, {{33, 70}, {70, 19}}, {{2, 3, 4, 6}, {3, 6, 5}}, {{1, 8, 9}, {4, 9, 2}}};
  for (const auto& [sa, sb] : cases) {
    const st::TensorOf<T> a = st::randn<T>(sa).requires_grad_(), b = st::randn<T>(sb).requires_grad_();
    auto ta = to_torch(a), tb = to_torch(b);
    const st::TensorOf<T> y = st::matmul(a, b);
    auto ty = torch::matmul(ta, tb);
    check_close(y, ty, rtol<T>() * 10, rtol<T>() * 10);
    const st::TensorOf<T> g = st::randn<T>(y.shape());
    y.backward(g);
    ty.backward(to_torch(g));
    check_close(a.grad(), ta.grad(), rtol<T>() * 10, rtol<T>() * 10);
    check_close(b.grad(), tb.grad(), rtol<T>() * 10, rtol<T>() * 10);
  }
}

TEMPLATE_TEST_CASE("softmax, log_softmax, logsumexp and gelu agree with libtorch", "[libtorch][ops]", float, double) {
  using T = TestType;
  st::manual_seed(62);
  for (int dim : {0, 1, -1}) {
    const st::TensorOf<T> x = st::eval(st::randn<T>({6, 9, 5}) * T(4)).requires_grad_();
    const st::TensorOf<T> g = st::randn<T>({6, 9, 5});
    auto tx = to_torch(x);
    auto tg = to_torch(g);
    {
      const st::TensorOf<T> y = st::softmax(x, dim);
      auto ty = torch::softmax(tx, dim);
      check_close(y, ty, rtol<T>(), rtol<T>());
      y.backward(g);
      ty.backward(tg);
      check_close(x.grad(), tx.grad(), rtol<T>() * 10, rtol<T>());
    }
    x.zero_grad();
    tx.mutable_grad() = torch::Tensor();
    {
      const st::TensorOf<T> y = st::log_softmax(x * T(2), dim);
      auto ty = torch::log_softmax(tx * 2, dim);
      check_close(y, ty, rtol<T>(), rtol<T>());
      y.backward(g);
      ty.backward(tg);
      check_close(x.grad(), tx.grad(), rtol<T>() * 10, rtol<T>() * 10);
    }
    x.zero_grad();
    tx.mutable_grad() = torch::Tensor();
    {
      const st::TensorOf<T> y = st::logsumexp(x, {dim}, true);
      auto ty = torch::logsumexp(tx, {dim}, true);
      check_close(y, ty, rtol<T>(), rtol<T>());
      const st::TensorOf<T> gy = st::randn<T>(y.shape());
      y.backward(gy);
      ty.backward(to_torch(gy));
      check_close(x.grad(), tx.grad(), rtol<T>() * 10, rtol<T>());
    }
  }
  for (bool tanh_form : {false, true}) {
    const st::TensorOf<T> x = st::eval(st::randn<T>({1000}) * T(3)).requires_grad_();
    auto tx = to_torch(x);
    const st::TensorOf<T> y = tanh_form ? st::TensorOf<T>(st::gelu_tanh(x)) : st::TensorOf<T>(st::gelu(x));
    auto ty = torch::gelu(tx, tanh_form ? "tanh" : "none");
    check_close(y, ty, rtol<T>() * 10, rtol<T>() * 10);
    st::sum(y * y).backward();
    (ty * ty).sum().backward();
    check_close(x.grad(), tx.grad(), rtol<T>() * 100, rtol<T>() * 100);
  }
}

TEMPLATE_TEST_CASE("a 2-layer MLP's loss and every parameter gradient agree with libtorch", "[libtorch][mlp]", float,
                   double) {
  using T = TestType;
  st::manual_seed(63);
  const st::TensorOf<T> x = st::randn<T>({32, 20});
  const st::TensorOf<T> w1 = st::eval(st::randn<T>({20, 16}) * T(0.3)).requires_grad_(), b1 = st::randn<T>({16}).requires_grad_();
  const st::TensorOf<T> w2 = st::eval(st::randn<T>({16, 5}) * T(0.3)).requires_grad_(), b2 = st::randn<T>({5}).requires_grad_();
  const st::TensorOf<T> target = st::softmax(st::randn<T>({32, 5}), 1);  // soft labels
  auto tx = to_torch(x), tw1 = to_torch(w1), tb1 = to_torch(b1), tw2 = to_torch(w2), tb2 = to_torch(b2);
  auto tt = to_torch(target);

  const st::TensorOf<T> h = st::relu(st::matmul(x, w1) + b1);
  const st::TensorOf<T> logits = st::matmul(h, w2) + b2;
  const st::TensorOf<T> loss = -st::sum(target * st::log_softmax(logits, 1)) / T(32);
  auto th = torch::relu(torch::matmul(tx, tw1) + tb1);
  auto tlogits = torch::matmul(th, tw2) + tb2;
  auto tloss = -(tt * torch::log_softmax(tlogits, 1)).sum() / 32;
  check_close(loss, tloss, rtol<T>() * 10, rtol<T>());
  loss.backward();
  tloss.backward();
  check_close(w1.grad(), tw1.grad(), rtol<T>() * 100, rtol<T>() * 10);
  check_close(b1.grad(), tb1.grad(), rtol<T>() * 100, rtol<T>() * 10);
  check_close(w2.grad(), tw2.grad(), rtol<T>() * 100, rtol<T>() * 10);
  check_close(b2.grad(), tb2.grad(), rtol<T>() * 100, rtol<T>() * 10);
}
