// SPDX-License-Identifier: Apache-2.0
// sinter against libtorch (Debian's libtorch-dev, the peer, never a dependency of sinter): the same inputs through
// both libraries, forward values and gradients compared. Built only when libtorch is installed (ctest label
// `libtorch`).
#include <torch/torch.h>
// libtorch brings glog, whose CHECK aborts instead of reporting; Catch's CHECK must win.
#undef CHECK
#include <catch2/catch.hpp>

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

// ---- optimisers: several steps from the same start, the same gradients, compared to 1e-6 relative ----------------
#include <sinter/optim.hpp>

namespace {
/// Runs `steps` updates of a sinter optimiser and a libtorch one on the same parameters and gradient sequence.
template <class MakeOurs, class MakeTheirs>
void compare_optimizer(MakeOurs make_ours, MakeTheirs make_theirs, int steps = 6) {
  st::manual_seed(70);
  st::Tensor p = st::randn({5, 7}).requires_grad_();
  st::Tensor q = st::randn({7}).requires_grad_();
  auto tp = to_torch(p), tq = to_torch(q);
  auto ours = make_ours(std::vector<st::Tensor>{p, q});
  auto theirs = make_theirs(std::vector<torch::Tensor>{tp, tq});
  for (int s = 0; s < steps; ++s) {
    const st::Tensor gp = st::randn({5, 7}), gq = st::randn({7});
    p.impl()->grad = gp.clone().impl();
    q.impl()->grad = gq.clone().impl();
    tp.mutable_grad() = to_torch(gp);
    tq.mutable_grad() = to_torch(gq);
    ours->step();
    theirs->step();
  }
  check_close(p.detach(), tp.detach(), 1e-6, 1e-6);
  check_close(q.detach(), tq.detach(), 1e-6, 1e-6);
}
}  // namespace

TEST_CASE("optimisers follow libtorch's updates step for step", "[libtorch][optim]") {
  namespace so = sinter::optim;
  namespace to = torch::optim;
  using PV = std::vector<st::Tensor>;
  using TV = std::vector<torch::Tensor>;
  SECTION("SGD plain, momentum with dampening and weight decay, Nesterov") {
    compare_optimizer([](PV p) { return std::make_unique<so::SGD>(p, so::SGDOptions(0.1)); },
                      [](TV p) { return std::make_unique<to::SGD>(p, to::SGDOptions(0.1)); });
    compare_optimizer(
        [](PV p) { return std::make_unique<so::SGD>(p, so::SGDOptions(0.05).momentum(0.9).dampening(0.1).weight_decay(0.01)); },
        [](TV p) { return std::make_unique<to::SGD>(p, to::SGDOptions(0.05).momentum(0.9).dampening(0.1).weight_decay(0.01)); });
    compare_optimizer(
        [](PV p) { return std::make_unique<so::SGD>(p, so::SGDOptions(0.05).momentum(0.8).nesterov(true)); },
        [](TV p) { return std::make_unique<to::SGD>(p, to::SGDOptions(0.05).momentum(0.8).nesterov(true)); });
  }
  SECTION("Adam, Adam with amsgrad and L2 decay, AdamW") {
    compare_optimizer([](PV p) { return std::make_unique<so::Adam>(p, so::AdamOptions(0.01)); },
                      [](TV p) { return std::make_unique<to::Adam>(p, to::AdamOptions(0.01)); });
    compare_optimizer(
        [](PV p) { return std::make_unique<so::Adam>(p, so::AdamOptions(0.01).amsgrad(true).weight_decay(0.1).betas(0.8, 0.99)); },
        [](TV p) {
          return std::make_unique<to::Adam>(p, to::AdamOptions(0.01).amsgrad(true).weight_decay(0.1).betas({0.8, 0.99}));
        });
    compare_optimizer([](PV p) { return std::make_unique<so::AdamW>(p, so::AdamWOptions(0.01)); },
                      [](TV p) { return std::make_unique<to::AdamW>(p, to::AdamWOptions(0.01)); });
  }
  SECTION("RMSprop plain and centered with momentum, Adagrad with lr_decay") {
    compare_optimizer([](PV p) { return std::make_unique<so::RMSprop>(p, so::RMSpropOptions(0.01)); },
                      [](TV p) { return std::make_unique<to::RMSprop>(p, to::RMSpropOptions(0.01)); });
    compare_optimizer(
        [](PV p) { return std::make_unique<so::RMSprop>(p, so::RMSpropOptions(0.01).centered(true).momentum(0.5).weight_decay(0.01)); },
        [](TV p) {
          return std::make_unique<to::RMSprop>(p, to::RMSpropOptions(0.01).centered(true).momentum(0.5).weight_decay(0.01));
        });
    compare_optimizer(
        [](PV p) { return std::make_unique<so::Adagrad>(p, so::AdagradOptions(0.1).lr_decay(0.01).initial_accumulator_value(0.1)); },
        [](TV p) {
          return std::make_unique<to::Adagrad>(p, to::AdagradOptions(0.1).lr_decay(0.01).initial_accumulator_value(0.1));
        });
  }
}

// ---- layers and losses of the training issue ----------------------------------------------------------------------
#include <sinter/nn.hpp>

TEST_CASE("conv2d, pooling, batch_norm and cross_entropy agree with libtorch, gradients included", "[libtorch][nn]") {
  namespace F = sinter::nn::functional;
  using T = double;
  st::manual_seed(80);
  const st::TensorOf<T> x = st::randn<T>({3, 4, 9, 8}).requires_grad_();
  const st::TensorOf<T> w = st::randn<T>({6, 2, 3, 3}).requires_grad_(), b = st::randn<T>({6}).requires_grad_();
  auto tx = to_torch(x), tw = to_torch(w), tb = to_torch(b);
  const st::TensorOf<T> y = F::conv2d(x, w, b, {2, 1}, {1, 2}, {1, 2}, 2);
  auto ty = torch::conv2d(tx, tw, tb, {2, 1}, {1, 2}, {1, 2}, 2);
  check_close(y, ty, 1e-12, 1e-12);
  const st::TensorOf<T> p = F::max_pool2d(y, {2, 2}, std::array<std::int64_t, 2>{2, 1}, {1, 0}, true);
  auto tp = torch::max_pool2d(ty, {2, 2}, {2, 1}, {1, 0}, {1, 1}, true);
  check_close(p, tp, 1e-12, 1e-12);
  const st::TensorOf<T> a = F::avg_pool2d(p, {2, 2}, std::nullopt, {1, 1}, false, false);
  auto ta = torch::avg_pool2d(tp, {2, 2}, {2, 2}, {1, 1}, false, false);
  check_close(a, ta, 1e-12, 1e-12);
  st::TensorOf<T> rm = st::zeros<T>({6}), rv = st::ones<T>({6});
  auto trm = torch::zeros({6}, torch::kFloat64), trv = torch::ones({6}, torch::kFloat64);
  const st::TensorOf<T> gamma = st::randn<T>({6}).requires_grad_(), beta = st::randn<T>({6}).requires_grad_();
  auto tgamma = to_torch(gamma), tbeta = to_torch(beta);
  const st::TensorOf<T> n = F::batch_norm(a, rm, rv, gamma, beta, true, 0.1, 1e-5);
  auto tn = torch::batch_norm(ta, tgamma, tbeta, trm, trv, true, 0.1, 1e-5, false);
  check_close(n, tn, 1e-10, 1e-10);
  check_close(rm, trm, 1e-12, 1e-12);
  check_close(rv, trv, 1e-12, 1e-12);
  const st::TensorOf<T> ad = F::adaptive_avg_pool2d(n, {2, 3});
  auto tad = torch::adaptive_avg_pool2d(tn, {2, 3});
  check_close(ad, tad, 1e-12, 1e-12);
  const st::TensorOf<T> logits = ad.flatten(1);
  const st::LongTensor target = st::from_vector<std::int64_t>({3, -100, 35});
  const st::TensorOf<T> loss = F::cross_entropy(logits, target, F::CrossEntropyOptions().label_smoothing(0.2));
  auto tloss = torch::nn::functional::cross_entropy(
      logits.dim() ? torch::flatten(tad, 1) : tad, torch::tensor({3, -100, 35}, torch::kLong),
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(0.2));
  check_close(loss, tloss, 1e-12, 1e-12);
  loss.backward();
  tloss.backward();
  check_close(x.grad(), tx.grad(), 1e-9, 1e-10);
  check_close(w.grad(), tw.grad(), 1e-9, 1e-10);
  check_close(b.grad(), tb.grad(), 1e-9, 1e-10);
  check_close(gamma.grad(), tgamma.grad(), 1e-9, 1e-10);
  check_close(beta.grad(), tbeta.grad(), 1e-9, 1e-10);
}

TEST_CASE("a depthwise-separable block (depthwise 3x3, then 1x1) agrees with libtorch, gradients included",
          "[libtorch][nn]") {
  namespace F = sinter::nn::functional;
  using T = double;
  st::manual_seed(81);
  const st::TensorOf<T> x = st::randn<T>({2, 4, 11, 10}).requires_grad_();
  const st::TensorOf<T> wd = st::randn<T>({8, 1, 3, 3}).requires_grad_(), bd = st::randn<T>({8}).requires_grad_();
  const st::TensorOf<T> wp = st::randn<T>({5, 8, 1, 1}).requires_grad_(), bp = st::randn<T>({5}).requires_grad_();
  auto tx = to_torch(x), twd = to_torch(wd), tbd = to_torch(bd), twp = to_torch(wp), tbp = to_torch(bp);
  // Depthwise with two outputs per channel, stride 2 and padding 1 (the direct CPU path), then pointwise (no columns).
  const st::TensorOf<T> h = F::conv2d(x, wd, bd, {2, 2}, {1, 1}, {1, 1}, 4);
  auto th = torch::conv2d(tx, twd, tbd, {2, 2}, {1, 1}, {1, 1}, 4);
  check_close(h, th, 1e-12, 1e-12);
  const st::TensorOf<T> r = relu(h);
  const st::TensorOf<T> y = F::conv2d(r, wp, bp);
  auto ty = torch::conv2d(torch::relu(th), twp, tbp);
  check_close(y, ty, 1e-12, 1e-12);
  const st::TensorOf<T> loss = st::sum(y * y);
  auto tloss = (ty * ty).sum();
  loss.backward();
  tloss.backward();
  check_close(x.grad(), tx.grad(), 1e-9, 1e-10);
  check_close(wd.grad(), twd.grad(), 1e-9, 1e-10);
  check_close(bd.grad(), tbd.grad(), 1e-9, 1e-10);
  check_close(wp.grad(), twp.grad(), 1e-9, 1e-10);
  check_close(bp.grad(), tbp.grad(), 1e-9, 1e-10);
}

namespace {
/// Equal as PyTorch's results are compared at domain edges: NaN matches NaN, infinities match by sign, and finite
/// values agree to rtol.
template <class T>
void check_same_specials(const st::TensorOf<T>& ours, const torch::Tensor& theirs, double rtol) {
  const auto c = theirs.contiguous().to(torch_dtype<T>());
  const auto v = ours.to_vector();
  const T* p = c.template data_ptr<T>();
  REQUIRE(static_cast<std::int64_t>(v.size()) == c.numel());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double a = v[i], b = p[i];
    INFO("element " << i << ": sinter " << a << ", libtorch " << b);
    if (std::isnan(b)) CHECK(std::isnan(a));
    else if (std::isinf(b)) CHECK(a == b);
    else CHECK(std::abs(a - b) <= rtol * (1 + std::abs(b)));
  }
}
}  // namespace

TEMPLATE_TEST_CASE("log, sqrt, rsqrt, log1p and pow give PyTorch's NaN and inf at their domain edges, values and "
                   "gradients", "[libtorch][stability]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const std::vector<T> edge = {-2, -1, T(-0.0), 0, std::numeric_limits<T>::denorm_min(), T(0.5), 1, 2, inf, -inf, nan};
  using Op = std::function<st::TensorOf<T>(const st::TensorOf<T>&)>;
  using TorchOp = std::function<torch::Tensor(const torch::Tensor&)>;
  const std::vector<std::tuple<const char*, Op, TorchOp>> ops = {
      {"log", [](const auto& x) { return st::TensorOf<T>(st::log(x)); }, [](const auto& x) { return torch::log(x); }},
      {"sqrt", [](const auto& x) { return st::TensorOf<T>(st::sqrt(x)); }, [](const auto& x) { return torch::sqrt(x); }},
      {"rsqrt", [](const auto& x) { return st::TensorOf<T>(st::rsqrt(x)); }, [](const auto& x) { return torch::rsqrt(x); }},
      {"log1p", [](const auto& x) { return st::TensorOf<T>(st::log1p(x)); }, [](const auto& x) { return torch::log1p(x); }},
      {"pow 2", [](const auto& x) { return st::TensorOf<T>(st::pow(x, T(2))); }, [](const auto& x) { return torch::pow(x, 2.0); }},
      {"pow 0.5", [](const auto& x) { return st::TensorOf<T>(st::pow(x, T(0.5))); }, [](const auto& x) { return torch::pow(x, 0.5); }},
      {"pow 0", [](const auto& x) { return st::TensorOf<T>(st::pow(x, T(0))); }, [](const auto& x) { return torch::pow(x, 0.0); }},
      {"pow -1", [](const auto& x) { return st::TensorOf<T>(st::pow(x, T(-1))); }, [](const auto& x) { return torch::pow(x, -1.0); }},
      {"pow -1.5", [](const auto& x) { return st::TensorOf<T>(st::pow(x, T(-1.5))); }, [](const auto& x) { return torch::pow(x, -1.5); }},
      {"2 pow x", [](const auto& x) { return st::TensorOf<T>(st::pow(T(2), x)); }, [](const auto& x) { return torch::pow(2.0, x); }},
  };
  for (const auto& [name, op, top] : ops) {
    INFO(name);
    const st::TensorOf<T> x = st::from_vector<T>(edge).requires_grad_();
    auto tx = to_torch(x);
    const st::TensorOf<T> y = op(x);
    auto ty = top(tx);
    check_same_specials(y, ty, rtol<T>());
    y.backward(st::ones_like(y));
    ty.backward(torch::ones_like(ty));
    check_same_specials(x.grad(), tx.grad(), rtol<T>());
  }
  // pow(a, b) with both operands tensors: every pair of edge values, both gradients.
  std::vector<T> av, bv;
  for (T a : edge)
    for (T b : {T(-1), T(0), T(0.5), T(2), T(3)}) av.push_back(a), bv.push_back(b);
  const st::TensorOf<T> a = st::from_vector<T>(av).requires_grad_(), b = st::from_vector<T>(bv).requires_grad_();
  auto ta = to_torch(a), tb = to_torch(b);
  const st::TensorOf<T> y = st::pow(a, b);
  auto ty = torch::pow(ta, tb);
  check_same_specials(y, ty, rtol<T>());
  y.backward(st::ones_like(y));
  ty.backward(torch::ones_like(ty));
  check_same_specials(a.grad(), ta.grad(), rtol<T>());
  check_same_specials(b.grad(), tb.grad(), rtol<T>());
}

TEMPLATE_TEST_CASE("softmax, log_softmax, logsumexp and the losses agree with libtorch at magnitude 1e4 and with -inf "
                   "masks", "[libtorch][stability]", float, double) {
  using T = TestType;
  const T inf = std::numeric_limits<T>::infinity();
  const st::TensorOf<T> x0 =
      st::from_vector<T>({T(1e4), 0, T(-1e4), T(5e3), T(-3e3), T(1e4), -inf, 0, T(2), -inf, T(-1e4), T(1e4)},
                         st::Shape{3, 4});
  for (int dim : {0, 1}) {
    INFO("dim " << dim);
    const st::TensorOf<T> x = x0.clone().requires_grad_();
    auto tx = to_torch(x);
    const st::TensorOf<T> g = st::from_vector<T>({1, -2, 3, 0.5, -1, 2, 1, 1, -3, 2, 0.25, 1}, st::Shape{3, 4});
    auto tg = to_torch(g);
    for (int which = 0; which < 3; ++which) {
      if (x.grad().defined()) x.grad().zero_();
      if (tx.grad().defined()) tx.grad().zero_();
      st::TensorOf<T> y;
      torch::Tensor ty;
      if (which == 0) y = st::softmax(x, dim), ty = torch::softmax(tx, dim);
      if (which == 1) y = st::log_softmax(x, dim), ty = torch::log_softmax(tx, dim);
      if (which == 2) y = st::logsumexp(x, {dim}, true), ty = torch::logsumexp(tx, {dim}, true);
      INFO("op " << which);
      check_same_specials(y, ty, rtol<T>());
      const st::TensorOf<T> gy = which == 2 ? st::TensorOf<T>(st::ones_like(y)) : g;
      y.backward(gy);
      ty.backward(to_torch(gy));
      check_same_specials(x.grad(), tx.grad(), rtol<T>());
    }
  }
  // The element-wise activations and the losses on logits of magnitude 1e4.
  const st::TensorOf<T> z = st::from_vector<T>({T(1e4), T(-1e4), T(3e3), T(-3e3), T(25), T(-25)}).requires_grad_();
  auto tz = to_torch(z);
  const st::TensorOf<T> t01 = st::from_vector<T>({0, 1, 1, 0, 1, 0});
  const std::vector<std::pair<st::TensorOf<T>, torch::Tensor>> outs = {
      {st::sigmoid(z), torch::sigmoid(tz)},
      {st::softplus(z), torch::nn::functional::softplus(tz)},
      {st::tanh(z), torch::tanh(tz)},
      {st::silu(z), torch::silu(tz)},
      {st::nn::F::binary_cross_entropy_with_logits(z, t01, st::nn::Reduction::None),
       torch::binary_cross_entropy_with_logits(tz, to_torch(t01), {}, {}, at::Reduction::None)},
  };
  for (std::size_t k = 0; k < outs.size(); ++k) {
    INFO("activation " << k);
    check_same_specials(outs[k].first, outs[k].second, rtol<T>());
    st::sum(outs[k].first * T(1)).backward();
    outs[k].second.sum().backward();
    check_same_specials(z.grad(), tz.grad(), rtol<T>());
    z.grad().zero_();
    tz.grad().zero_();
  }
  const st::TensorOf<T> logits = x0.slice(0, 0, 2).slice(1, 0, 3).clone().requires_grad_();  // [[1e4, 0, -1e4], ...]
  auto tl = to_torch(logits);
  const auto target = st::from_vector<std::int64_t>({2, 0}, st::Shape{2});
  const st::TensorOf<T> ce = st::nn::F::cross_entropy(logits, target);
  auto tce = torch::nn::functional::cross_entropy(tl, torch::tensor({2, 0}, torch::kInt64));
  check_same_specials(ce, tce, rtol<T>());
  ce.backward();
  tce.backward();
  check_same_specials(logits.grad(), tl.grad(), rtol<T>());
}
