// SPDX-License-Identifier: Apache-2.0
// Layer ops in double against gradcheck and hand-written references; kernel counts of the fused losses. conv2d has
// its own file (test_conv.cpp).
#include <limits>
#include <random>

#include <support/reference.hpp>

#include <sinter/nn.hpp>

namespace st = sinter;
namespace nn = sinter::nn;
namespace F = sinter::nn::functional;
using testing::TD;
using A2 = std::array<std::int64_t, 2>;

TEST_CASE("pooling matches references and passes gradcheck", "[nn][pool]") {
  const TD x = st::arange<double>(16).reshape({1, 1, 4, 4});
  CHECK(F::max_pool2d(x, {2, 2}).to_vector() == std::vector<double>{5, 7, 13, 15});
  CHECK(F::avg_pool2d(x, {2, 2}).to_vector() == std::vector<double>{2.5, 4.5, 10.5, 12.5});
  CHECK(F::adaptive_avg_pool2d(x, {1, 1}).to_vector() == std::vector<double>{7.5});
  CHECK(F::max_pool2d(x, {3, 3}, A2{2, 2}, {1, 1}).to_vector() == std::vector<double>{5, 7, 13, 15});
  const TD nan = st::from_vector<double>({1, NAN, 3, 4}, st::Shape{1, 1, 2, 2});
  CHECK(std::isnan(F::max_pool2d(nan, {2, 2}).item()));
  st::manual_seed(101);
  const TD r = st::randn<double>({2, 3, 7, 6}).requires_grad_();
  CHECK(st::gradcheck([](const auto& t) { return F::max_pool2d(t[0], {2, 2}); }, {r}));
  CHECK(st::gradcheck([](const auto& t) { return F::max_pool2d(t[0], {3, 2}, A2{2, 1}, {1, 1}, true); }, {r}));
  CHECK(st::gradcheck([](const auto& t) { return F::avg_pool2d(t[0], {3, 3}, A2{2, 2}, {1, 1}, false, false); }, {r}));
  CHECK(st::gradcheck([](const auto& t) { return F::adaptive_avg_pool2d(t[0], {4, 4}); }, {r}));
  CHECK_THROWS_WITH(F::max_pool2d(r, {2, 2}, std::nullopt, {2, 2}),
                    Catch::StartsWith("sinter: max_pool2d: pad should be at most half of the kernel size"));
}

TEMPLATE_TEST_CASE("max_pool2d(2) picks PyTorch's element on ties and NaN, on planes of every width", "[nn][pool]",
                   float, double) {
  using T = TestType;
  // Values from a small set (many ties) with NaNs sprinkled in; widths below, at and above a vector of lanes.
  for (auto [H, W] : {std::array<std::int64_t, 2>{2, 2}, {10, 10}, {28, 28}, {9, 7}, {6, 40}, {5, 33}}) {
    INFO(H << "x" << W);
    st::manual_seed(static_cast<std::uint64_t>(H * 100 + W));
    std::vector<T> v = st::randint<T>(0, 4, {3 * H * W}).to_vector();
    const std::vector<std::int64_t> picks = st::randint(0, 3 * H * W, {3 * H * W / 9 + 1}).to_vector();
    for (std::int64_t i : picks) v[static_cast<std::size_t>(i)] = std::numeric_limits<T>::quiet_NaN();
    const st::TensorOf<T> x = st::from_vector<T>(v, st::Shape{1, 3, H, W}).requires_grad_();
    const st::TensorOf<T> y = F::max_pool2d(x, {2, 2});
    const std::int64_t OH = H / 2, OW = W / 2;
    REQUIRE(y.shape() == st::Shape{1, 3, OH, OW});
    // The gradient of sum(y * k) puts k at each output's argmax: the chosen element, not only its value.
    const st::TensorOf<T> k = st::arange<T>(3 * OH * OW).reshape({1, 3, OH, OW}) + T(1);
    st::TensorOf<T>(y * k).backward(st::ones<T>(y.shape()));
    const auto got = y.to_vector(), dx = x.grad().to_vector();
    std::vector<T> want_dx(v.size(), T(0));
    int bad = 0;
    for (std::int64_t q = 0; q < 3; ++q)
      for (std::int64_t oh = 0; oh < OH; ++oh)
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          std::int64_t arg = q * H * W + 2 * oh * W + 2 * ow;
          for (std::int64_t c : {std::int64_t{1}, W, W + 1}) {  // row-major order; the first NaN sticks
            const std::int64_t at = q * H * W + 2 * oh * W + 2 * ow + c;
            const T best = v[static_cast<std::size_t>(arg)], cand = v[static_cast<std::size_t>(at)];
            if (best == best && (cand > best || cand != cand)) arg = at;
          }
          const std::size_t out = static_cast<std::size_t>((q * OH + oh) * OW + ow);
          const T want = v[static_cast<std::size_t>(arg)];
          if (!(got[out] == want || (got[out] != got[out] && want != want)) && ++bad <= 3)
            FAIL_CHECK("output " << out << ": " << got[out] << " vs " << want);
          want_dx[static_cast<std::size_t>(arg)] += T(out + 1);
        }
    CHECK(bad == 0);
    CHECK(dx == want_dx);
  }
}

TEST_CASE("batch_norm normalises per channel, updates running stats and passes gradcheck", "[nn][norm]") {
  st::manual_seed(102);
  const TD x = (st::randn<double>({8, 3, 4, 5}) * 2.0 + 1.0);
  TD rm = st::zeros<double>({3}), rv = st::ones<double>({3});
  const TD y = F::batch_norm(x, rm, rv, {}, {}, true, 0.1, 0.0);
  const TD m = st::mean(y, {0, 2, 3});
  const TD v = st::mean(y * y, {0, 2, 3});
  for (double e : m.to_vector()) CHECK(std::abs(e) < 1e-12);
  for (double e : v.to_vector()) CHECK(e == Approx(1.0).epsilon(1e-10));
  const TD xm = st::mean(x, {0, 2, 3});
  const auto xmv = xm.to_vector(), rmv = rm.to_vector();
  for (int c = 0; c < 3; ++c) CHECK(rmv[c] == Approx(0.1 * xmv[c]).epsilon(1e-12));
  // Eval mode uses the running statistics.
  const TD ye = F::batch_norm(x, rm, rv, {}, {}, false, 0.1, 1e-5);
  testing::check_values(ye, [&](std::int64_t i) {
    const std::int64_t c = (i / 20) % 3;
    return (testing::at(x, x.shape(), i) - rmv[c]) / std::sqrt(rv.to_vector()[c] + 1e-5);
  }, 1e-12, 1e-12);
  const TD xg = x.detach().requires_grad_(), gw = st::randn<double>({3}).requires_grad_(),
           gb = st::randn<double>({3}).requires_grad_();
  CHECK(st::gradcheck([&](const auto& t) { return F::batch_norm(t[0], TD(), TD(), t[1], t[2], true); }, {xg, gw, gb}));
  CHECK(st::gradcheck([&](const auto& t) { return F::batch_norm(t[0], rm, rv, t[1], t[2], false); }, {xg, gw, gb}));
  const TD ln = st::randn<double>({4, 6}).requires_grad_(), lw = st::randn<double>({6}).requires_grad_();
  CHECK(st::gradcheck([&](const auto& t) { return F::layer_norm(t[0], {6}, t[1], TD()); }, {ln, lw}));
  CHECK_THROWS_WITH(F::batch_norm(st::randn<double>({1, 3}), rm, rv, TD(), TD(), true),
                    Catch::StartsWith("sinter: batch_norm: expected more than 1 value per channel when training"));
  nn::BatchNorm2d bn(3);
  CHECK_THROWS_WITH(bn(st::zeros({2, 3})), Catch::StartsWith("sinter: BatchNorm2d: expected a 4-D input"));
}

TEST_CASE("dropout is seeded, scales kept values and is the identity in eval", "[nn][dropout]") {
  const st::Tensor x = st::ones({10000});
  st::manual_seed(5);
  const auto a = F::dropout(x, 0.3, true).to_vector();
  st::manual_seed(5);
  const auto b = F::dropout(x, 0.3, true).to_vector();
  CHECK(a == b);
  std::int64_t kept = 0;
  for (float v : a) {
    CHECK((v == 0.0f || std::abs(v - 1.0f / 0.7f) < 1e-6f));
    kept += v != 0.0f;
  }
  CHECK(std::abs(double(kept) / 10000 - 0.7) < 0.03);
  nn::Dropout d(0.5);
  d.eval();
  CHECK(d(x).is_same(x));
  CHECK_THROWS_WITH(nn::Dropout(1.5), Catch::StartsWith("sinter: Dropout: probability has to be between 0 and 1"));
}

TEST_CASE("losses match their formulas, pass gradcheck and cross-entropy is one kernel each way", "[nn][loss]") {
  st::manual_seed(103);
  const TD logits = st::randn<double>({6, 5}).requires_grad_();
  const st::LongTensor target = st::from_vector<std::int64_t>({4, 0, -100, 2, 2, 1});
  const auto lv = logits.to_vector();
  auto ce_row = [&](int i, int k, double eps) {
    double m = -1e300, s = 0, tot = 0;
    for (int j = 0; j < 5; ++j) m = std::max(m, lv[i * 5 + j]);
    for (int j = 0; j < 5; ++j) s += std::exp(lv[i * 5 + j] - m), tot += lv[i * 5 + j];
    const double lse = m + std::log(s);
    return lse - (1 - eps) * lv[i * 5 + k] - eps / 5 * tot;
  };
  const std::vector<int> tv = {4, 0, -100, 2, 2, 1};
  for (double eps : {0.0, 0.1}) {
    double want = 0;
    for (int i = 0; i < 6; ++i)
      if (tv[i] >= 0) want += ce_row(i, tv[i], eps);
    const TD got = F::cross_entropy(logits, target, F::CrossEntropyOptions().label_smoothing(eps));
    CHECK(got.item() == Approx(want / 5).epsilon(1e-12));
    CHECK(F::cross_entropy(logits, target, F::CrossEntropyOptions().reduction(nn::Reduction::Sum).label_smoothing(eps))
              .item() == Approx(want).epsilon(1e-12));
    CHECK(st::gradcheck([&](const auto& t) { return F::cross_entropy(t[0], target, F::CrossEntropyOptions().label_smoothing(eps)); }, {logits}));
  }
  CHECK(st::gradcheck([&](const auto& t) {
    return F::cross_entropy(t[0], target, F::CrossEntropyOptions().reduction(nn::Reduction::None));
  }, {logits}));
  {  // another ignore_index: class 2's rows count neither in the sum nor in the mean's divisor, and get no gradient;
     // -100 is then a class index like any other, out of bounds
    const st::LongTensor t2 = st::from_vector<std::int64_t>({4, 0, 3, 2, 2, 1});
    const auto ig = F::CrossEntropyOptions().ignore_index(2);
    CHECK(F::cross_entropy(logits, t2, ig).item() ==
          Approx((ce_row(0, 4, 0) + ce_row(1, 0, 0) + ce_row(2, 3, 0) + ce_row(5, 1, 0)) / 4).epsilon(1e-12));
    const TD l2 = logits.detach().requires_grad_();
    F::cross_entropy(l2, t2, ig).backward();
    const auto g2 = l2.grad().to_vector();
    for (int j = 0; j < 5; ++j) {
      CHECK(g2[3 * 5 + j] == 0.0);
      CHECK(g2[4 * 5 + j] == 0.0);
      CHECK(g2[j] != 0.0);
    }
    CHECK(st::gradcheck([&](const auto& t) { return F::cross_entropy(t[0], t2, ig); }, {logits}));
    CHECK_THROWS_WITH(F::cross_entropy(logits, target, ig),
                      Catch::StartsWith("sinter: cross_entropy: target -100 at row 2 is out of bounds for 5 classes "
                                        "(valid: 0 to 4, or ignore_index 2)"));
  }
  const TD probs = st::softmax(st::randn<double>({6, 5}), 1);
  CHECK(st::gradcheck([&](const auto& t) { return F::cross_entropy(t[0], probs); }, {logits}));
  CHECK(st::gradcheck([&](const auto& t) { return F::nll_loss(st::log_softmax(t[0], 1), target); }, {logits}));
  CHECK(F::nll_loss(st::log_softmax(logits, 1), target).item() == Approx(F::cross_entropy(logits, target).item()));
  const TD a = st::randn<double>({4, 3}).requires_grad_(), b = st::randn<double>({4, 3});
  const auto av = a.to_vector(), bv = b.to_vector();
  double mse = 0, l1 = 0, sl1 = 0, bce = 0;
  for (std::size_t i = 0; i < av.size(); ++i) {
    const double d = av[i] - bv[i];
    mse += d * d, l1 += std::abs(d), sl1 += std::abs(d) < 1 ? 0.5 * d * d : std::abs(d) - 0.5;
    const double y = bv[i] > 0 ? 1.0 : 0.0, s = 1 / (1 + std::exp(-av[i]));
    bce += -(y * std::log(s) + (1 - y) * std::log(1 - s));
  }
  const TD y01 = st::where(b > 0.0, 1.0, 0.0);
  CHECK(F::mse_loss(a, b).item() == Approx(mse / 12).epsilon(1e-12));
  CHECK(F::l1_loss(a, b, nn::Reduction::Sum).item() == Approx(l1).epsilon(1e-12));
  CHECK(F::smooth_l1_loss(a, b).item() == Approx(sl1 / 12).epsilon(1e-12));
  CHECK(F::binary_cross_entropy_with_logits(a, y01).item() == Approx(bce / 12).epsilon(1e-12));
  CHECK(st::gradcheck([&](const auto& t) { return F::binary_cross_entropy_with_logits(t[0], y01); }, {a}));
  CHECK(st::gradcheck([&](const auto& t) { return F::smooth_l1_loss(t[0], b, nn::Reduction::None); }, {a}));
  CHECK_THROWS_WITH(F::cross_entropy(logits, st::from_vector<std::int64_t>({5, 0, 0, 0, 0, 0})),
                    Catch::StartsWith("sinter: cross_entropy: target 5 at row 0 is out of bounds for 5 classes"));
  CHECK_THROWS_WITH(F::cross_entropy(logits, st::from_vector<std::int64_t>({1, 2})),
                    Catch::StartsWith("sinter: cross_entropy: expected a target of shape [6]"));
  CHECK_THROWS_WITH(F::mse_loss(a, st::zeros<double>({3, 4})), Catch::StartsWith("sinter: mse_loss: the target's shape"));

  // Fusion: after the logits exist, cross-entropy is one kernel forward and one backward.
  st::Tensor lf = st::randn({64, 10}).requires_grad_();
  const st::LongTensor tf = st::randint(0, 10, {64});
  st::reset_counters();
  st::Tensor loss = F::cross_entropy(lf, tf);
  CHECK(st::counters().kernels == 1);
  st::reset_counters();
  loss.backward();
  CHECK(st::counters().kernels == 1);
}

TEST_CASE("linear is x W^T + b for any leading dims and passes gradcheck", "[nn][linear]") {
  st::manual_seed(104);
  const TD x = st::randn<double>({2, 3, 5}).requires_grad_(), w = st::randn<double>({4, 5}).requires_grad_();
  const TD b = st::randn<double>({4}).requires_grad_();
  const TD y = F::linear(x, w, b);
  REQUIRE(y.shape() == st::Shape{2, 3, 4});
  const TD want = st::matmul(x, w.t()) + b;
  testing::check_values(y, [&](std::int64_t i) { return testing::at(want, want.shape(), i); }, 1e-12, 1e-12);
  CHECK(st::gradcheck([](const auto& t) { return F::linear(t[0], t[1], t[2]); }, {x, w, b}));
  CHECK(st::gradcheck([](const auto& t) { return F::linear(t[0].transpose(0, 1), t[1]); }, {x, w}));
  st::Tensor xf = st::randn({8, 16}), wf = st::randn({4, 16}).requires_grad_(), bf = st::randn({4}).requires_grad_();
  st::reset_counters();
  st::Tensor yf = F::linear(xf, wf, bf);
  CHECK(st::counters().kernels == 1);  // the bias is the GEMM's starting value
  CHECK_THROWS_WITH(F::linear(xf, wf, st::randn({5})), Catch::StartsWith("sinter: linear: bias must have shape [4]"));
}

TEST_CASE("Philox4x32-10 reproduces Random123's known-answer vectors", "[nn][dropout][random]") {
  // The three vectors of Random123's kat_vectors for philox4x32 with 10 rounds (zeros, all ones, digits of pi).
  const auto a = st::philox4x32_10(0, 0, 0, 0, 0, 0);
  CHECK(std::vector<std::uint32_t>(a.v, a.v + 4) ==
        std::vector<std::uint32_t>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
  const auto b = st::philox4x32_10(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
  CHECK(std::vector<std::uint32_t>(b.v, b.v + 4) ==
        std::vector<std::uint32_t>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
  const auto c = st::philox4x32_10(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
  CHECK(std::vector<std::uint32_t>(c.v, c.v + 4) ==
        std::vector<std::uint32_t>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("dropout masks do not depend on the thread count and differ between calls", "[nn][dropout]") {
  const st::Tensor x = st::ones({100003});  // not a multiple of 4: the last Philox block is partial
  st::set_num_threads(1);
  st::manual_seed(9);
  const auto one = F::dropout(x, 0.5, true).to_vector();
  const auto again = F::dropout(x, 0.5, true).to_vector();
  st::set_num_threads(2);
  st::manual_seed(9);
  const auto two = F::dropout(x, 0.5, true).to_vector();
  CHECK(one == two);
  CHECK(one != again);  // each call draws a new key
  std::int64_t kept = 0;
  for (float v : one) kept += v != 0.0f;
  CHECK(std::abs(double(kept) / 100003 - 0.5) < 0.01);
}
