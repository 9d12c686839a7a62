// SPDX-License-Identifier: Apache-2.0
// The device backend. CI compiles this file with g++ for Thrust's OpenMP system, so every statement below runs
// through the Thrust evaluator, the device allocator and the transfer hooks that nvcc builds for CUDA; nvcc builds
// it too (test_thrust_cuda.cu), and that binary runs where a GPU is present. Each result is checked against the CPU
// backend (float 1e-5 relative, double 1e-12), with the same kernel counts.
#include <sinter/cuda.hpp>
#include <sinter/nn.hpp>
#include <sinter/optim.hpp>

#include <support/reference.hpp>

namespace st = sinter;

namespace plain_tu {  // tests/backend/plain_tu.cpp, compiled without device kernels
st::Tensor shared_statement(const st::Tensor& a, const st::Tensor& x, const st::Tensor& b);
st::Tensor unique_statement(const st::Tensor& x);
}  // namespace plain_tu

namespace {

template <class T>
double tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

/// Same shape and values within the tolerance of T, relative to the largest magnitude of the reference.
template <class T>
void check_same(const st::TensorOf<T>& cpu, const st::TensorOf<T>& dev) {
  REQUIRE(dev.device() == st::kCUDA);
  REQUIRE(cpu.shape() == dev.shape());
  const auto want = cpu.to_vector(), have = dev.to_vector();
  double scale = 1;
  for (T v : want) scale = std::max(scale, std::fabs(double(v)));
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const bool ok = std::isnan(double(want[i])) ? std::isnan(double(have[i]))
                                                 : std::fabs(double(have[i]) - double(want[i])) <= tolerance<T>() * scale;
    if (!ok && bad++ == 0) first = i;
  }
  INFO(bad << " of " << want.size() << " elements differ; the first, element " << first << ": cpu "
            << (want.empty() ? 0 : want[first]) << ", device " << (have.empty() ? 0 : have[first]));
  CHECK(bad == 0);
}

/// Kernels and allocations of f() on the calling thread.
template <class F>
std::pair<std::size_t, std::size_t> counts(F&& f) {
  st::reset_counters();
  f();
  return {st::counters().kernels, st::counters().allocations};
}

}  // namespace

TEST_CASE("the device backend names its system", "[backend][thrust]") {
  CHECK(st::cuda::is_available());
#if SINTER_THRUST_CUDA
  CHECK(std::string(st::cuda::backend_name()) == "CUDA");
#else
  CHECK(st::cuda::device_count() == 1);
  CHECK(std::string(st::cuda::backend_name()).find("OpenMP") != std::string::npos);
#endif
}

TEST_CASE("a file without device kernels runs the statements other files compiled", "[backend][thrust][table]") {
  st::manual_seed(8);
  const st::Tensor a = st::randn({100}), x = st::randn({100}), b = st::randn({100});
  const st::Tensor ad = a.to(st::kCUDA), xd = x.to(st::kCUDA), bd = b.to(st::kCUDA);
  const st::Tensor here = st::sigmoid(ad * xd + bd) * st::tanh(xd);  // instantiates the kernels in this file
  st::reset_counters();
  const st::Tensor there = plain_tu::shared_statement(ad, xd, bd);
  CHECK(st::counters(st::kCUDA).kernels == 1);
  CHECK(there.to_vector() == here.to_vector());
  // The plain file's own statement has no device kernel anywhere: the error says which file to compile how.
  REQUIRE_THROWS_WITH(plain_tu::unique_statement(xd),
                      Catch::Contains("sinter: expression: no translation unit of this program compiled this "
                                      "statement for cuda:0") &&
                          Catch::Contains("nvcc") && Catch::Contains("sinter::cuda"));
  // On the CPU it runs as usual.
  CHECK(plain_tu::unique_statement(x).numel() == 100);
}

TEST_CASE("tensors move to the device and back unchanged", "[backend][thrust][transfer]") {
  st::manual_seed(3);
  const st::Tensor x = st::randn({3, 4, 5});
  st::reset_counters();
  const st::Tensor d = x.to(st::kCUDA);
  CHECK(st::counters(st::kCUDA).kernels == 1);  // one transfer
  CHECK(st::counters(st::kCUDA).allocations == 1);
  CHECK(d.device() == st::kCUDA);
  CHECK(d.to(st::kCPU).to_vector() == x.to_vector());
  CHECK(d.to_vector() == x.to_vector());
  CHECK(d[1][2][3].item() == x[1][2][3].item());

  // Views move through a contiguous staging copy: a transpose and a slice.
  const st::Tensor t = x.transpose(0, 2).to(st::kCUDA);
  CHECK(t.to_vector() == x.transpose(0, 2).contiguous().to_vector());
  const st::Tensor s = d.slice(1, 1, 3).to(st::kCPU);
  CHECK(s.to_vector() == x.slice(1, 1, 3).contiguous().to_vector());

  // Factories and fills on the device; int64 and double too.
  CHECK(st::zeros({4}, st::kCUDA).to_vector() == std::vector<float>(4, 0.f));
  CHECK(st::full({2, 2}, 2.5f, st::kCUDA).to_vector() == std::vector<float>(4, 2.5f));
  CHECK(st::arange<double>(5, st::kCUDA).to_vector() == std::vector<double>{0, 1, 2, 3, 4});
  const auto idx = st::from_vector<std::int64_t>({4, 1, 7}).to(st::kCUDA);
  CHECK(idx.to_vector() == std::vector<std::int64_t>{4, 1, 7});
  CHECK(d.to<double>().to_vector() == x.to<double>().to_vector());

  // Printing reads through the host.
  std::ostringstream os;
  os << st::ones({2}, st::kCUDA);
  CHECK(os.str().find("1") != std::string::npos);
}

TEST_CASE("the fusion contract holds on the device with the CPU's counts", "[backend][thrust][fusion]") {
  st::manual_seed(4);
  const std::int64_t n = 10000;
  st::Tensor xc = st::randn({n}).requires_grad_(), ac = st::randn({n}).requires_grad_(),
             bc = st::randn({n}).requires_grad_();
  st::Tensor xd = xc.detach().to(st::kCUDA).requires_grad_(), ad = ac.detach().to(st::kCUDA).requires_grad_(),
             bd = bc.detach().to(st::kCUDA).requires_grad_();
  st::Tensor yc, yd;
  const auto fc = counts([&] { yc = st::sigmoid(ac * xc + bc) * st::tanh(xc); });
  const auto fd = counts([&] { yd = st::sigmoid(ad * xd + bd) * st::tanh(xd); });
  CHECK(fd == std::pair<std::size_t, std::size_t>{1, 1});
  CHECK(fd == fc);
  CHECK(st::counters(st::kCPU).kernels == 0);
  check_same(yc, yd);
  CHECK(yd.grad_fn_name() == "MulBackward");

  const st::Tensor gc = st::randn({n}), gd = gc.to(st::kCUDA);
  const auto bwc = counts([&] { yc.backward(gc, true); });
  const auto bwd = counts([&] { yd.backward(gd, true); });
  CHECK(bwd.first == 1);  // one kernel writes x.grad, a.grad and b.grad
  CHECK(bwd == bwc);
  check_same(xc.grad(), xd.grad());
  check_same(ac.grad(), ad.grad());
  check_same(bc.grad(), bd.grad());
  CHECK(xd.grad().device() == st::kCUDA);

  // A second backward accumulates, in the same single kernel.
  const auto acc = counts([&] { yd.backward(gd); });
  CHECK(acc == std::pair<std::size_t, std::size_t>{1, 0});
  yc.backward(gc);
  check_same(xc.grad(), xd.grad());
}

TEMPLATE_TEST_CASE("every element-wise op agrees with the CPU, forward and backward", "[backend][thrust][ops]", float,
                   double) {
  using T = TestType;
  using Tn = st::TensorOf<T>;
  st::manual_seed(5);
  // Operands of ranks 0 to 3 that broadcast together, one of them a transposed (non-contiguous) view, one positive.
  const Tn a0 = st::randn<T>({4, 3, 5}), b0 = st::randn<T>({5, 3}).transpose(0, 1), c0 = st::randn<T>({4, 1, 1}),
           p0 = st::rand<T>({3, 5}) + T(0.5);
  const auto cuda = [](const Tn& t) { return t.to(st::kCUDA); };
  auto run = [&](auto f) {
    Tn a = a0.clone().requires_grad_(), b = b0.transpose(0, 1).clone().transpose(0, 1).requires_grad_(),
       c = c0.clone().requires_grad_(),
       p = p0.clone().requires_grad_();
    Tn ad = cuda(a0).requires_grad_(), cd = cuda(c0).requires_grad_(), pd = cuda(p0).requires_grad_();
    // The same non-contiguous view on the device: a transposed leaf.
    Tn bd = cuda(b0.transpose(0, 1).contiguous()).transpose(0, 1).requires_grad_();
    REQUIRE(!bd.is_contiguous());
    const Tn yc = f(a, b, c, p), yd = f(ad, bd, cd, pd);
    check_same(yc, yd);
    const Tn g = st::randn<T>(yc.shape());
    yc.backward(g);
    yd.backward(cuda(g));
    check_same(a.grad(), ad.grad());
    check_same(b.grad(), bd.grad());
    check_same(c.grad(), cd.grad());
    check_same(p.grad(), pd.grad());
  };
  SECTION("arithmetic, broadcasting and a leaf used three times") {
    run([](const Tn& a, const Tn& b, const Tn& c, const Tn& p) -> Tn {
      return (a * b - c / p + T(2)) * a - a / (p + T(1)) + (-c);
    });
  }
  SECTION("exp log log1p sqrt rsqrt abs pow") {
    run([](const Tn& a, const Tn& b, const Tn& c, const Tn& p) -> Tn {
      return st::exp(a * T(0.3)) + st::log(p) * b + st::log1p(p) * c + st::sqrt(p) + st::rsqrt(p) * a +
             st::abs(b) + st::pow(p, c) + st::pow(p, T(1.5));
    });
  }
  SECTION("sin cos tanh sigmoid and the activations") {
    run([](const Tn& a, const Tn& b, const Tn& c, const Tn& p) -> Tn {
      return st::sin(a) * st::cos(b) + st::tanh(c) + st::sigmoid(a * b) + st::relu(a) + st::leaky_relu(b, T(0.1)) +
             st::elu(c) + st::gelu(a) + st::gelu_tanh(b) + st::silu(c) + st::softplus(a) * p;
    });
  }
  SECTION("clamp minimum maximum where and comparisons") {
    run([](const Tn& a, const Tn& b, const Tn& c, const Tn& p) -> Tn {
      return st::clamp(a, T(-0.5), T(0.5)) + st::minimum(a, b) * st::maximum(c, p) +
             st::where(a > b, a * c, b * p) + st::where(c <= T(0), T(1), p);
    });
  }
}

TEMPLATE_TEST_CASE("reductions agree with the CPU along every path of the device evaluator", "[backend][thrust][reduce]",
                   float, double) {
  using T = TestType;
  using Tn = st::TensorOf<T>;
  st::manual_seed(6);
  // [8, 3000, 40]: dim 2 folds 40 into 24000 outputs and dim 1 folds 3000 into 320 (a loop per output each), dim 0
  // folds 8 into 120000; all dims fold 960000 into one and dims 0 and 1 fold 24000 into 40 (chunks, then partials).
  const Tn x0 = st::randn<T>({8, 3000, 40});
  const auto check = [&](auto f) {
    Tn xc = x0.clone().requires_grad_(), xd = x0.to(st::kCUDA).requires_grad_();
    Tn yc, yd;
    const auto kc = counts([&] { yc = f(xc); });
    const auto kd = counts([&] { yd = f(xd); });
    CHECK(kc == kd);
    check_same(yc, yd);
    const Tn g = st::randn<T>(yc.shape());
    yc.backward(g);
    yd.backward(g.to(st::kCUDA));
    check_same(xc.grad(), xd.grad());
  };
  check([](const Tn& x) { return st::sum(x * x); });
  check([](const Tn& x) { return st::mean(st::exp(x * T(0.1))); });
  check([](const Tn& x) { return st::sum(x, {2}); });
  check([](const Tn& x) { return st::sum(st::sigmoid(x), {1}, true); });
  check([](const Tn& x) { return st::mean(x, {0}); });
  check([](const Tn& x) { return st::sum(x, {0, 2}); });
  check([](const Tn& x) { return st::sum(x * T(2), {0, 1}); });
  check([](const Tn& x) { return st::amax(x, {2}); });
  check([](const Tn& x) { return st::amin(x, {1}); });
  check([](const Tn& x) { return st::amax(x); });
  check([](const Tn& x) { return st::logsumexp(x, {2}); });
  check([](const Tn& x) { return st::logsumexp(x * T(100), {1}, true); });

  // Ties share the gradient, as on the CPU.
  Tn tc = st::from_vector<T>({1, 3, 3, 2}).requires_grad_(), td = tc.detach().to(st::kCUDA).requires_grad_();
  st::amax(tc).backward();
  st::amax(td).backward();
  check_same(tc.grad(), td.grad());
  CHECK(td.grad().to_vector() == std::vector<T>{0, 0.5, 0.5, 0});
}

TEST_CASE("in-place statements, copies and conversions on the device", "[backend][thrust][inplace]") {
  st::manual_seed(7);
  st::Tensor xc = st::randn({6, 7}), xd = xc.to(st::kCUDA);
  const st::Tensor bc = st::randn({7}), bd = bc.to(st::kCUDA);
  const auto kc = counts([&] { xc += bc * 2.f; });
  const auto kd = counts([&] { xd += bd * 2.f; });
  CHECK(kd == std::pair<std::size_t, std::size_t>{1, 0});
  CHECK(kc == kd);
  check_same(xc, xd);

  // Overlapping memory goes through a temporary, as on the CPU.
  xc.copy_(xc.transpose(0, 1).transpose(0, 1) * 0.5f);
  xd.copy_(xd.transpose(0, 1).transpose(0, 1) * 0.5f);
  check_same(xc, xd);

  // copy_ from the host into a device slice, with broadcasting.
  st::Tensor z = st::zeros({3, 4}, st::kCUDA);
  z.slice(0, 1, 2).copy_(st::from_vector<float>({1, 2, 3, 4}));
  CHECK(z.to_vector() == std::vector<float>{0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0});

  // float <-> double on the device keeps the gradient.
  st::Tensor w = st::randn({5}).to(st::kCUDA).requires_grad_();
  st::TensorOf<double> wd = w.to<double>();
  CHECK(wd.device() == st::kCUDA);
  st::sum(wd * wd).backward();
  const auto wv = w.to_vector(), gv = w.grad().to_vector();
  for (std::size_t i = 0; i < wv.size(); ++i) CHECK(gv[i] == Approx(2 * wv[i]));
}

TEST_CASE("mixing devices in a statement names both devices and the fix", "[backend][thrust][errors]") {
  const st::Tensor a = st::ones({3}), b = st::ones({3}, st::kCUDA);
  REQUIRE_THROWS_WITH(st::Tensor(a + b), Catch::Contains("sinter:") && Catch::Contains("cpu") &&
                                             Catch::Contains("cuda:0") && Catch::Contains(".to(device)"));
  st::Tensor c = st::zeros({3});
  REQUIRE_THROWS_WITH(c.copy_(b * 2.f), Catch::Contains("cuda:0") && Catch::Contains("cpu"));
  REQUIRE_THROWS_WITH(st::ones({2}, st::Device{st::DeviceType::CUDA, 1}), Catch::Contains("cuda:1"));
}

TEST_CASE("the device allocator caches blocks and reports its bytes", "[backend][thrust][memory]") {
  st::cuda::empty_cache();
  const auto before = st::cuda::memory_stats();
  {
    const st::Tensor t = st::empty({1000}, st::kCUDA);
    CHECK(st::cuda::memory_stats().live_bytes == before.live_bytes + 4032);  // 4000 bytes in a 64-byte class
  }
  CHECK(st::cuda::memory_stats().live_bytes == before.live_bytes);
  CHECK(st::cuda::memory_stats().cached_bytes == 4032);
  st::reset_counters();
  const st::Tensor again = st::empty({1000}, st::kCUDA);  // reuses the cached block
  CHECK(st::cuda::memory_stats().cached_bytes == 0);
  CHECK(st::counters(st::kCUDA).allocations == 1);
  st::cuda::empty_cache();
}

TEMPLATE_TEST_CASE("matmul agrees with the CPU in every case, forward and backward", "[backend][thrust][matmul]", float,
                   double) {
  using T = TestType;
  using Tn = st::TensorOf<T>;
  st::manual_seed(9);
  const auto check = [](const Tn& a0, const Tn& b0) {
    INFO("shapes " << a0.shape() << " and " << b0.shape());
    Tn a = a0.detach().requires_grad_(), b = b0.detach().requires_grad_();
    Tn ad = a0.detach().to(st::kCUDA).requires_grad_(), bd = b0.detach().to(st::kCUDA).requires_grad_();
    Tn yc, yd;
    const auto kc = counts([&] { yc = st::matmul(a, b); });
    const auto kd = counts([&] { yd = st::matmul(ad, bd); });
    CHECK(kc == kd);
    check_same(yc, yd);
    const Tn g = st::randn<T>(yc.shape());
    st::sum(yc * g).backward();
    st::sum(yd * g.to(st::kCUDA)).backward();
    check_same(a.grad(), ad.grad());
    check_same(b.grad(), bd.grad());
  };
  check(st::randn<T>({7}), st::randn<T>({7}));                   // dot
  check(st::randn<T>({5, 7}), st::randn<T>({7}));                // matrix . vector
  check(st::randn<T>({7}), st::randn<T>({7, 4}));                // vector . matrix
  check(st::randn<T>({5, 7}), st::randn<T>({7, 4}));             // matrix . matrix
  check(st::randn<T>({3, 5, 7}), st::randn<T>({7, 4}));          // batched . matrix (gradient folded over the batch)
  check(st::randn<T>({2, 1, 5, 7}), st::randn<T>({3, 7, 4}));    // broadcast batch dims
  check(st::randn<T>({7, 5}).transpose(0, 1), st::randn<T>({4, 7}).transpose(0, 1));  // transposed operands
  check(st::randn<T>({5, 7, 2}).slice(2, 0, 1).squeeze(2), st::randn<T>({7, 4}));     // no unit stride
}

TEST_CASE("an MLP trains on the device exactly as on the CPU", "[backend][thrust][nn]") {
  namespace nn = st::nn;
  st::manual_seed(10);
  auto make = [] {
    st::manual_seed(11);
    return nn::Sequential(nn::Linear(20, 32), nn::ReLU(), nn::Linear(32, 8), nn::Tanh(), nn::Linear(8, 3));
  };
  auto cpu_model = make(), dev_model = make();
  dev_model.to(st::kCUDA);
  for (auto& p : dev_model.parameters()) CHECK(p.device() == st::kCUDA);
  const st::Tensor x = st::randn({16, 20}), y = st::randn({16, 3});
  const st::Tensor xd = x.to(st::kCUDA), yd = y.to(st::kCUDA);
  st::optim::SGD opt_c(cpu_model.parameters(), st::optim::SGDOptions(0.05).momentum(0.9));
  st::optim::SGD opt_d(dev_model.parameters(), st::optim::SGDOptions(0.05).momentum(0.9));
  for (int step = 0; step < 5; ++step) {
    opt_c.zero_grad();
    opt_d.zero_grad();
    st::Tensor lc = nn::F::mse_loss(cpu_model.forward(x), y), ld = nn::F::mse_loss(dev_model.forward(xd), yd);
    lc.backward();
    ld.backward();
    check_same(lc, ld);
    opt_c.step();
    opt_d.step();
  }
  const auto pc = cpu_model.parameters(), pd = dev_model.parameters();
  for (std::size_t i = 0; i < pc.size(); ++i) check_same(pc[i], pd[i]);
}

TEMPLATE_TEST_CASE("softmax and log_softmax agree with the CPU along every dim", "[backend][thrust][softmax]", float,
                   double) {
  using T = TestType;
  using Tn = st::TensorOf<T>;
  st::manual_seed(12);
  Tn x0 = st::randn<T>({4, 5, 6}) * T(3);
  for (std::int64_t dim = -1; dim < 3; ++dim)
    for (bool log_ : {false, true}) {
      INFO("dim " << dim << (log_ ? " log_softmax" : " softmax"));
      Tn xc = x0.clone().requires_grad_(), xd = x0.to(st::kCUDA).requires_grad_();
      Tn yc, yd;
      const auto kc = counts([&] { yc = log_ ? st::log_softmax(xc, dim) : st::softmax(xc, dim); });
      const auto kd = counts([&] { yd = log_ ? st::log_softmax(xd, dim) : st::softmax(xd, dim); });
      CHECK(kd.first == 1);
      CHECK(kc == kd);
      check_same(yc, yd);
      const Tn g = st::randn<T>(yc.shape());
      yc.backward(g);
      const auto kb = counts([&] { yd.backward(g.to(st::kCUDA)); });
      CHECK(kb.first == 2);  // the transfer of g, then one backward kernel
      check_same(xc.grad(), xd.grad());
    }
  // An all -inf row: NaN for softmax, -inf for log_softmax, as on the CPU.
  const Tn m = st::full<T>({1, 3}, -std::numeric_limits<T>::infinity());
  check_same(st::softmax(m, 1), st::softmax(m.to(st::kCUDA), 1));
  check_same(st::log_softmax(m, 1), st::log_softmax(m.to(st::kCUDA), 1));
}

TEMPLATE_TEST_CASE("cross_entropy and nll_loss agree with the CPU in one kernel each way", "[backend][thrust][loss]",
                   float, double) {
  using T = TestType;
  using Tn = st::TensorOf<T>;
  namespace F = st::nn::F;
  st::manual_seed(13);
  const Tn x0 = st::randn<T>({9, 5}) * T(2);
  const auto t0 = st::from_vector<std::int64_t>({0, 4, 2, 2, -100, 1, 3, 0, 4});
  const auto td = t0.to(st::kCUDA);
  const auto check = [&](auto loss) {
    Tn xc = x0.clone().requires_grad_(), xd = x0.to(st::kCUDA).requires_grad_();
    Tn lc, ld;
    const auto kc = counts([&] { lc = loss(xc, t0); });
    const auto kd = counts([&] { ld = loss(xd, td); });
    CHECK(kd.first == 1);
    CHECK(kc.first == kd.first);
    check_same(lc, ld);
    const Tn g = st::randn<T>(lc.shape()), gd = g.to(st::kCUDA);
    lc.backward(g);
    const auto kb = counts([&] { ld.backward(gd); });
    CHECK(kb.first == 1);
    check_same(xc.grad(), xd.grad());
  };
  using O = F::CrossEntropyOptions;
  check([](const Tn& x, const st::LongTensor& t) { return F::cross_entropy(x, t); });
  check([](const Tn& x, const st::LongTensor& t) {
    return F::cross_entropy(x, t, O().reduction(st::nn::Reduction::Sum).label_smoothing(0.1));
  });
  check([](const Tn& x, const st::LongTensor& t) {
    return F::cross_entropy(x, t, O().reduction(st::nn::Reduction::None));
  });
  check([](const Tn& x, const st::LongTensor& t) { return F::nll_loss(x, t); });  // x read as log-probabilities
  // Errors read as on the CPU: a bad class index names it, and a target left on the host is named.
  const auto bad = st::from_vector<std::int64_t>({0, 7, 1}).to(st::kCUDA);
  REQUIRE_THROWS_WITH(F::cross_entropy(x0.slice(0, 0, 3).to(st::kCUDA), bad),
                      Catch::Contains("target 7 at row 1 is out of bounds for 5 classes"));
  REQUIRE_THROWS_WITH(F::cross_entropy(x0.to(st::kCUDA), t0), Catch::Contains("the target is on cpu"));
}

TEST_CASE("every optimiser steps on the device as on the CPU", "[backend][thrust][optim]") {
  namespace optim = st::optim;
  const auto run = [](auto make_opt) {
    st::manual_seed(14);
    const st::Tensor w0 = st::randn({40, 30}), x = st::randn({8, 40});
    st::Tensor wc = w0.clone().requires_grad_(), wd = w0.to(st::kCUDA).requires_grad_();
    const st::Tensor xd = x.to(st::kCUDA);
    auto oc = make_opt(std::vector<st::Tensor>{wc});
    auto od = make_opt(std::vector<st::Tensor>{wd});
    for (int step = 0; step < 4; ++step) {
      oc.zero_grad();
      od.zero_grad();
      st::sum(st::tanh(st::matmul(x, wc))).backward();
      st::sum(st::tanh(st::matmul(xd, wd))).backward();
      const auto kc = counts([&] { oc.step(); });
      const auto kd = counts([&] { od.step(); });
      CHECK(kc == kd);
      if (step > 0) CHECK(kd.first == 1);  // one kernel per parameter tensor once the state exists
    }
    check_same(wc.detach(), wd.detach());
  };
  run([](std::vector<st::Tensor> p) { return optim::SGD(p, optim::SGDOptions(0.1).momentum(0.9).nesterov(true)); });
  run([](std::vector<st::Tensor> p) { return optim::SGD(p, optim::SGDOptions(0.1).weight_decay(0.01)); });
  run([](std::vector<st::Tensor> p) { return optim::Adam(p, optim::AdamOptions(0.01).amsgrad(true)); });
  run([](std::vector<st::Tensor> p) { return optim::AdamW(p, optim::AdamWOptions(0.01)); });
  run([](std::vector<st::Tensor> p) {
    return optim::RMSprop(p, optim::RMSpropOptions(0.01).momentum(0.5).centered(true));
  });
  run([](std::vector<st::Tensor> p) { return optim::Adagrad(p, optim::AdagradOptions(0.1).lr_decay(0.01)); });
}

TEMPLATE_TEST_CASE("conv2d and pooling agree with the CPU, forward and backward", "[backend][thrust][conv]", float,
                   double) {
  using T = TestType;
  using Tn = st::TensorOf<T>;
  namespace F = st::nn::F;
  st::manual_seed(15);
  // conv2d is the one op whose algorithm differs by device: the CPU runs image by image in one pass (columns kept
  // in cache), a GPU im2col, one GEMM per group and a layout pass over the whole batch (device_kernels > 0).
  const auto check = [](const std::vector<Tn>& inputs, auto f, std::size_t device_kernels = 0) {
    std::vector<Tn> c, d;
    for (const auto& t : inputs) {
      c.push_back(t.clone().requires_grad_());
      d.push_back(t.to(st::kCUDA).requires_grad_());
    }
    Tn yc, yd;
    const auto kc = counts([&] { yc = f(c); });
    const auto kd = counts([&] { yd = f(d); });
    if (device_kernels > 0) {
      CHECK(kc.first == 1);
      CHECK(kd.first == device_kernels);
    } else {
      CHECK(kc.first == kd.first);
    }
    check_same(yc, yd);
    const Tn g = st::randn<T>(yc.shape());
    yc.backward(g);
    yd.backward(g.to(st::kCUDA));
    for (std::size_t i = 0; i < c.size(); ++i) check_same(c[i].grad(), d[i].grad());
  };
  const Tn x = st::randn<T>({2, 4, 9, 8}), w = st::randn<T>({6, 4, 3, 3}), b = st::randn<T>({6});
  check({x, w, b}, [](const std::vector<Tn>& v) { return F::conv2d(v[0], v[1], v[2]); }, 3);
  check({x, w, b}, [](const std::vector<Tn>& v) { return F::conv2d(v[0], v[1], v[2], {2, 1}, {1, 2}, {1, 2}); }, 3);
  check({x, st::randn<T>({6, 2, 3, 2})},
        [](const std::vector<Tn>& v) { return F::conv2d(v[0], v[1], Tn(), {1, 1}, {1, 0}, {1, 1}, 2); }, 4);
  // The CPU's direct paths (1x1 without columns, depthwise loops) against the device's im2col and GEMMs.
  check({x, st::randn<T>({5, 4, 1, 1}), st::randn<T>({5})},
        [](const std::vector<Tn>& v) { return F::conv2d(v[0], v[1], v[2]); }, 3);
  check({x, st::randn<T>({8, 1, 3, 3}), st::randn<T>({8})},
        [](const std::vector<Tn>& v) { return F::conv2d(v[0], v[1], v[2], {2, 1}, {1, 1}, {1, 1}, 4); }, 6);
  check({x}, [](const std::vector<Tn>& v) { return F::max_pool2d(v[0], {2, 2}); });
  check({x}, [](const std::vector<Tn>& v) { return F::max_pool2d(v[0], {3, 3}, std::array<std::int64_t, 2>{2, 2},
                                                                 {1, 1}, true); });
  check({x}, [](const std::vector<Tn>& v) { return F::avg_pool2d(v[0], {3, 2}, std::array<std::int64_t, 2>{2, 2},
                                                                 {1, 1}, false, false); });
  check({x}, [](const std::vector<Tn>& v) { return F::adaptive_avg_pool2d(v[0], {4, 3}); });
}

TEST_CASE("a LeNet-style CNN trains on the device as on the CPU", "[backend][thrust][nn]") {
  namespace nn = st::nn;
  namespace F = st::nn::F;
  auto make = [] {
    st::manual_seed(16);
    return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 4, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                          nn::Conv2d(4, 8, 5), nn::ReLU(), nn::AvgPool2d(2), nn::Flatten(), nn::Linear(8 * 5 * 5, 10));
  };
  auto cpu_model = make(), dev_model = make();
  dev_model.to(st::kCUDA);
  st::manual_seed(17);
  const st::Tensor x = st::randn({6, 1, 28, 28});
  const auto y = st::randint(0, 10, {6});
  const st::Tensor xd = x.to(st::kCUDA);
  const auto yd = y.to(st::kCUDA);
  st::optim::Adam oc(cpu_model.parameters(), st::optim::AdamOptions(1e-3));
  st::optim::Adam od(dev_model.parameters(), st::optim::AdamOptions(1e-3));
  for (int step = 0; step < 3; ++step) {
    oc.zero_grad();
    od.zero_grad();
    st::Tensor lc = F::cross_entropy(cpu_model.forward(x), y), ld = F::cross_entropy(dev_model.forward(xd), yd);
    lc.backward();
    ld.backward();
    check_same(lc, ld);
    oc.step();
    od.step();
  }
  const auto pc = cpu_model.parameters(), pd = dev_model.parameters();
  for (std::size_t i = 0; i < pc.size(); ++i) check_same(pc[i], pd[i]);
}

TEMPLATE_TEST_CASE("batch_norm and dropout agree with the CPU, running statistics included", "[backend][thrust][norm]",
                   float, double) {
  using T = TestType;
  using Tn = st::TensorOf<T>;
  namespace F = st::nn::F;
  st::manual_seed(18);
  const Tn x0 = st::randn<T>({5, 3, 4, 2}) * T(2) + T(1), w0 = st::randn<T>({3}), b0 = st::randn<T>({3});
  Tn xc = x0.clone().requires_grad_(), wc = w0.clone().requires_grad_(), bc = b0.clone().requires_grad_();
  Tn xd = x0.to(st::kCUDA).requires_grad_(), wd = w0.to(st::kCUDA).requires_grad_(),
     bd = b0.to(st::kCUDA).requires_grad_();
  Tn rmc = st::zeros<T>({3}), rvc = st::ones<T>({3}), rmd = st::zeros<T>({3}, st::kCUDA),
     rvd = st::ones<T>({3}, st::kCUDA);
  Tn yc, yd;
  const auto kc = counts([&] { yc = F::batch_norm(xc, rmc, rvc, wc, bc, true, 0.2); });
  const auto kd = counts([&] { yd = F::batch_norm(xd, rmd, rvd, wd, bd, true, 0.2); });
  CHECK(kd.first == 1);
  CHECK(kc.first == kd.first);
  check_same(yc, yd);
  check_same(rmc, rmd);
  check_same(rvc, rvd);
  const Tn g = st::randn<T>(yc.shape());
  yc.backward(g);
  yd.backward(g.to(st::kCUDA));
  check_same(xc.grad(), xd.grad());
  check_same(wc.grad(), wd.grad());
  check_same(bc.grad(), bd.grad());
  // Eval mode uses the running statistics.
  check_same(F::batch_norm(x0, rmc, rvc, w0, b0, false), F::batch_norm(x0.to(st::kCUDA), rmd, rvd, wd.detach(),
                                                                       bd.detach(), false));
  // The same seed gives the same dropout mask on both devices.
  st::manual_seed(19);
  const Tn dc = F::dropout(x0, 0.3);
  st::manual_seed(19);
  const Tn dd = F::dropout(x0.to(st::kCUDA), 0.3);
  check_same(dc, dd);
}

TEMPLATE_TEST_CASE("cat, stack, index_select, gather and Embedding agree with the CPU, forward and backward",
                   "[backend][thrust][index]", float, double) {
  using T = TestType;
  using Tn = st::TensorOf<T>;
  using Catch::Matchers::Contains;
  st::manual_seed(21);
  const Tn a0 = st::randn<T>({3, 4}), b0 = st::randn<T>({2, 4});
  Tn ac = a0.clone().requires_grad_(), bc = b0.clone().requires_grad_();
  Tn ad = a0.to(st::kCUDA).requires_grad_(), bd = b0.to(st::kCUDA).requires_grad_();
  Tn cc, cd;
  const auto kc = counts([&] { cc = st::cat({ac, bc}, 0); });
  const auto kd = counts([&] { cd = st::cat({ad, bd}, 0); });
  CHECK(kc.first == kd.first);
  check_same(cc, cd);
  const Tn gc = st::randn<T>(cc.shape());
  cc.backward(gc);
  cd.backward(gc.to(st::kCUDA));
  check_same(ac.grad(), ad.grad());
  check_same(bc.grad(), bd.grad());
  const Tn a2 = a0 * T(2);
  check_same(st::stack({a0, a2}, 1), st::stack({a0.to(st::kCUDA), a2.to(st::kCUDA)}, 1));

  // index_select along every dim, with a repeated and a negative index (the backward adds where indices repeat).
  const Tn x0 = st::randn<T>({4, 5, 3});
  const auto idx = st::from_vector<std::int64_t>({2, 0, -1, 2}, st::Shape{4});
  const auto idx_d = idx.to(st::kCUDA);
  for (int dim = 0; dim < 3; ++dim) {
    INFO("dim " << dim);
    Tn xc = x0.clone().requires_grad_(), xd = x0.to(st::kCUDA).requires_grad_();
    Tn yc, yd;
    const auto ic = counts([&] { yc = st::index_select(xc, dim, idx); });
    const auto id = counts([&] { yd = st::index_select(xd, dim, idx_d); });
    CHECK(id.first == 1);
    CHECK(ic.first == id.first);
    check_same(yc, yd);
    const Tn g = st::randn<T>(yc.shape());
    const auto bc_ = counts([&] { yc.backward(g); });
    const Tn gd = g.to(st::kCUDA);
    const auto bd_ = counts([&] { yd.backward(gd); });
    CHECK(bc_.first == bd_.first);
    check_same(xc.grad(), xd.grad());
  }
  CHECK_THROWS_WITH(st::index_select(x0.to(st::kCUDA), 1, st::from_vector<std::int64_t>({1, 7}).to(st::kCUDA)),
                    Contains("index_select: index 7 is out of bounds for dimension 1 with size 5"));
  CHECK_THROWS_WITH(st::index_select(x0.to(st::kCUDA), 1, idx), Contains("the index is on cpu"));

  // gather along the middle dim, indices in [-5, 5).
  const auto gi = st::randint(-5, 5, {4, 3, 2});
  const auto gi_d = gi.to(st::kCUDA);
  Tn xc = x0.clone().requires_grad_(), xd = x0.to(st::kCUDA).requires_grad_();
  Tn yc, yd;
  const auto gk = counts([&] { yc = st::gather(xc, 1, gi); });
  const auto gkd = counts([&] { yd = st::gather(xd, 1, gi_d); });
  CHECK(gk.first == gkd.first);
  check_same(yc, yd);
  const Tn g = st::randn<T>(yc.shape());
  yc.backward(g);
  yd.backward(g.to(st::kCUDA));
  check_same(xc.grad(), xd.grad());
  CHECK_THROWS_WITH(st::gather(x0.to(st::kCUDA), 1, st::full<std::int64_t>({4, 1, 1}, 5).to(st::kCUDA)),
                    Contains("gather: index 5 is out of bounds for dimension 1 with size 5"));

  // Embedding is index_select on its table.
  if constexpr (std::is_same_v<T, float>) {
    st::manual_seed(22);
    st::nn::Embedding ec(10, 4);
    st::manual_seed(22);
    st::nn::Embedding ed(10, 4);
    ed.to(st::kCUDA);
    const auto tokens = st::from_vector<std::int64_t>({1, 3, 3, 9}, st::Shape{2, 2});
    const st::Tensor ec_out = ec.forward(tokens), ed_out = ed.forward(tokens.to(st::kCUDA));
    check_same(ec_out, ed_out);
    const st::Tensor ge = st::randn(ec_out.shape());
    ec_out.backward(ge);
    ed_out.backward(ge.to(st::kCUDA));
    check_same(ec.weight.grad(), ed.weight.grad());
  }
}
