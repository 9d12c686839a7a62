// SPDX-License-Identifier: Apache-2.0
// conv2d in double against a direct convolution and gradcheck on every CPU path (im2col, pointwise, depthwise), and
// the pieces of its im2col path: the column stride and the gathered col2im. Split from test_layers.cpp so that the two
// compile in parallel (the sanitizer build's longest file).
#include <cmath>
#include <limits>
#include <random>

#include <support/reference.hpp>

#include <sinter/nn.hpp>

namespace st = sinter;
namespace F = sinter::nn::functional;
using testing::TD;
using A2 = std::array<std::int64_t, 2>;

TEST_CASE("conv2d matches a direct convolution and passes gradcheck for stride, padding, dilation, groups",
          "[nn][conv]") {
  st::manual_seed(100);
  const TD x = st::randn<double>({2, 4, 6, 5}), w = st::randn<double>({6, 2, 3, 2}), b = st::randn<double>({6});
  const TD y = F::conv2d(x, w, b, {2, 1}, {1, 1}, {1, 2}, 2);
  REQUIRE(y.shape() == st::Shape{2, 6, 3, 5});
  const auto xv = x.to_vector(), wv = w.to_vector(), bv = b.to_vector();
  std::vector<double> want;
  for (int n = 0; n < 2; ++n)
    for (int oc = 0; oc < 6; ++oc)
      for (int oh = 0; oh < 3; ++oh)
        for (int ow = 0; ow < 5; ++ow) {
          double s = bv[oc];
          const int g = oc / 3;
          for (int c = 0; c < 2; ++c)
            for (int kh = 0; kh < 3; ++kh)
              for (int kw = 0; kw < 2; ++kw) {
                const int ih = oh * 2 - 1 + kh, iw = ow - 1 + kw * 2;
                if (ih < 0 || ih >= 6 || iw < 0 || iw >= 5) continue;
                s += xv[((n * 4 + g * 2 + c) * 6 + ih) * 5 + iw] * wv[((oc * 2 + c) * 3 + kh) * 2 + kw];
              }
          want.push_back(s);
        }
  testing::check_values(y, [&](std::int64_t i) { return want[static_cast<std::size_t>(i)]; }, 1e-12, 1e-12);
  const TD xg = x.detach().requires_grad_(), wg = w.detach().requires_grad_(), bg = b.detach().requires_grad_();
  CHECK(st::gradcheck([](const auto& t) { return F::conv2d(t[0], t[1], t[2], {2, 1}, {1, 1}, {1, 2}, 2); }, {xg, wg, bg}));
  CHECK(st::gradcheck([](const auto& t) { return F::conv2d(t[0], t[1]); }, {xg, TD(st::randn<double>({3, 4, 2, 2}).requires_grad_())}));
  CHECK_THROWS_WITH(F::conv2d(x, st::randn<double>({3, 3, 3, 3})),
                    Catch::StartsWith("sinter: conv2d: expected input [2, 4, 6, 5] to have 3 channels, but got 4"));
  CHECK_THROWS_WITH(F::conv2d(x, st::randn<double>({3, 4, 9, 9})), Catch::Contains("is larger than the padded input"));
}

namespace {
/// conv2d by its definition, in double: NCHW input, [OC, C/groups, KH, KW] weight.
std::vector<double> direct_conv2d(const TD& x, const TD& w, const TD& b, A2 s, A2 p, A2 d, std::int64_t groups) {
  const auto xv = x.to_vector(), wv = w.to_vector();
  const auto bv = b.defined() ? b.to_vector() : std::vector<double>();
  const std::int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3), OC = w.size(0), KH = w.size(2),
                     KW = w.size(3), Cg = C / groups, OCg = OC / groups;
  const std::int64_t OH = (H + 2 * p[0] - d[0] * (KH - 1) - 1) / s[0] + 1, OW = (W + 2 * p[1] - d[1] * (KW - 1) - 1) / s[1] + 1;
  std::vector<double> out;
  for (std::int64_t n = 0; n < N; ++n)
    for (std::int64_t oc = 0; oc < OC; ++oc)
      for (std::int64_t oh = 0; oh < OH; ++oh)
        for (std::int64_t ow = 0; ow < OW; ++ow) {
          double acc = bv.empty() ? 0.0 : bv[static_cast<std::size_t>(oc)];
          for (std::int64_t c = 0; c < Cg; ++c)
            for (std::int64_t kh = 0; kh < KH; ++kh)
              for (std::int64_t kw = 0; kw < KW; ++kw) {
                const std::int64_t ih = oh * s[0] - p[0] + kh * d[0], iw = ow * s[1] - p[1] + kw * d[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += xv[static_cast<std::size_t>(((n * C + oc / OCg * Cg + c) * H + ih) * W + iw)] *
                       wv[static_cast<std::size_t>(((oc * Cg + c) * KH + kh) * KW + kw)];
              }
          out.push_back(acc);
        }
  return out;
}
}  // namespace

TEST_CASE("conv2d's direct CPU paths (1x1 pointwise, depthwise) match the definition and pass gradcheck", "[nn][conv]") {
  namespace D = sinter::nn::functional::detail;
  struct Case {
    st::Shape x, w;
    A2 s, p, d;
    std::int64_t groups;
    bool bias;
    D::ConvPath path;
  };
  const std::vector<Case> cases = {
      {{2, 4, 5, 3}, {6, 4, 1, 1}, {1, 1}, {0, 0}, {1, 1}, 1, true, D::ConvPath::pointwise},
      {{2, 4, 5, 3}, {6, 2, 1, 1}, {1, 1}, {0, 0}, {2, 2}, 2, false, D::ConvPath::pointwise},
      {{1, 4, 5, 3}, {6, 4, 1, 1}, {2, 1}, {0, 0}, {1, 1}, 1, true, D::ConvPath::im2col},  // strided 1x1: columns
      // 30 output channels: the GEMM reads the columns in place, rows 104 (not 100) doubles apart (column_stride)
      {{1, 3, 10, 10}, {30, 3, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 1, true, D::ConvPath::im2col},
      {{2, 3, 7, 6}, {3, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 3, true, D::ConvPath::depthwise},
      {{2, 3, 7, 6}, {6, 1, 3, 2}, {2, 1}, {1, 0}, {1, 2}, 3, false, D::ConvPath::depthwise},  // 2 outputs per channel
      {{1, 2, 9, 8}, {2, 1, 2, 3}, {2, 3}, {1, 2}, {2, 1}, 2, true, D::ConvPath::depthwise},
      // rows of 37: the input gradient's loops run whole vectors and a tail
      {{1, 2, 3, 37}, {2, 1, 3, 3}, {1, 1}, {1, 1}, {1, 1}, 2, false, D::ConvPath::depthwise},
      // a row stride of 2 and rows of 37: the input gradient's row loop (add_scaled) runs whole vectors and a tail
      {{1, 2, 5, 37}, {2, 1, 3, 3}, {2, 1}, {1, 1}, {1, 1}, 2, true, D::ConvPath::depthwise},
      // unit strides with dilation, 2 outputs per channel, padding past the kernel's reach in width
      {{1, 2, 6, 20}, {4, 1, 3, 2}, {1, 1}, {2, 3}, {2, 1}, 2, true, D::ConvPath::depthwise},
  };
  st::manual_seed(103);
  for (const Case& c : cases) {
    INFO("input " << c.x << " weight " << c.w << " groups " << c.groups);
    const TD x = st::randn<double>(c.x), w = st::randn<double>(c.w);
    const TD b = c.bias ? TD(st::randn<double>({c.w[0]})) : TD();
    const TD y = F::conv2d(x, w, b, c.s, c.p, c.d, c.groups);
    const std::vector<double> want = direct_conv2d(x, w, b, c.s, c.p, c.d, c.groups);
    testing::check_values(y, [&](std::int64_t i) { return want[static_cast<std::size_t>(i)]; }, 1e-12, 1e-12);
    F::Conv2dGeometry g{};
    g.C = c.x[1], g.KH = c.w[2], g.KW = c.w[3], g.sh = c.s[0], g.sw = c.s[1], g.ph = c.p[0], g.pw = c.p[1],
    g.groups = c.groups;
    CHECK(D::cpu_conv_path(g) == c.path);
    // The direct paths keep the input for the backward, the im2col path these small batches' columns
    // (keeps_columns): the output is the forward's only other allocation.
    const TD xg = x.detach().requires_grad_(), wg = w.detach().requires_grad_();
    const TD bg = c.bias ? b.detach().requires_grad_() : TD();
    st::reset_counters();
    const TD yg = F::conv2d(xg, wg, bg, c.s, c.p, c.d, c.groups);
    CHECK(st::counters().allocations == (c.path == D::ConvPath::im2col ? 2u : 1u));
    CHECK(st::counters().kernels == 1u);
    // Two backward calls accumulate: the second adds the same gradients again.
    const TD gout = st::randn<double>(yg.shape());
    yg.backward(gout, true);
    const auto dx1 = xg.grad().to_vector(), dw1 = wg.grad().to_vector();
    yg.backward(gout);
    const auto dx2 = xg.grad().to_vector(), dw2 = wg.grad().to_vector();
    for (std::size_t i = 0; i < dx1.size(); ++i) CHECK(dx2[i] == Approx(2 * dx1[i]).margin(1e-12));
    for (std::size_t i = 0; i < dw1.size(); ++i) CHECK(dw2[i] == Approx(2 * dw1[i]).margin(1e-12));
    const TD xc = x.detach().requires_grad_(), wc = w.detach().requires_grad_();
    if (c.bias)
      CHECK(st::gradcheck([&](const auto& t) { return F::conv2d(t[0], t[1], t[2], c.s, c.p, c.d, c.groups); },
                          {xc, wc, TD(b.detach().requires_grad_())}));
    else
      CHECK(st::gradcheck([&](const auto& t) { return F::conv2d(t[0], t[1], TD(), c.s, c.p, c.d, c.groups); }, {xc, wc}));
  }
}

TEST_CASE("conv2d's depthwise weight gradient ignores the lanes past a row's end, even over an infinite input",
          "[nn][conv]") {
  // Rows 6 wide: vectors of the direct path run past them and, for the leftmost tap, over the last input column.
  std::vector<double> xv(2 * 4 * 6, 0.5);
  xv[1 * 6 + 5] = INFINITY;  // channel 0, row 1, last column: only taps kw = 1, 2 reach it
  const TD x = st::from_vector<double>(xv, st::Shape{1, 2, 4, 6});
  const TD w = st::ones<double>({2, 1, 3, 3}).requires_grad_();
  const TD y = F::conv2d(x, w, TD(), {1, 1}, {1, 1}, {1, 1}, 2);
  y.backward(st::ones<double>(y.shape()));
  const auto dw = w.grad().to_vector();
  for (int c = 0; c < 2; ++c)
    for (int kh = 0; kh < 3; ++kh)
      for (int kw = 0; kw < 3; ++kw) {
        double want = 0;  // sum of the inputs this tap reads over all outputs (gout = 1)
        for (int oh = 0; oh < 4; ++oh)
          for (int ow = 0; ow < 6; ++ow) {
            const int ih = oh + kh - 1, iw = ow + kw - 1;
            if (ih >= 0 && ih < 4 && iw >= 0 && iw < 6) want += xv[static_cast<std::size_t>((c * 4 + ih) * 6 + iw)];
          }
        const double got = dw[static_cast<std::size_t>((c * 3 + kh) * 3 + kw)];
        INFO("channel " << c << " tap " << kh << "," << kw);
        if (std::isfinite(want))
          CHECK(got == Approx(want).margin(1e-12));
        else
          CHECK(got == want);
      }
}

namespace {
/// The gathered col2im against the scattered one on random column gradients, with NaN in the slack around them and
/// in dx's lanes that a store may touch but must keep.
template <class T>
void check_col2im_gathered(const F::Conv2dGeometry& g0) {
  namespace D = sinter::nn::functional::detail;
  F::Conv2dGeometry g = g0;
  g.OH = (g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1) / g.sh + 1;
  g.OW = (g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1) / g.sw + 1;
  INFO("C " << g.C << " H " << g.H << " W " << g.W << " K " << g.KH << "x" << g.KW << " stride " << g.sh << "," << g.sw
            << " pad " << g.ph << "," << g.pw << " dilation " << g.dh << "," << g.dw);
  const std::int64_t n = g.C * g.KH * g.KW * g.OH * g.OW, front = D::col2im_slack_front<T>(g),
                     back = D::col2im_slack_back<T>(g), image = g.C * g.H * g.W;
  std::vector<T> dcols(static_cast<std::size_t>(front + n + back), std::numeric_limits<T>::quiet_NaN());
  std::mt19937 rng(static_cast<unsigned>(n));
  std::uniform_int_distribution<int> small(-8, 8);  // small integers: both orders of summation are exact
  // Entries for taps that fall in the padding are read by neither form: NaN, so a lane that used one would show.
  std::int64_t i = front;
  for (std::int64_t c = 0; c < g.C; ++c)
    for (std::int64_t kh = 0; kh < g.KH; ++kh)
      for (std::int64_t kw = 0; kw < g.KW; ++kw)
        for (std::int64_t oh = 0; oh < g.OH; ++oh)
          for (std::int64_t ow = 0; ow < g.OW; ++ow, ++i) {
            const std::int64_t ih = oh * g.sh - g.ph + kh * g.dh, iw = ow - g.pw + kw * g.dw;
            const bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
            dcols[static_cast<std::size_t>(i)] = inside ? static_cast<T>(small(rng)) : std::numeric_limits<T>::quiet_NaN();
          }
  for (bool accumulate : {false, true}) {
    INFO("accumulate " << accumulate);
    std::vector<T> want(static_cast<std::size_t>(image)), have(want.size() + 64, std::numeric_limits<T>::quiet_NaN());
    for (std::int64_t i = 0; i < image; ++i) want[static_cast<std::size_t>(i)] = have[static_cast<std::size_t>(i)] =
        accumulate ? static_cast<T>(small(rng)) : T(0);
    if (!accumulate) std::fill(have.begin(), have.begin() + image, std::numeric_limits<T>::quiet_NaN());
    std::vector<T> same(have);  // for the same-width form
    D::col2im_image(dcols.data() + front, want.data(), g, accumulate);
    D::col2im_image_gathered(dcols.data() + front, have.data(), g, accumulate);
    std::size_t bad = 0;
    for (std::int64_t i = 0; i < image; ++i) bad += !(have[static_cast<std::size_t>(i)] == want[static_cast<std::size_t>(i)]);
    CHECK(bad == 0);
    for (std::size_t i = static_cast<std::size_t>(image); i < have.size(); ++i) CHECK(std::isnan(have[i]));  // untouched
    if (D::same_width(g)) {  // col2im_image_same_width, on a copy it may zero
      std::vector<T> scratch(dcols);
      D::col2im_image_same_width(scratch.data() + front, same.data(), g, accumulate);
      bad = 0;
      for (std::int64_t i = 0; i < image; ++i) bad += !(same[static_cast<std::size_t>(i)] == want[static_cast<std::size_t>(i)]);
      CHECK(bad == 0);
      for (std::size_t i = static_cast<std::size_t>(image); i < same.size(); ++i) CHECK(std::isnan(same[i]));
    }
  }
}
}  // namespace

TEST_CASE("conv2d's column rows lie an odd number of cache lines apart, so the GEMM reads them in place", "[nn][conv]") {
  namespace D = sinter::nn::functional::detail;
  F::Conv2dGeometry g{};
  g.C = 64, g.KH = g.KW = 3, g.OH = g.OW = 32;  // ResNet's 32x32 planes: 1024 floats = 64 lines, 4 KiB apart in L1
  CHECK(D::column_stride<float>(g) == 1040);
  CHECK(D::image_columns<float>(g) == 576 * 1040);
  CHECK(st::cpu::rows_spread_over_l1(1040 * sizeof(float)));
  CHECK_FALSE(st::cpu::rows_spread_over_l1(1024 * sizeof(float)));
  g.OH = g.OW = 10;
  CHECK(D::column_stride<float>(g) == 112);  // 100 floats: 7 lines
  CHECK(D::column_stride<double>(g) == 104);  // 100 doubles: 12.5 lines, so 13
  g.OH = 28, g.OW = 28;
  CHECK(D::column_stride<float>(g) == 784);  // LeNet-5's 28x28: 49 lines already
}

TEST_CASE("conv2d's im2col on the CPU (whole rows for unit strides and same width, else per output row) equals "
          "the element-wise definition",
          "[nn][conv]") {
  namespace D = sinter::nn::functional::detail;
  struct Case {
    std::int64_t C, H, W, KH, KW, sh, sw, ph, pw, dh, dw;
    bool same_width;  // takes im2col_image_same_width
  };
  const std::vector<Case> cases = {
      {3, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, true},   // ResNet's 3x3
      {2, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, true},     // rows narrower than a vector, H != W
      {2, 9, 11, 5, 5, 1, 1, 2, 2, 1, 1, true},    // 5x5, two padding columns each side
      {2, 6, 9, 3, 3, 1, 1, 2, 2, 2, 2, true},     // dilated
      {1, 5, 4, 2, 3, 1, 1, 0, 1, 1, 1, true},     // no padding rows: the output is shorter than the input
      {2, 4, 3, 3, 7, 1, 1, 1, 3, 1, 1, true},     // padding columns as wide as the image
      {2, 10, 10, 3, 3, 2, 1, 1, 1, 1, 1, false},  // row stride 2: per output row
      {2, 10, 10, 3, 3, 1, 1, 0, 0, 1, 1, false},  // narrower output
  };
  for (const Case& k : cases) {
    F::Conv2dGeometry g{};
    g.N = 2, g.C = k.C, g.H = k.H, g.W = k.W, g.OC = 1, g.KH = k.KH, g.KW = k.KW, g.sh = k.sh, g.sw = k.sw;
    g.ph = k.ph, g.pw = k.pw, g.dh = k.dh, g.dw = k.dw, g.groups = 1;
    g.OH = (g.H + 2 * g.ph - g.dh * (g.KH - 1) - 1) / g.sh + 1;
    g.OW = (g.W + 2 * g.pw - g.dw * (g.KW - 1) - 1) / g.sw + 1;
    INFO("C " << g.C << " H " << g.H << " W " << g.W << " kernel " << g.KH << "x" << g.KW << " stride " << g.sh << ","
              << g.sw << " padding " << g.ph << "," << g.pw << " dilation " << g.dh << "," << g.dw);
    REQUIRE(D::same_width(g) == k.same_width);
    std::vector<float> x(static_cast<std::size_t>(g.N * g.C * g.H * g.W));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = 1.0f + static_cast<float>(i);  // no zeros: padding shows
    const std::int64_t ld = D::column_stride<float>(g), rows = g.C * g.KH * g.KW, P = g.P();
    std::vector<float> want(static_cast<std::size_t>(rows * P));
    const D::Im2colKernel<float> def{x.data(), want.data(), g};
    for (std::int64_t i = 0; i < rows * P; ++i) def(i);
    // The second image, whose columns sit at want[r, OH*OW + q]; NaN where nothing may be written past its columns.
    std::vector<float> cols(static_cast<std::size_t>(D::image_columns<float>(g) + 64),
                            std::numeric_limits<float>::quiet_NaN());
    D::im2col_image(x.data() + g.C * g.H * g.W, x.data() + x.size(), cols.data(), g);
    const std::int64_t ohw = g.OH * g.OW;
    int wrong = 0;
    for (std::int64_t r = 0; r < rows; ++r)
      for (std::int64_t q = 0; q < ohw; ++q)
        wrong += !(cols[static_cast<std::size_t>(r * ld + q)] == want[static_cast<std::size_t>(r * P + ohw + q)]);
    CHECK(wrong == 0);
    for (std::size_t i = static_cast<std::size_t>(rows * ld); i < cols.size(); ++i) CHECK(std::isnan(cols[i]));
  }
}

TEST_CASE("conv2d's gathered col2im (unit column stride) equals the scattered one", "[nn][conv]") {
  auto geometry = [](std::int64_t C, std::int64_t H, std::int64_t W, std::int64_t KH, std::int64_t KW, std::int64_t sh,
                     std::int64_t ph, std::int64_t pw, std::int64_t dh, std::int64_t dw) {
    F::Conv2dGeometry g{};
    g.N = 1, g.C = C, g.H = H, g.W = W, g.OC = 1, g.KH = KH, g.KW = KW, g.sh = sh, g.sw = 1, g.ph = ph, g.pw = pw,
    g.dh = dh, g.dw = dw, g.groups = 1;
    return g;
  };
  const std::vector<F::Conv2dGeometry> cases = {
      geometry(6, 14, 14, 5, 5, 1, 0, 0, 1, 1),  // LeNet-5's second layer
      geometry(1, 28, 28, 5, 5, 1, 2, 2, 1, 1),  // its first, padded; rows wider than a float vector
      geometry(3, 9, 37, 3, 3, 2, 1, 1, 1, 1),   // row stride 2, three or five vectors per row
      geometry(2, 7, 5, 3, 2, 1, 0, 3, 2, 3),    // dilated, padding wider than the kernel's reach
      geometry(2, 8, 16, 3, 3, 3, 2, 0, 1, 2),   // rows exactly one float vector wide on AVX-512
      geometry(1, 4, 1, 2, 1, 1, 1, 0, 1, 1),    // one column
      geometry(3, 32, 32, 3, 3, 1, 1, 1, 1, 1),  // ResNet's 3x3: same width
      geometry(2, 7, 5, 3, 3, 1, 1, 1, 1, 1),    // same width, narrower than a vector
      geometry(2, 6, 9, 3, 3, 1, 2, 2, 2, 2),    // same width, dilated
      geometry(2, 4, 3, 3, 7, 1, 1, 3, 1, 1),    // same width, padding columns as wide as the image
      geometry(1, 5, 4, 2, 3, 1, 0, 1, 1, 1),    // same width, no padding rows: the output is shorter
      geometry(2, 5, 6, 3, 2, 1, 1, 1, 1, 2),    // same width, no centre tap (taps at columns -1 and +1)
  };
  for (const auto& g : cases) {
    check_col2im_gathered<float>(g);
    check_col2im_gathered<double>(g);
  }
}

TEST_CASE("conv2d's backward makes a large batch's columns again and agrees with the columns kept for one image",
          "[nn][conv]") {
  namespace D = F::detail;
  // 3x3 over 64 channels of 48x48: 5.4 MiB of float columns per image, so one image's are kept for the backward and
  // two images' (over keeps_columns' 8 MiB) are made again from the input.
  F::Conv2dGeometry g{};
  g.C = 64, g.H = g.W = 48, g.OC = 8, g.KH = g.KW = 3, g.sh = g.sw = 1, g.ph = g.pw = 1, g.dh = g.dw = 1, g.groups = 1;
  g.OH = g.OW = 48;
  g.N = 1;
  REQUIRE(D::keeps_columns<float>(g));
  g.N = 2;
  REQUIRE_FALSE(D::keeps_columns<float>(g));
  st::manual_seed(105);
  const st::Tensor x = st::randn({2, 64, 48, 48}).requires_grad_(), w = st::randn({8, 64, 3, 3}).requires_grad_(),
                   b = st::randn({8}).requires_grad_();
  const st::Tensor gout = st::randn({2, 8, 48, 48});
  st::reset_counters();
  st::Tensor y = F::conv2d(x, w, b, {1, 1}, {1, 1});
  CHECK(st::counters().allocations == 1u);  // the output only: the input is kept, not 11 MiB of columns
  {  // another batch through the same geometry leaves its columns in the per-thread scratch the backward reuses
    st::NoGradGuard no_grad;
    (void)F::conv2d(st::randn({2, 64, 48, 48}), w.detach(), b.detach(), {1, 1}, {1, 1});
  }
  y.backward(gout);
  // The same images one at a time, columns kept: the same outputs and gradients (dW and db summed over the two).
  std::vector<double> dw(static_cast<std::size_t>(w.numel()), 0.0), db(8, 0.0), dx, want_y;
  for (std::int64_t n = 0; n < 2; ++n) {
    const st::Tensor xn = x.detach().slice(0, n, n + 1).contiguous().requires_grad_();
    const st::Tensor wn = w.detach().clone().requires_grad_(), bn = b.detach().clone().requires_grad_();
    st::reset_counters();
    st::Tensor yn = F::conv2d(xn, wn, bn, {1, 1}, {1, 1});
    CHECK(st::counters().allocations == 2u);  // the output and the kept columns
    yn.backward(gout.slice(0, n, n + 1).contiguous());
    for (double v : yn.to_vector()) want_y.push_back(v);
    for (double v : xn.grad().to_vector()) dx.push_back(v);
    const auto dwn = wn.grad().to_vector(), dbn = bn.grad().to_vector();
    for (std::size_t k = 0; k < dw.size(); ++k) dw[k] += dwn[k];
    for (std::size_t k = 0; k < db.size(); ++k) db[k] += dbn[k];
  }
  auto from = [](const std::vector<double>& v) { return [&v](std::int64_t i) { return v[static_cast<std::size_t>(i)]; }; };
  testing::check_values(y, from(want_y), 1e-5, 1e-4);
  testing::check_values(x.grad(), from(dx), 1e-5, 1e-4);
  testing::check_values(w.grad(), from(dw), 1e-5, 1e-3);
  testing::check_values(b.grad(), from(db), 1e-5, 1e-3);
}
