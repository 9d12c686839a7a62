// SPDX-License-Identifier: Apache-2.0
// Issue 5's GPU workloads, timed on the device (bench/cuda/run.sh runs them, then the same workloads in PyTorch eager
// in the same command, and prints one table): the device copy bandwidth (the roof), the fused statement
// y = sigmoid(a*x + b) * tanh(x) forward and forward + backward on 64M floats, the cost of one small statement, and
// training steps of the MLP and LeNet-5 at batch 256 (Fashion-MNIST shapes, SGD with momentum, synthetic data).
// Every workload first checks its values against the CPU backend and its kernel counts, so a run that prints a time
// also computed the right thing. Built by nvcc (target device_bench); g++ builds it for Thrust's OpenMP system as a
// test (--smoke: small sizes, the same checks). Usage: device_bench [--smoke] [--n N] [--batch B]
#include <sinter/cuda.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#if SINTER_THRUST_CUDA
#include <cuda_runtime.h>
#endif

#include <sinter/optim.hpp>

#include "compare/timing.hpp"
#include "models.hpp"

namespace st = sinter;
namespace nn = sinter::nn;

namespace {

/// bench::result's line under "device.", flushed (run.sh tees it while the next workload runs).
void result(const std::string& key, double value, const char* unit) {
  bench::result(("device." + key).c_str(), value, unit);
  std::fflush(stdout);
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "device_bench: %s\n", what.c_str());
  std::exit(1);
}

/// Seconds per call of f: warm-up, a batch calibrated to at least 20 ms (the device drained before and after each
/// batch, so queued kernels are counted), the median of 5 batches.
template <class F>
double seconds_per_call(F&& f) {
  using clock = std::chrono::steady_clock;
  auto batch = [&](long reps) {
    st::cuda::synchronize();
    const auto t0 = clock::now();
    for (long i = 0; i < reps; ++i) f();
    st::cuda::synchronize();
    return std::chrono::duration<double>(clock::now() - t0).count();
  };
  batch(1);
  long reps = 1;
  for (double s = batch(reps); s < 0.02 && reps < (1L << 22); s = batch(reps)) reps *= s < 0.002 ? 10 : 2;
  std::vector<double> t;
  for (int k = 0; k < 5; ++k) t.push_back(batch(reps) / static_cast<double>(reps));
  std::nth_element(t.begin(), t.begin() + 2, t.end());
  return t[2];
}

/// Largest |a - b| / (atol + rtol |b|) over two tensors (any devices): at most 1 passes.
double mismatch(const st::Tensor& a, const st::Tensor& b, double atol = 1e-5, double rtol = 1e-4) {
  const auto x = a.to(st::kCPU).to_vector(), y = b.to(st::kCPU).to_vector();
  if (x.size() != y.size()) fail("compared tensors differ in size");
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i)
    worst = std::max(worst, std::abs(double(x[i]) - double(y[i])) / (atol + rtol * std::abs(double(y[i]))));
  return worst;
}

void check(bool ok, const std::string& what) {
  if (!ok) fail("check failed: " + what);
}

/// The roof: bytes read and written per second by a device-to-device copy of n floats.
double copy_bandwidth(std::int64_t n) {
  st::Tensor src = st::randn({n}).to(st::kCUDA), dst = st::zeros({n}, st::kCUDA);
  dst.copy_(src);
  check(mismatch(dst, src, 0, 0) == 0, "copy_ on the device");
  const double bytes = 2.0 * 4.0 * static_cast<double>(n);
  const double s = seconds_per_call([&] { dst.copy_(src); });
  result("copy.sinter_copy_", bytes / s / 1e9, "GB/s");
  double best = bytes / s;
#if SINTER_THRUST_CUDA
  // The driver's own copy, the figure the issue quotes (about 3 TB/s on an H100).
  const double m = seconds_per_call([&] {
    if (cudaMemcpyAsync(dst.data(), src.data(), 4 * static_cast<std::size_t>(n), cudaMemcpyDeviceToDevice,
                        st::thrust_backend::stream()) != cudaSuccess)
      fail("cudaMemcpyAsync failed");
  });
  result("copy.cudaMemcpy", bytes / m / 1e9, "GB/s");
  best = std::max(best, bytes / m);
#endif
  return best;
}

/// y = sigmoid(a*x + b) * tanh(x) on n floats: forward alone, then forward + backward into existing gradients.
void fused_statement(std::int64_t n, double roof) {
  st::manual_seed(1);
  st::Tensor xc = st::randn({n}).requires_grad_(), ac = st::randn({n}).requires_grad_(),
             bc = st::randn({n}).requires_grad_(), gc = st::randn({n});
  st::Tensor x = xc.detach().to(st::kCUDA).requires_grad_(), a = ac.detach().to(st::kCUDA).requires_grad_(),
             b = bc.detach().to(st::kCUDA).requires_grad_(), g = gc.to(st::kCUDA);
  // Values and gradients against the CPU backend, and the fusion contract's counts (1 kernel each way).
  st::Tensor yc = st::sigmoid(ac * xc + bc) * st::tanh(xc);
  yc.backward(gc);
  st::reset_counters();
  st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
  check(st::counters().kernels == 1, "the forward is one kernel");
  st::reset_counters();
  y.backward(g);
  check(st::counters().kernels == 1, "the backward is one kernel");
  check(mismatch(y, yc) <= 1 && mismatch(x.grad(), xc.grad()) <= 1 && mismatch(a.grad(), ac.grad()) <= 1 &&
            mismatch(b.grad(), bc.grad()) <= 1,
        "the statement's values and gradients match the CPU's");
  const double nf = static_cast<double>(n);
  const std::string size = std::to_string(n);
  const double f = seconds_per_call([&] {
    st::NoGradGuard no_grad;
    st::Tensor out = st::sigmoid(a * x + b) * st::tanh(x);
  });
  result("eltwise_forward_" + size + ".ms", f * 1e3, "ms");
  result("eltwise_forward_" + size + ".bandwidth", 16.0 * nf / f / 1e9, "GB/s");  // reads x, a, b; writes y
  const double fb = seconds_per_call([&] {
    st::Tensor out = st::sigmoid(a * x + b) * st::tanh(x);
    out.backward(g);
  });
  // Minimal traffic (issue 3's count): forward 16 bytes per element; backward reads x, a, b, dy and the three
  // gradients and writes them, 40 bytes.
  result("eltwise_forward_backward_" + size + ".ms", fb * 1e3, "ms");
  result("eltwise_forward_backward_" + size + ".bandwidth", 56.0 * nf / fb / 1e9, "GB/s");
  result("eltwise_forward_backward_" + size + ".fraction_of_copy", 56.0 * nf / fb / roof, "x");
}

/// One statement on 16 floats, forward only: what a statement costs beyond its arithmetic (launch and bookkeeping).
void small_statement() {
  st::Tensor x = st::randn({16}).to(st::kCUDA), a = st::randn({16}).to(st::kCUDA), b = st::randn({16}).to(st::kCUDA);
  st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
  check(mismatch(y, st::sigmoid(a.to(st::kCPU) * x.to(st::kCPU) + b.to(st::kCPU)) * st::tanh(x.to(st::kCPU))) <= 1,
        "the 16-float statement matches the CPU's");
  const double s = seconds_per_call([&] { st::Tensor out = st::sigmoid(a * x + b) * st::tanh(x); });
  result("statement_16.us", s * 1e6, "us");
}

/// One SGD-with-momentum step of `model` on a batch of synthetic inputs and labels on the device; first one step on
/// the CPU and one on the device from the same weights, whose losses and updated weights must agree.
template <class MakeModel>
void training_step(const std::string& key, MakeModel make_model, st::Shape in_shape, double flop_per_sample) {
  st::manual_seed(2);
  auto cpu_model = make_model();
  auto model = make_model();
  {
    st::NoGradGuard no_grad;
    auto from = cpu_model.parameters(), to = model.parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].copy_(from[i]);
  }
  model.to(st::kCUDA);
  const st::Tensor xc = st::randn(in_shape);
  const st::LongTensor yc = st::randint(0, 10, {in_shape[0]});
  const st::Tensor x = xc.to(st::kCUDA);
  const st::LongTensor y = yc.to(st::kCUDA);
  st::optim::SGD cpu_opt(cpu_model.parameters(), st::optim::SGDOptions(0.01).momentum(0.9));
  st::optim::SGD opt(model.parameters(), st::optim::SGDOptions(0.01).momentum(0.9));
  auto step = [](auto& m, auto& o, const st::Tensor& in, const st::LongTensor& target) {
    o.zero_grad();
    st::Tensor loss = nn::F::cross_entropy(m(in), target);
    loss.backward();
    o.step();
    return loss;
  };
  const st::Tensor lc = step(cpu_model, cpu_opt, xc, yc), ld = step(model, opt, x, y);
  check(mismatch(ld, lc, 1e-4, 1e-3) <= 1, key + ": the device's loss matches the CPU's");
  auto pc = cpu_model.parameters(), pd = model.parameters();
  for (std::size_t i = 0; i < pc.size(); ++i)
    check(mismatch(pd[i], pc[i], 1e-4, 1e-3) <= 1, key + ": parameter " + std::to_string(i) + " after one step");
  const double s = seconds_per_call([&] { step(model, opt, x, y); });
  result("train." + key + ".ms", s * 1e3, "ms");
  result("train." + key + ".samples_per_s", static_cast<double>(in_shape[0]) / s, "samples/s");
  result("train." + key + ".gflops", flop_per_sample * static_cast<double>(in_shape[0]) / s / 1e9, "GFLOP/s");
}

std::string device_name() {
#if SINTER_THRUST_CUDA
  cudaDeviceProp p{};
  if (cudaGetDeviceProperties(&p, 0) == cudaSuccess) return p.name;
#endif
  return "host memory";
}

}  // namespace

int main(int argc, char** argv) {
  bool smoke = false;
  std::int64_t n = std::int64_t{64} << 20, batch = 256;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--smoke") smoke = true, n = std::int64_t{1} << 16, batch = 16;
    else if (arg == "--n" && i + 1 < argc) n = std::atoll(argv[++i]);
    else if (arg == "--batch" && i + 1 < argc) batch = std::atoll(argv[++i]);
    else fail("usage: device_bench [--smoke] [--n N] [--batch B]");
  }
  if (!st::cuda::is_available()) {
    std::printf("device_bench: no device (%s); nothing measured\n", st::cuda::backend_name());
    return 77;
  }
  std::printf("# device_bench: %s through %s, n = %lld, batch %lld\n", device_name().c_str(),
              st::cuda::backend_name(), static_cast<long long>(n), static_cast<long long>(batch));
  const double roof = copy_bandwidth(n);
  fused_statement(n, roof);
  small_statement();
  training_step("mlp_b" + std::to_string(batch), bench::mlp, {batch, 784}, bench::mlp_step_flops_per_sample());
  training_step("lenet5_b" + std::to_string(batch), bench::lenet5, {batch, 1, 28, 28},
                bench::lenet5_step_flops_per_sample());
  std::printf("device_bench: all checks passed%s\n", smoke ? " (smoke sizes)" : "");
  return 0;
}
