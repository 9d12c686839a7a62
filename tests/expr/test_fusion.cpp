// SPDX-License-Identifier: Apache-2.0
// The fusion contract, held by exact kernel and allocation counts.
#include <support/reference.hpp>

namespace st = sinter;

TEST_CASE("a statement is one forward kernel and allocates only its result", "[expr][fusion]") {
  st::manual_seed(1);
  st::Tensor x = st::randn({1000}).requires_grad_(), a = st::randn({1000}).requires_grad_(),
             b = st::randn({1000}).requires_grad_();
  st::reset_counters();
  st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
  CHECK(st::counters().kernels == 1);
  CHECK(st::counters().allocations == 1);
  CHECK(y.grad_fn_name() == "MulBackward");

  const st::Tensor g = st::randn({1000});
  st::reset_counters();
  y.backward(g, true);
  CHECK(st::counters().kernels == 1);      // one kernel writes x.grad, a.grad and b.grad
  CHECK(st::counters().allocations == 3);  // the three gradient buffers, nothing else
  const auto gx = x.grad().to_vector(), ga = a.grad().to_vector(), gb = b.grad().to_vector();
  const auto xv = x.to_vector(), av = a.to_vector(), bv = b.to_vector(), gv = g.to_vector();
  for (std::size_t i = 0; i < 1000; ++i) {
    const double s = 1 / (1 + std::exp(-(double(av[i]) * xv[i] + bv[i]))), t = std::tanh(double(xv[i]));
    const double ds = gv[i] * t * s * (1 - s);
    CHECK(gx[i] == Approx(ds * av[i] + gv[i] * s * (1 - t * t)).margin(1e-5));
    CHECK(ga[i] == Approx(ds * xv[i]).margin(1e-5));
    CHECK(gb[i] == Approx(ds).margin(1e-5));
  }

  st::reset_counters();
  y.backward(g);  // later backward calls accumulate in the same single kernel
  CHECK(st::counters().kernels == 1);
  CHECK(st::counters().allocations == 0);
  CHECK(x.grad().to_vector()[3] == Approx(2 * gx[3]));
}

TEST_CASE("a broadcast operand stays one forward kernel and gets its reduced gradient", "[expr][fusion][broadcast]") {
  st::manual_seed(2);
  const std::int64_t m = 300, n = 70;
  st::Tensor x = st::randn({m, n}).requires_grad_(), a = st::randn({m, n}).requires_grad_(),
             b = st::randn({n}).requires_grad_();
  st::reset_counters();
  st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
  CHECK(st::counters().kernels == 1);
  const st::Tensor g = st::randn({m, n});
  st::reset_counters();
  y.backward(g);
  CHECK(st::counters().kernels <= 2);
  REQUIRE(b.grad().shape() == st::Shape{n});
  const auto xv = x.to_vector(), av = a.to_vector(), bv = b.to_vector(), gv = g.to_vector(), gb = b.grad().to_vector();
  for (std::int64_t j = 0; j < n; ++j) {
    double want = 0;
    for (std::int64_t i = 0; i < m; ++i) {
      const auto k = static_cast<std::size_t>(i * n + j);
      const double s = 1 / (1 + std::exp(-(double(av[k]) * xv[k] + bv[static_cast<std::size_t>(j)])));
      want += gv[k] * std::tanh(double(xv[k])) * s * (1 - s);
    }
    CHECK(gb[static_cast<std::size_t>(j)] == Approx(want).epsilon(1e-4).margin(1e-4));
  }
}

TEST_CASE("sum of an expression is one fused kernel each way", "[expr][fusion][reduce]") {
  st::Tensor x = st::randn({5000}).requires_grad_(), y = st::randn({5000}).requires_grad_();
  st::reset_counters();
  st::Tensor s = st::sum(x * y);
  CHECK(st::counters().kernels == 1);
  CHECK(st::counters().allocations == 1);
  st::reset_counters();
  s.backward();
  CHECK(st::counters().kernels == 1);
  CHECK(x.grad().to_vector() == y.to_vector());
  CHECK(y.grad().to_vector() == x.to_vector());
}

TEST_CASE("auto e = expression holds its tensors and cannot dangle", "[expr][fusion][closure]") {
  auto make = [] {
    st::Tensor a = st::full({4}, 2.0f), b = st::full({4}, 3.0f);
    return a * b + 1.0f;  // a and b die here; the expression keeps them alive
  };
  auto e = make();
  st::Tensor y = e;
  CHECK(y.to_vector() == std::vector<float>(4, 7.0f));
  st::Tensor y2 = e;  // evaluating twice gives the same values
  CHECK(y2.to_vector() == y.to_vector());
}

TEST_CASE("in-place statements are correct on views and overlapping slices", "[expr][fusion][aliasing]") {
  auto x = st::arange(10);
  auto v = x.slice(0, 2, 6);
  v.copy_(v * 2.0f + 1.0f);  // same memory, element for element
  CHECK(x.to_vector() == std::vector<float>{0, 1, 5, 7, 9, 11, 6, 7, 8, 9});
  auto y = st::arange(10);
  y.slice(0, 1, 10).copy_(y.slice(0, 0, 9) * 2.0f);  // reads what it writes, shifted: needs a temporary
  CHECK(y.to_vector() == std::vector<float>{0, 0, 2, 4, 6, 8, 10, 12, 14, 16});
  auto z = st::arange(6).reshape({2, 3});
  z += z.t().t() * 2.0f;
  CHECK(z.to_vector() == std::vector<float>{0, 3, 6, 9, 12, 15});
  auto w = st::arange(4).reshape({2, 2});
  w.copy_(w.t() + 0.0f);  // transposed self-read
  CHECK(w.to_vector() == std::vector<float>{0, 2, 1, 3});
}

TEST_CASE("statements on large tensors split across threads give the same values", "[expr][fusion][threads]") {
  st::manual_seed(4);
  st::Tensor x = st::randn({1 << 18}), b = st::randn({1 << 18});
  const int before = st::get_num_threads();
  st::set_num_threads(1);
  st::Tensor y1 = st::relu(x) * b + 1.0f;
  const float s1 = st::sum(y1).item();
  st::set_num_threads(2);
  st::Tensor y2 = st::relu(x) * b + 1.0f;
  CHECK(y2.to_vector() == y1.to_vector());
  CHECK(st::sum(y2).item() == Approx(s1).epsilon(1e-5));
  // A 2-D space whose threads' chunks start and end inside rows (301 columns), with a broadcast operand: each
  // thread finds its first row by division and steps through the rest.
  st::Tensor m = st::randn({999, 301}).requires_grad_(), r = st::randn({301}).requires_grad_();
  const st::Tensor g = st::randn({999, 301});
  std::vector<float> out[2], gm[2], gr[2];
  for (int t = 1; t <= 2; ++t) {
    st::set_num_threads(t);
    m.zero_grad();
    r.zero_grad();
    st::Tensor y = st::tanh(m * r) + m;
    y.backward(g);
    out[t - 1] = y.to_vector();
    gm[t - 1] = m.grad().to_vector();
    gr[t - 1] = r.grad().to_vector();
  }
  CHECK(out[1] == out[0]);
  CHECK(gm[1] == gm[0]);
  for (std::size_t k = 0; k < gr[0].size(); ++k) CHECK(gr[1][k] == Approx(gr[0][k]).epsilon(1e-4));
  const auto mv = m.to_vector(), rv = r.to_vector();
  for (std::size_t i = 0; i < mv.size(); i += 997) CHECK(out[1][i] == Approx(std::tanh(double(mv[i]) * rv[i % 301]) + mv[i]).margin(1e-5));
  st::set_num_threads(before);
}

TEST_CASE("mixing devices in one statement names both devices", "[expr][fusion][error]") {
  // Without a CUDA backend in this TU, a CUDA tensor cannot be created at all; the message says how to get one.
  CHECK_THROWS_WITH(st::zeros({2}, st::kCUDA), Catch::Contains("include <sinter/cuda.hpp>") && Catch::Contains("nvcc"));
}

TEST_CASE("rows of every length, also shorter than a SIMD batch, agree with the definition each way",
          "[expr][fusion][tail]") {
  // A row's last partial batch runs through the SIMD body on staged copies of its lanes: lengths 1 to 35 cover a
  // partial batch alone, after full batches, and every remainder for batches of 4, 8 and 16 floats.
  st::manual_seed(5);
  for (std::int64_t n = 1; n <= 35; ++n) {
    INFO("row length " << n);
    st::Tensor x = st::randn({5, n}).requires_grad_(), b = st::randn({n}).requires_grad_(),
               a = st::randn({5, 1}).requires_grad_(), g = st::randn({5, n});
    const auto xv = x.to_vector(), bv = b.to_vector(), av = a.to_vector(), gv = g.to_vector();
    auto y_at = [&](std::int64_t i) { return std::tanh(double(xv[i]) * bv[i % n] + av[i / n]); };
    st::Tensor y = st::tanh(x * b + a);
    testing::check_values(y, y_at);
    for (int pass = 1; pass <= 2; ++pass) {  // the second backward accumulates into the same buffers
      y.backward(g, true);
      std::vector<double> gb(n, 0.0), ga(5, 0.0);
      for (std::int64_t i = 0; i < 5 * n; ++i) {
        const double d = gv[i] * (1 - y_at(i) * y_at(i));
        gb[i % n] += d * xv[i];
        ga[i / n] += d;
      }
      testing::check_values(x.grad(), [&](std::int64_t i) { return pass * gv[i] * (1 - y_at(i) * y_at(i)) * bv[i % n]; });
      testing::check_values(b.grad(), [&](std::int64_t i) { return pass * gb[i]; }, 1e-4);
      testing::check_values(a.grad(), [&](std::int64_t i) { return pass * ga[i]; }, 1e-4);
    }
    // A strided operand (the transpose of a [n, 5] tensor), an in-place add, and reductions along the rows.
    st::Tensor xt = st::randn({n, 5}).t();
    const st::Tensor xc = xt.contiguous();
    const auto xtv = xc.to_vector();
    testing::check_values(st::Tensor(st::exp(xt) * b), [&](std::int64_t i) { return std::exp(double(xtv[i])) * bv[i % n]; });
    st::Tensor z = st::ones({5, n});
    {
      st::NoGradGuard no_grad;
      z += xt * 2.0f;
    }
    testing::check_values(z, [&](std::int64_t i) { return 1 + 2.0 * xtv[i]; });
    const st::Tensor s = st::sum(xt * 3.0f, {1}), m = st::amax(xt, {1});
    for (std::int64_t r = 0; r < 5; ++r) {
      double sr = 0, mr = -INFINITY;
      for (std::int64_t c = 0; c < n; ++c) {
        sr += 3.0 * xtv[r * n + c];
        mr = std::max(mr, double(xtv[r * n + c]));
      }
      CHECK(s.to_vector()[r] == Approx(sr).margin(1e-4));
      CHECK(m.to_vector()[r] == float(mr));
    }
  }
}
