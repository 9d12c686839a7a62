// SPDX-License-Identifier: Apache-2.0
// Optimiser mechanics (kernel counts, groups, zero_grad), schedules against their closed forms, clipping.
// Step-by-step agreement with libtorch's optimisers is in tests/reference/test_vs_libtorch.cpp.
#include <support/reference.hpp>

#include <numbers>

#include <sinter/nn.hpp>
#include <sinter/optim.hpp>

namespace st = sinter;
namespace optim = sinter::optim;

namespace {
void set_grad(const st::Tensor& p, float v) { p.impl()->grad = st::full(p.shape(), v).impl(); }
}  // namespace

TEST_CASE("every optimiser step is one kernel per parameter tensor", "[optim]") {
  st::nn::Linear fc(32, 16);
  auto params = fc.parameters();
  std::vector<std::unique_ptr<optim::Optimizer>> opts;
  opts.push_back(std::make_unique<optim::SGD>(params, optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4)));
  opts.push_back(std::make_unique<optim::Adam>(params, optim::AdamOptions(1e-3).amsgrad(true)));
  opts.push_back(std::make_unique<optim::AdamW>(params));
  opts.push_back(std::make_unique<optim::RMSprop>(params, optim::RMSpropOptions().centered(true).momentum(0.9)));
  opts.push_back(std::make_unique<optim::Adagrad>(params));
  for (auto& o : opts) {
    for (auto& p : params) set_grad(p, 0.5f);
    o->step();  // the first step creates the state
    st::reset_counters();
    o->step();
    CHECK(st::counters().kernels == params.size());
    CHECK(st::counters().allocations == 0);
  }
}

TEST_CASE("SGD's update, parameter groups and zero_grad behave like PyTorch", "[optim]") {
  st::Tensor a = st::ones({3}).requires_grad_(), b = st::ones({2}).requires_grad_();
  optim::SGD sgd({a}, optim::SGDOptions(0.1).momentum(0.5));
  sgd.add_param_group({b}, optim::SGDOptions(1.0));
  CHECK(sgd.num_param_groups() == 2);
  set_grad(a, 1.0f);
  set_grad(b, 1.0f);
  sgd.step();  // buf = g; a -= 0.1 * 1
  CHECK(a.to_vector()[0] == Approx(0.9f));
  CHECK(b.to_vector()[0] == Approx(0.0f));
  sgd.step();  // buf = 0.5 * 1 + 1 = 1.5; a -= 0.15
  CHECK(a.to_vector()[0] == Approx(0.75f));
  sgd.zero_grad(false);  // set_to_none = false: the gradients stay, as zeros
  REQUIRE(a.grad().defined());
  CHECK(a.grad().to_vector() == std::vector<float>{0, 0, 0});
  CHECK(b.grad().to_vector() == std::vector<float>{0, 0});
  sgd.zero_grad();
  CHECK_FALSE(a.grad().defined());
  sgd.step();  // no gradient: nothing moves
  CHECK(a.to_vector()[0] == Approx(0.75f));
  CHECK_THROWS_WITH(optim::SGD({a}, optim::SGDOptions(0.1).nesterov(true)),
                    Catch::StartsWith("sinter: SGD: Nesterov momentum requires a momentum and zero dampening"));
  CHECK_THROWS_WITH(sgd.add_param_group({a}), Catch::StartsWith("sinter: optimizer: some parameters appear in more"));
  CHECK_THROWS_WITH(optim::Adam({a}, optim::AdamOptions().betas(1.0, 0.9)),
                    Catch::StartsWith("sinter: Adam: betas must be in [0, 1)"));
  st::Tensor plain = st::ones({2});
  CHECK_THROWS_WITH(optim::SGD({plain}, 0.1), Catch::StartsWith("sinter: optimizer: every parameter must be a leaf"));
}

TEST_CASE("learning-rate schedules follow PyTorch's closed forms", "[optim][scheduler]") {
  st::Tensor p = st::ones({1}).requires_grad_();
  optim::SGD sgd({p}, 1.0);
  auto lrs = [&](optim::LRScheduler& s, int n) {
    std::vector<double> out{sgd.lr(0)};
    for (int i = 0; i < n; ++i) {
      s.step();
      out.push_back(sgd.lr(0));
    }
    return out;
  };
  {
    optim::StepLR s(sgd, 2, 0.5);
    const auto v = lrs(s, 4);
    CHECK(v == std::vector<double>{1.0, 1.0, 0.5, 0.5, 0.25});
  }
  sgd.set_lr(0, 1.0);
  {
    optim::ExponentialLR s(sgd, 0.5);
    const auto v = lrs(s, 3);
    CHECK(v == std::vector<double>{1.0, 0.5, 0.25, 0.125});
  }
  sgd.set_lr(0, 1.0);
  {
    optim::MultiStepLR s(sgd, {1, 3}, 0.1);
    const auto v = lrs(s, 3);
    CHECK(v[1] == Approx(0.1));
    CHECK(v[3] == Approx(0.01));
  }
  sgd.set_lr(0, 1.0);
  {
    optim::CosineAnnealingLR s(sgd, 4, 0.0);
    const auto v = lrs(s, 4);
    CHECK(v[2] == Approx(0.5));
    CHECK(v[4] == Approx(0.0).margin(1e-12));
  }
  sgd.set_lr(0, 1.0);
  {
    auto cos = std::make_shared<optim::CosineAnnealingLR>(sgd, 10);
    optim::LinearWarmup warm(sgd, 4, cos, 0.25);
    const auto v = lrs(warm, 5);
    CHECK(v[0] == Approx(0.25));
    CHECK(v[2] == Approx((0.25 + 0.75 * 0.5) * (1 + std::cos(std::numbers::pi * 0.2)) / 2));
    CHECK(v[5] == Approx((1 + std::cos(std::numbers::pi * 0.5)) / 2));
  }
  {
    optim::OneCycleLR s(sgd, 0.1, 100);
    CHECK(sgd.lr(0) == Approx(0.1 / 25));
    for (int i = 0; i < 29; ++i) s.step();
    CHECK(sgd.lr(0) == Approx(0.1));
    for (int i = 29; i < 99; ++i) s.step();
    CHECK(sgd.lr(0) == Approx(0.1 / 25 / 1e4));
  }
  sgd.set_lr(0, 1.0);
  {
    optim::ReduceLROnPlateau s(sgd, 0.5, 1);
    for (double m : {1.0, 0.9, 0.95, 0.95}) s.step(m);  // two epochs without improvement > patience 1
    CHECK(sgd.lr(0) == Approx(0.5));
  }
}

TEST_CASE("clip_grad_norm_ and clip_grad_value_", "[optim][clip]") {
  st::Tensor a = st::ones({4}).requires_grad_(), b = st::ones({5}).requires_grad_();
  set_grad(a, 3.0f);
  set_grad(b, 4.0f);
  const double norm = optim::clip_grad_norm_({a, b}, 1.0);
  CHECK(norm == Approx(std::sqrt(4 * 9.0 + 5 * 16.0)));
  double after = 0;
  for (const auto& p : {a, b})
    for (float g : p.grad().to_vector()) after += double(g) * g;
  CHECK(std::sqrt(after) == Approx(1.0).epsilon(1e-5));
  set_grad(a, 3.0f);
  CHECK(optim::clip_grad_norm_({a}, 10.0, INFINITY) == Approx(3.0));
  optim::clip_grad_value_({a}, 0.5);
  for (float g : a.grad().to_vector()) CHECK(g == 0.5f);
}
