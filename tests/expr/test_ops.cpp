// SPDX-License-Identifier: Apache-2.0
// Every element-wise op: values against the C library in double on broadcast, scalar, transposed and sliced operands,
// and gradients against finite differences.
#include <support/reference.hpp>

namespace st = sinter;
using testing::TD;

namespace {
struct Unary {
  const char* name;
  std::function<TD(const TD&)> op;
  std::function<double(double)> ref;
  double lo, hi;  // input domain
};

std::vector<Unary> unary_ops() {
  const double inv_sqrt2 = 0.70710678118654752440;
  return {
      {"neg", [](const TD& x) { return TD(-x); }, [](double v) { return -v; }, -2, 2},
      {"exp", [](const TD& x) { return TD(st::exp(x)); }, [](double v) { return std::exp(v); }, -2, 2},
      {"log", [](const TD& x) { return TD(st::log(x)); }, [](double v) { return std::log(v); }, 0.2, 3},
      {"log1p", [](const TD& x) { return TD(st::log1p(x)); }, [](double v) { return std::log1p(v); }, -0.5, 3},
      {"sqrt", [](const TD& x) { return TD(st::sqrt(x)); }, [](double v) { return std::sqrt(v); }, 0.2, 3},
      {"rsqrt", [](const TD& x) { return TD(st::rsqrt(x)); }, [](double v) { return 1 / std::sqrt(v); }, 0.2, 3},
      {"abs", [](const TD& x) { return TD(st::abs(x)); }, [](double v) { return std::fabs(v); }, -2, 2},
      {"sin", [](const TD& x) { return TD(st::sin(x)); }, [](double v) { return std::sin(v); }, -3, 3},
      {"cos", [](const TD& x) { return TD(st::cos(x)); }, [](double v) { return std::cos(v); }, -3, 3},
      {"tanh", [](const TD& x) { return TD(st::tanh(x)); }, [](double v) { return std::tanh(v); }, -3, 3},
      {"sigmoid", [](const TD& x) { return TD(st::sigmoid(x)); }, [](double v) { return 1 / (1 + std::exp(-v)); }, -4, 4},
      {"relu", [](const TD& x) { return TD(st::relu(x)); }, [](double v) { return v > 0 ? v : 0; }, -2, 2},
      {"leaky_relu", [](const TD& x) { return TD(st::leaky_relu(x, 0.1)); }, [](double v) { return v > 0 ? v : 0.1 * v; }, -2, 2},
      {"elu", [](const TD& x) { return TD(st::elu(x, 1.5)); }, [](double v) { return v > 0 ? v : 1.5 * (std::exp(v) - 1); }, -2, 2},
      {"gelu", [](const TD& x) { return TD(st::gelu(x)); },
       [=](double v) { return 0.5 * v * (1 + std::erf(v * inv_sqrt2)); }, -3, 3},
      {"gelu_tanh", [](const TD& x) { return TD(st::gelu_tanh(x)); },
       [](double v) { return 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))); }, -3, 3},
      {"silu", [](const TD& x) { return TD(st::silu(x)); }, [](double v) { return v / (1 + std::exp(-v)); }, -3, 3},
      {"softplus", [](const TD& x) { return TD(st::softplus(x, 2.0, 5.0)); },
       [](double v) { return 2 * v > 5 ? v : std::log1p(std::exp(2 * v)) / 2; }, -4, 4},
      {"clamp", [](const TD& x) { return TD(st::clamp(x, -0.5, 0.7)); }, [](double v) { return std::min(std::max(v, -0.5), 0.7); }, -2, 2},
      {"pow_scalar", [](const TD& x) { return TD(st::pow(x, 2.5)); }, [](double v) { return std::pow(v, 2.5); }, 0.2, 2},
      {"scalar_div", [](const TD& x) { return TD(2.0 / x); }, [](double v) { return 2 / v; }, 0.5, 2},
  };
}

TD sample(const st::Shape& s, double lo, double hi) { return st::uniform<double>(s, lo, hi); }
}  // namespace

TEST_CASE("unary ops match the C library on contiguous, transposed and sliced inputs", "[expr][ops]") {
  st::manual_seed(7);
  for (const auto& u : unary_ops()) {
    INFO(u.name);
    const TD x = sample({4, 6}, u.lo, u.hi);
    for (const TD& in : {x, x.t(), x.slice(1, 1, 6, 2)}) {
      const TD y = u.op(in);
      testing::check_values(y, [&](std::int64_t i) { return u.ref(testing::at(in, y.shape(), i)); }, 1e-12, 1e-12);
    }
  }
}

TEST_CASE("unary ops in float agree with double within float precision (SIMD and tail lanes)", "[expr][ops][float]") {
  st::manual_seed(8);
  // 37 elements: full SIMD batches and a scalar tail.
  const auto xf = st::uniform<float>({37}, 0.3, 2.0);
  const auto xv = xf.to_vector();
  const auto xd = st::from_vector<double>(std::vector<double>(xv.begin(), xv.end()));
  st::Tensor yf = st::sigmoid(xf) * st::tanh(xf) + st::log(xf) * st::sqrt(xf) - st::exp(-xf) + st::gelu(xf) +
                  st::pow(xf, 1.5) + st::pow(xf, xf);
  TD yd = st::sigmoid(xd) * st::tanh(xd) + st::log(xd) * st::sqrt(xd) - st::exp(-xd) + st::gelu(xd) +
          st::pow(xd, 1.5) + st::pow(xd, xd);
  testing::check_values(yf, [&](std::int64_t i) { return testing::at(yd, yd.shape(), i); }, 1e-5, 1e-6);
}

TEST_CASE("binary ops broadcast tensors and scalars like NumPy", "[expr][ops][broadcast]") {
  st::manual_seed(9);
  const TD a = sample({3, 1, 4}, 0.5, 2), b = sample({5, 4}, 0.5, 2);
  const st::Shape out{3, 5, 4};
  using B = std::function<double(double, double)>;
  const std::vector<std::pair<TD, B>> cases = {
      {a + b, [](double p, double q) { return p + q; }},    {a - b, [](double p, double q) { return p - q; }},
      {a * b, [](double p, double q) { return p * q; }},    {a / b, [](double p, double q) { return p / q; }},
      {st::pow(a, b), [](double p, double q) { return std::pow(p, q); }},
      {st::minimum(a, b), [](double p, double q) { return std::min(p, q); }},
      {st::maximum(a, b), [](double p, double q) { return std::max(p, q); }},
      {a < b, [](double p, double q) { return double(p < q); }}, {a <= b, [](double p, double q) { return double(p <= q); }},
      {a > b, [](double p, double q) { return double(p > q); }}, {a >= b, [](double p, double q) { return double(p >= q); }},
      {a == b, [](double p, double q) { return double(p == q); }},              {a != b, [](double p, double q) { return double(p != q); }},
  };
  for (const auto& [y, f] : cases) {
    REQUIRE(y.shape() == out);
    testing::check_values(y, [&](std::int64_t i) { return f(testing::at(a, out, i), testing::at(b, out, i)); }, 1e-12);
  }
  const TD w = st::where(a > 1.0, a, b * 2.0);
  testing::check_values(w, [&](std::int64_t i) {
    const double p = testing::at(a, out, i), q = testing::at(b, out, i);
    return p > 1.0 ? p : 2 * q;
  });
  const TD s = 1.0 - a * 3.0 + 0.5;
  testing::check_values(s, [&](std::int64_t i) { return 1.0 - testing::at(a, a.shape(), i) * 3.0 + 0.5; });
}

TEST_CASE("0-d and empty tensors evaluate", "[expr][ops][edge]") {
  const TD s = st::scalar_tensor(2.0);
  const TD y = s * s + 1.0;
  CHECK(y.dim() == 0);
  CHECK(y.item() == 5.0);
  const TD e = st::zeros<double>({0, 3});
  const TD z = st::exp(e) + 1.0;
  CHECK(z.shape() == st::Shape{0, 3});
  const TD sb = s + st::ones<double>({2, 2});
  CHECK(sb.to_vector() == std::vector<double>(4, 3.0));
}

TEST_CASE("domain edges give NaN and inf as PyTorch does", "[expr][ops][edge]") {
  const TD x = st::from_vector<double>({-1.0, 0.0, 1.0});
  CHECK(std::isnan(TD(st::log(x)).to_vector()[0]));
  CHECK(TD(st::log(x)).to_vector()[1] == -INFINITY);
  CHECK(std::isnan(TD(st::sqrt(x)).to_vector()[0]));
  CHECK(TD(1.0 / x).to_vector()[1] == INFINITY);
  const st::Tensor big = st::from_vector<float>({-1e4f, 1e4f});
  const auto sg = st::Tensor(st::sigmoid(big)).to_vector();
  CHECK(sg[0] == 0.0f);
  CHECK(sg[1] == 1.0f);
  CHECK(st::Tensor(st::softplus(big)).to_vector()[1] == 1e4f);
}

TEMPLATE_TEST_CASE("comparisons with NaN give C++'s (and PyTorch's) answers in SIMD lanes and tails alike",
                   "[expr][ops][edge]", float, double) {
  using T = TestType;
  // 70 elements: full vectors of every width, then a scalar tail. NaN against numbers, NaN and itself.
  std::vector<T> av(70), bv(70);
  for (std::size_t i = 0; i < av.size(); ++i) {
    av[i] = i % 3 == 0 ? std::numeric_limits<T>::quiet_NaN() : T(i % 5);
    bv[i] = i % 7 == 0 ? std::numeric_limits<T>::quiet_NaN() : T(i % 4);
  }
  const st::TensorOf<T> a = st::from_vector<T>(av), b = st::from_vector<T>(bv);
  const auto check = [&](const st::TensorOf<T>& m, auto op, const char* name, bool self = false) {
    const auto got = m.to_vector();
    for (std::size_t i = 0; i < av.size(); ++i) {
      const T y = self ? av[i] : bv[i];
      INFO(name << " at " << i << ": " << av[i] << " vs " << y);
      CHECK(got[i] == (op(av[i], y) ? T(1) : T(0)));
    }
  };
  check(a == b, [](T x, T y) { return x == y; }, "==");
  check(a != b, [](T x, T y) { return x != y; }, "!=");
  check(a < b, [](T x, T y) { return x < y; }, "<");
  check(a <= b, [](T x, T y) { return x <= y; }, "<=");
  check(a > b, [](T x, T y) { return x > y; }, ">");
  check(a >= b, [](T x, T y) { return x >= y; }, ">=");
  check(a != a, [](T x, T y) { return x != y; }, "a != a", true);
}

TEST_CASE("every differentiable op passes gradcheck in double", "[expr][ops][grad]") {
  st::manual_seed(11);
  for (const auto& u : unary_ops()) {
    if (std::string(u.name) == "relu" || std::string(u.name) == "leaky_relu" || std::string(u.name) == "abs" ||
        std::string(u.name) == "clamp" || std::string(u.name) == "elu") {
      // kinks: sample away from them
      TD x = st::from_vector<double>({-1.3, -0.8, -0.2, 0.3, 0.9, 1.6});
      INFO(u.name);
      CHECK(st::gradcheck([&](const std::vector<TD>& in) { return u.op(in[0]); }, {x.requires_grad_()}));
      continue;
    }
    INFO(u.name);
    const TD x = sample({2, 3}, u.lo, u.hi).requires_grad_();
    CHECK(st::gradcheck([&](const std::vector<TD>& in) { return u.op(in[0]); }, {x}));
  }
  const TD a = sample({2, 1, 3}, 0.5, 2).requires_grad_(), b = sample({4, 3}, 0.5, 2).requires_grad_();
  using F = std::function<TD(const TD&, const TD&)>;
  const std::vector<F> binary = {
      [](const TD& p, const TD& q) { return TD(p + q); },  [](const TD& p, const TD& q) { return TD(p - q); },
      [](const TD& p, const TD& q) { return TD(p * q); },  [](const TD& p, const TD& q) { return TD(p / q); },
      [](const TD& p, const TD& q) { return TD(st::pow(p, q)); },
      [](const TD& p, const TD& q) { return TD(st::minimum(p, q * 0.9)); },
      [](const TD& p, const TD& q) { return TD(st::maximum(p, q * 0.9)); },
      [](const TD& p, const TD& q) { return TD(st::where(p > 1.0, p * q, q - p)); },
  };
  for (std::size_t k = 0; k < binary.size(); ++k) {
    INFO("binary op " << k);
    CHECK(st::gradcheck([&](const std::vector<TD>& in) { return binary[k](in[0], in[1]); }, {a, b}));
  }
}

TEST_CASE("random compositions of 3 to 6 ops with broadcasting pass gradcheck", "[expr][ops][grad]") {
  st::manual_seed(12);
  const TD x = sample({3, 4}, 0.5, 1.5).requires_grad_(), y = sample({4}, 0.5, 1.5).requires_grad_(),
           z = sample({3, 1}, 0.5, 1.5).requires_grad_();
  const std::vector<testing::Fn> fns = {
      [](const auto& v) { return TD(st::tanh(v[0] * v[1] + v[2])); },
      [](const auto& v) { return TD(st::sigmoid(v[0] - v[1]) * st::exp(v[2]) / (v[0] + 1.0)); },
      [](const auto& v) { return TD(st::log(v[0] * v[0] + v[1]) * st::silu(v[2] - v[1]) + st::sqrt(v[0])); },
      [](const auto& v) { return TD(st::gelu(v[0] * v[2]) - st::softplus(v[1]) * st::cos(v[0] + v[1] + v[2])); },
      [](const auto& v) { return TD(st::pow(v[0], v[1]) * st::elu(v[2] - 1.0) + st::rsqrt(v[1] + v[0] * v[2])); },
      [](const auto& v) { return TD(st::where(v[0] > v[1], st::sin(v[0]) * v[2], st::log1p(v[1] * v[2])) * v[0]); },
  };
  for (std::size_t k = 0; k < fns.size(); ++k) {
    INFO("composition " << k);
    CHECK(st::gradcheck(fns[k], {x, y, z}));
  }
}
