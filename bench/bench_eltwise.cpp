// SPDX-License-Identifier: Apache-2.0
// y = sigmoid(a*x + b) * tanh(x): the fused forward, and forward + backward into three existing gradients.
// Bytes use the minimal traffic: forward 16 B/element, forward+backward 56 B/element (issue 3's convention).
#include <benchmark/benchmark.h>

#include <sinter/sinter.hpp>

namespace st = sinter;

static void BM_eltwise_fused_fwd(benchmark::State& state) {
  st::set_num_threads(static_cast<int>(state.range(1)));
  const std::int64_t n = state.range(0);
  st::Tensor x = st::randn({n}), a = st::randn({n}), b = st::randn({n});
  st::Tensor y = st::zeros({n});
  for (auto _ : state) {
    y = st::sigmoid(a * x + b) * st::tanh(x);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(state.iterations() * n * 16);
}

static void BM_eltwise_fused_fwdbwd(benchmark::State& state) {
  st::set_num_threads(static_cast<int>(state.range(1)));
  const std::int64_t n = state.range(0);
  st::Tensor x = st::randn({n}).requires_grad_(), a = st::randn({n}).requires_grad_(),
             b = st::randn({n}).requires_grad_();
  const st::Tensor g = st::randn({n});
  {  // create the three gradients once: the timed backward accumulates into them
    st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
    y.backward(g);
  }
  for (auto _ : state) {
    st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
    y.backward(g);
    benchmark::DoNotOptimize(x.grad().data());
  }
  state.SetBytesProcessed(state.iterations() * n * 56);
}

static void BM_eltwise_statement_overhead(benchmark::State& state) {
  st::Tensor x = st::randn({16}), a = st::randn({16}), b = st::randn({16});
  for (auto _ : state) {
    st::Tensor y = st::sigmoid(a * x + b) * st::tanh(x);
    benchmark::DoNotOptimize(y.data());
  }
}

BENCHMARK(BM_eltwise_fused_fwd)->Args({1 << 20, 1})->Args({1 << 20, 2})->Args({1 << 24, 1})->Args({1 << 24, 2})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_eltwise_fused_fwdbwd)->Args({1 << 20, 1})->Args({1 << 20, 2})->Args({1 << 24, 1})->Args({1 << 24, 2})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_eltwise_statement_overhead)->Unit(benchmark::kNanosecond);
BENCHMARK_MAIN();
