// SPDX-License-Identifier: Apache-2.0
// Long-run and concurrent training: memory reaches a steady state, graphs give their saved tensors back, and two
// models trained on two threads at once match training them one after the other bit for bit (grad mode, the random
// generator, the counters and the tape are per thread; docs/reliability.md).
#include <cstdio>
#include <fstream>
#include <thread>

#include <support/reference.hpp>
#include <sinter/nn.hpp>
#include <sinter/optim.hpp>

namespace st = sinter;
namespace nn = sinter::nn;
namespace F = sinter::nn::functional;

namespace {
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;  // ASan's quarantine holds freed memory on purpose: resident size is not meaningful
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

/// Resident memory of this process in bytes (Linux /proc/self/statm).
std::size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

/// A small classifier with dropout (so the random generator is part of every step) and its data.
struct Run {
  struct Seeded {
    explicit Seeded(std::uint64_t seed) { st::manual_seed(seed); }
  } seeded;  // first member: the model's initialisation and the data come from this seed
  nn::Sequential model;
  st::optim::Adam opt;
  st::Tensor x;
  st::LongTensor y;
  explicit Run(std::uint64_t seed)
      : seeded(seed),
        model(nn::Linear(20, 64), nn::ReLU(), nn::Dropout(0.2), nn::Linear(64, 10)),
        opt(model.parameters(), st::optim::AdamOptions(1e-3)),
        x(st::randn({32, 20})),
        y(st::randint(0, 10, {32})) {}
  float step() {
    opt.zero_grad();
    st::Tensor loss = F::cross_entropy(model(x), y);
    loss.backward();
    opt.step();
    return loss.item();
  }
};

/// Trains a fresh model for `steps` steps on this thread; returns every loss and the final parameters.
std::pair<std::vector<float>, std::vector<float>> train(std::uint64_t seed, int steps) {
  Run r(seed);
  std::vector<float> losses;
  for (int i = 0; i < steps; ++i) losses.push_back(r.step());
  std::vector<float> params;
  for (const auto& p : r.model.parameters())
    for (float v : p.to_vector()) params.push_back(v);
  return {losses, params};
}
}  // namespace

TEST_CASE("2000 training steps reach a steady state: live bytes and resident memory stop growing", "[nn][reliability]") {
  Run r(5);
  for (int i = 0; i < 200; ++i) r.step();  // warm-up: optimiser state, allocator size classes, OpenMP pools
  const st::MemoryStats warm = st::cpu_memory_stats();
  const std::size_t rss_warm = resident_bytes();
  float first = 0, last = 0;
  for (int i = 0; i < 1800; ++i) {
    const float l = r.step();
    if (i == 0) first = l;
    last = l;
    const st::MemoryStats now = st::cpu_memory_stats();
    if (now.live_bytes != warm.live_bytes || now.cached_bytes != warm.cached_bytes) {
      FAIL("step " << 200 + i << ": live bytes " << now.live_bytes << " (after warm-up " << warm.live_bytes
                   << "), cached " << now.cached_bytes << " (" << warm.cached_bytes << ")");
    }
  }
  CHECK(last < first);  // it did learn something
  if (!kAsan) CHECK(resident_bytes() <= rss_warm + (1u << 20));  // within 1 MiB of the warm-up figure
}

TEST_CASE("a graph gives its saved tensors back when it is freed, with or without backward", "[nn][reliability]") {
  st::manual_seed(6);
  const st::Tensor w = st::randn({256, 256}).requires_grad_();
  const st::Tensor x = st::randn({64, 256});
  (void)st::Tensor(st::tanh(st::matmul(x, w)));  // warm the size classes
  const std::size_t before = st::cpu_memory_stats().live_bytes;
  {
    st::Tensor h = st::matmul(x, w);  // saves x and w (handles) for backward
    st::Tensor a = st::tanh(h) * st::sigmoid(h);
    st::Tensor loss = st::sum(a * a);
    CHECK(st::cpu_memory_stats().live_bytes > before);
  }  // dropped without backward: every intermediate and saved handle goes
  CHECK(st::cpu_memory_stats().live_bytes == before);
  {
    st::Tensor loss = st::sum(st::tanh(st::matmul(x, w)));
    loss.backward();  // frees the saved tensors (retain_graph is false); only w.grad stays
  }
  CHECK(st::cpu_memory_stats().live_bytes == before + 256 * 256 * sizeof(float));
}

TEST_CASE("two models trained concurrently match training them one after another, bit for bit", "[nn][threads]") {
  const int steps = 150;
  const auto a_alone = train(11, steps);
  const auto b_alone = train(12, steps);
  std::pair<std::vector<float>, std::vector<float>> a_together, b_together;
  std::thread ta([&] { a_together = train(11, steps); });
  std::thread tb([&] {
    st::NoGradGuard off_here_only;  // grad mode is per thread: this guard must not reach the trainer below
    std::thread inner([&] { b_together = train(12, steps); });
    inner.join();
  });
  ta.join();
  tb.join();
  CHECK(a_together.first == a_alone.first);
  CHECK(a_together.second == a_alone.second);
  CHECK(b_together.first == b_alone.first);
  CHECK(b_together.second == b_alone.second);
  CHECK(a_alone.second != b_alone.second);  // different seeds: different models, so the comparison means something
  CHECK(st::is_grad_enabled());
}
