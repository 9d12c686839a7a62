// SPDX-License-Identifier: Apache-2.0
// The benchmark suite (Google Benchmark): element-wise fused vs unfused, reductions, softmax, GEMM shapes, conv
// shapes, and one training step of the MLP and of LeNet-5. Each reports bytes/s (memory-bound work, minimal
// traffic) or FLOP/s (compute-bound work) and a `roofline` counter: the fraction of the roof measured at start-up in
// the same run (STREAM triad bandwidth or FMA peak, bench/peaks.hpp). Read-only passes (sums) can exceed the triad,
// which also writes. The last argument of each case is the thread count.
// Usage: build/bench/bench/bench_suite [--benchmark_filter=REGEX]
#include <chrono>
#include <cstdio>
#include <map>

#include <benchmark/benchmark.h>

#include <sinter/nn.hpp>
#include <sinter/optim.hpp>
#include <sinter/sinter.hpp>

#include "models.hpp"
#include "peaks.hpp"

namespace st = sinter;

namespace {

std::map<int, double> g_triad_bytes, g_fma_flops;  // per thread count, per second

int use_threads(benchmark::State& state, int arg) {
  const int t = static_cast<int>(state.range(arg));
  st::set_num_threads(t);
  return t;
}

/// Wall time of a benchmark's timed loop, for the roofline fraction (Google Benchmark keeps its own to itself).
class LoopClock {
 public:
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count(); }

 private:
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
};

void set_bytes(benchmark::State& state, const LoopClock& clock, double bytes_per_iteration, int threads) {
  const double bytes = bytes_per_iteration * static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["roofline"] = bytes / clock.seconds() / g_triad_bytes[threads];
}

void set_flops(benchmark::State& state, const LoopClock& clock, double flops_per_iteration, int threads) {
  const double flops = flops_per_iteration * static_cast<double>(state.iterations());
  state.counters["FLOP/s"] = benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["roofline"] = flops / clock.seconds() / g_fma_flops[threads];
}

// ---- element-wise: one fused statement vs the same formula one op per statement --------------------------------
void BM_eltwise_fused(benchmark::State& state) {
  const int t = use_threads(state, 1);
  const std::int64_t n = state.range(0);
  st::Tensor x = st::randn({n}), a = st::randn({n}), b = st::randn({n});
  const LoopClock clock;
  for (auto _ : state) {
    st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, clock, 16.0 * n, t);  // reads x, a, b; writes y
}

void BM_eltwise_unfused(benchmark::State& state) {
  const int t = use_threads(state, 1);
  const std::int64_t n = state.range(0);
  st::Tensor x = st::randn({n}), a = st::randn({n}), b = st::randn({n});
  const LoopClock clock;
  for (auto _ : state) {
    st::Tensor ax = a * x;  // each statement is its own kernel and temporary, as in an op-by-op library
    st::Tensor z = ax + b;
    st::Tensor s = st::sigmoid(z);
    st::Tensor h = st::tanh(x);
    st::Tensor y = s * h;
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, clock, 16.0 * n, t);  // the same minimal traffic, so the two rates compare directly
}

void BM_eltwise_fused_fwdbwd(benchmark::State& state) {
  const int t = use_threads(state, 1);
  const std::int64_t n = state.range(0);
  st::Tensor x = st::randn({n}).requires_grad_(), a = st::randn({n}).requires_grad_(),
             b = st::randn({n}).requires_grad_();
  const st::Tensor g = st::randn({n});
  const LoopClock clock;
  for (auto _ : state) {
    st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
    y.backward(g);
    benchmark::DoNotOptimize(x.grad().data());
  }
  set_bytes(state, clock, 56.0 * n, t);  // forward 16 B, backward reads x, a, b, g and three gradients, writes three
}

// ---- reductions and softmax ------------------------------------------------------------------------------------
void BM_sum_all(benchmark::State& state) {
  const int t = use_threads(state, 1);
  const std::int64_t n = state.range(0);
  st::Tensor x = st::randn({n});
  const LoopClock clock;
  for (auto _ : state) {
    st::Tensor s = st::sum(x);
    benchmark::DoNotOptimize(s.data());
  }
  set_bytes(state, clock, 4.0 * n, t);
}

void BM_sum_rows_of_product(benchmark::State& state) {  // a reduction of a lazy expression: one pass, no temporary
  const int t = use_threads(state, 1);
  const std::int64_t rows = state.range(0), cols = 1024;
  st::Tensor x = st::randn({rows, cols}), y = st::randn({rows, cols});
  const LoopClock clock;
  for (auto _ : state) {
    st::Tensor s = st::sum(x * y, {1});
    benchmark::DoNotOptimize(s.data());
  }
  set_bytes(state, clock, 8.0 * rows * cols, t);
}

void BM_softmax(benchmark::State& state) {
  const int t = use_threads(state, 1);
  const std::int64_t rows = state.range(0), cols = 1024;
  st::Tensor x = st::randn({rows, cols});
  const LoopClock clock;
  for (auto _ : state) {
    st::Tensor y = st::softmax(x, 1);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, clock, 8.0 * rows * cols, t);  // reads x, writes y
}

// ---- GEMM and convolution --------------------------------------------------------------------------------------
void BM_matmul(benchmark::State& state) {
  const int t = use_threads(state, 3);
  const std::int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  st::Tensor a = st::randn({m, k}), b = st::randn({k, n});
  const LoopClock clock;
  for (auto _ : state) {
    st::Tensor c = st::matmul(a, b);
    benchmark::DoNotOptimize(c.data());
  }
  set_flops(state, clock, 2.0 * m * n * k, t);
}

// relu(x . w + b) without gradients: the epilogue on the GEMM (arg 1) against a GEMM then a statement (arg 0).
void BM_linear_relu(benchmark::State& state) {
  const int t = use_threads(state, 4);
  const std::int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const bool fused = state.range(3) != 0;
  st::Tensor x = st::randn({m, k}), w = st::randn({k, n}), b = st::randn({n});
  st::NoGradGuard no_grad;
  const LoopClock clock;
  for (auto _ : state) {
    st::Tensor y = fused ? st::matmul(x, w, [&](const st::Tensor& p) { return st::relu(p + b); })
                         : st::eval(st::relu(st::matmul(x, w) + b));
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, clock, 2.0 * m * n * k, t);
}

/// args: batch, in channels, out channels, size, kernel, padding, groups, threads; kBackward: forward and backward.
template <bool kBackward>
void BM_conv2d(benchmark::State& state) {
  const int t = use_threads(state, 7);
  const std::int64_t batch = state.range(0), cin = state.range(1), cout = state.range(2), hw = state.range(3),
                     k = state.range(4), pad = state.range(5), groups = state.range(6);
  st::Tensor x = st::randn({batch, cin, hw, hw}), w = st::randn({cout, cin / groups, k, k}), b = st::randn({cout});
  if (kBackward) x.requires_grad_(), w.requires_grad_(), b.requires_grad_();
  const std::int64_t out = hw + 2 * pad - k + 1;
  const st::Tensor gout = st::randn({batch, cout, out, out});
  const LoopClock clock;
  for (auto _ : state) {
    st::Tensor y = st::nn::functional::conv2d(x, w, b, {1, 1}, {pad, pad}, {1, 1}, groups);
    if (kBackward) y.backward(gout);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, clock, (kBackward ? 3.0 : 1.0) * 2.0 * batch * cout * out * out * (cin / groups) * k * k, t);
}

// ---- training steps ------------------------------------------------------------------------------------------
template <bool kLeNet>
void BM_train_step(benchmark::State& state) {
  const int t = use_threads(state, 1);
  const std::int64_t batch = state.range(0);
  st::manual_seed(0);
  st::nn::Sequential model = kLeNet ? bench::lenet5() : bench::mlp();
  st::optim::SGD opt(model.parameters(), st::optim::SGDOptions(0.01).momentum(0.9));
  const st::Tensor x = kLeNet ? st::randn({batch, 1, 28, 28}) : st::randn({batch, 784});
  const st::LongTensor y = st::randint(0, 10, {batch});
  const LoopClock clock;
  for (auto _ : state) {
    opt.zero_grad();
    st::Tensor loss = st::nn::functional::cross_entropy(model(x), y);
    loss.backward();
    opt.step();
  }
  const double per_sample = kLeNet ? bench::lenet5_step_flops_per_sample() : bench::mlp_step_flops_per_sample();
  set_flops(state, clock, per_sample * static_cast<double>(batch), t);
}

}  // namespace

BENCHMARK(BM_eltwise_fused)->ArgsProduct({{1 << 20, 1 << 24}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_eltwise_unfused)->ArgsProduct({{1 << 20, 1 << 24}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_eltwise_fused_fwdbwd)
    ->ArgsProduct({{1 << 20, 1 << 24}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_sum_all)->ArgsProduct({{1 << 24}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_sum_rows_of_product)->ArgsProduct({{4096}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_softmax)->ArgsProduct({{4096}, {1, 2}})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_matmul)
    ->ArgsProduct({{256}, {256}, {256}, {1, 2}})
    ->ArgsProduct({{1024}, {1024}, {1024}, {1, 2}})
    ->ArgsProduct({{64}, {256}, {784}, {1, 2}})   // the MLP's first layer at batch 64
    ->ArgsProduct({{256}, {128}, {256}, {1, 2}})  // its second layer at batch 256
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_linear_relu)
    ->ArgsProduct({{64}, {256}, {784}, {0, 1}, {1, 2}})      // the MLP's first layer, inference at batch 64
    ->ArgsProduct({{4096}, {1024}, {64}, {0, 1}, {1, 2}})    // a short k: the output traffic matters most
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_conv2d<false>)
    ->Name("BM_conv2d")
    ->ArgsProduct({{64}, {1}, {6}, {28}, {5}, {2}, {1}, {1, 2}})    // LeNet-5 conv1
    ->ArgsProduct({{64}, {6}, {16}, {14}, {5}, {0}, {1}, {1, 2}})   // LeNet-5 conv2
    ->ArgsProduct({{8}, {64}, {64}, {32}, {3}, {1}, {1}, {1, 2}})   // a ResNet-style 3x3 block's convolution
    ->ArgsProduct({{8}, {64}, {64}, {32}, {1}, {0}, {1}, {1, 2}})   // 1x1 (pointwise: no columns)
    ->ArgsProduct({{8}, {64}, {64}, {32}, {3}, {1}, {64}, {1, 2}})  // depthwise 3x3 (direct loops)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_conv2d<true>)
    ->Name("BM_conv2d_fwdbwd")
    ->ArgsProduct({{8}, {64}, {64}, {32}, {1}, {0}, {1}, {1, 2}})
    ->ArgsProduct({{8}, {64}, {64}, {32}, {3}, {1}, {64}, {1, 2}})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_train_step<false>)->Name("BM_train_step_mlp")->ArgsProduct({{64, 256}, {1, 2}})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_train_step<true>)->Name("BM_train_step_lenet5")->ArgsProduct({{64}, {1, 2}})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  for (int t : {1, 2}) {
    g_fma_flops[t] = bench::fma_peak_gflops(t) * 1e9;
    g_triad_bytes[t] = bench::triad_gbps(t) * 1e9;
    std::printf("roof, %d thread%s: FMA peak %.1f GFLOP/s, STREAM triad %.1f GB/s\n", t, t > 1 ? "s" : "",
                g_fma_flops[t] / 1e9, g_triad_bytes[t] / 1e9);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
