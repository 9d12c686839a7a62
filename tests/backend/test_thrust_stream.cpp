// SPDX-License-Identifier: Apache-2.0
// Streams and pinned memory (backend/thrust/stream.hpp, memory.hpp). CI runs this file through Thrust's OpenMP
// system, where streams are names and pinned memory is ordinary host memory, so the rules that do not need a GPU
// are checked here: which stream is current, which bins the allocator draws from, what pinned tensors hold and that
// non-blocking copies deliver the same values. nvcc builds the same file into test_backend_thrust_cuda, where the
// work really runs on the streams.
#include <thread>

#include <sinter/cuda.hpp>
#include <sinter/data.hpp>

#include <support/reference.hpp>

namespace st = sinter;
using st::cuda::Stream;
using st::cuda::StreamGuard;

TEST_CASE("StreamGuard makes a stream current on its thread and restores the previous one",
          "[backend][cuda][stream]") {
  const Stream def = Stream::default_stream();
  CHECK(Stream::current() == def);
  CHECK(def.id() == 0);
  Stream a, b;
  CHECK(a != b);
  CHECK(a != def);
  {
    StreamGuard ga(a);
    CHECK(Stream::current() == a);
    {
      StreamGuard gb(b);
      CHECK(Stream::current() == b);
      bool other_thread_default = false;
      std::thread([&] { other_thread_default = Stream::current() == def; }).join();
      CHECK(other_thread_default);  // current streams are per thread
    }
    CHECK(Stream::current() == a);
  }
  CHECK(Stream::current() == def);
  CHECK(a.query());
  a.synchronize();
  a.wait_stream(b);
  CHECK(a.query());
}

TEST_CASE("a stream outlives its guards while work may still use it", "[backend][cuda][stream]") {
  st::Tensor y;
  {
    Stream s;
    StreamGuard g(s);
    y = st::full({1000}, 2.0f).to(st::kCUDA) * 3.0f;
    // the guard holds the stream; the last handle waits for it when it is destroyed
  }
  CHECK(Stream::current() == Stream::default_stream());
  CHECK(y.to(st::kCPU).to_vector() == std::vector<float>(1000, 6.0f));
}

TEST_CASE("the device allocator reuses a block only for the stream it was freed on", "[backend][cuda][stream]") {
  st::cuda::empty_cache();
  Stream s;
  const void* on_s = nullptr;
  {
    StreamGuard g(s);
    auto t = st::empty({4096}).to(st::kCUDA);  // one device block of 16 KiB, allocated for s
    on_s = t.data();
  }
  auto d = st::zeros({4096}).to(st::kCUDA);  // the default stream: not s's block
  CHECK(static_cast<const void*>(d.data()) != on_s);
  {
    StreamGuard g(s);
    auto again = st::zeros({4096}).to(st::kCUDA);
    CHECK(static_cast<const void*>(again.data()) == on_s);
  }
}

TEST_CASE("statements under a guard give the values they give on the default stream", "[backend][cuda][stream]") {
  st::manual_seed(3);
  const auto x = st::randn({64, 48}), w = st::randn({48, 32}), b = st::randn({32});
  const st::Tensor want = st::sum(st::log_softmax(st::relu(st::matmul(x, w) + b), 1), {0});
  Stream s;
  st::Tensor have;
  {
    StreamGuard g(s);
    const auto xd = x.to(st::kCUDA), wd = w.to(st::kCUDA), bd = b.to(st::kCUDA);
    have = st::sum(st::log_softmax(st::relu(st::matmul(xd, wd) + bd), 1), {0});
    s.synchronize();
  }
  Stream::default_stream().wait_stream(s);
  const auto got = have.to(st::kCPU).to_vector(), ref = want.to_vector();
  REQUIRE(got.size() == ref.size());
  for (std::size_t i = 0; i < ref.size(); ++i) CHECK(got[i] == Approx(ref[i]).epsilon(1e-5).margin(1e-5));
}

TEST_CASE("record_stream accepts device and pinned tensors and names what it cannot record",
          "[backend][cuda][stream]") {
  Stream s;
  auto d = st::ones({256}).to(st::kCUDA);
  st::cuda::record_stream(d, s);
  auto p = st::ones({256}).pin_memory();
  st::cuda::record_stream(p, s);
  CHECK_THROWS_WITH(st::cuda::record_stream(st::ones({4}), s),
                    Catch::Contains("sinter:") && Catch::Contains("ordinary host memory") &&
                        Catch::Contains("pin_memory()"));
  d = st::Tensor();  // freed: on a GPU it waits for s before the block is reused
  const auto again = st::full({256}, 5.0f).to(st::kCUDA);
  CHECK(again.to(st::kCPU).to_vector() == std::vector<float>(256, 5.0f));
}

TEST_CASE("pin_memory copies a CPU tensor into page-locked memory", "[backend][cuda][pinned]") {
  st::manual_seed(5);
  const auto x = st::randn({8, 6});
  CHECK_FALSE(x.is_pinned());
  const auto live = st::cuda::pinned_memory_stats().live_bytes;
  st::reset_counters();
  const auto p = x.t().pin_memory();  // a transposed view: the pinned copy is contiguous
  CHECK(st::counters().allocations == 1);
  CHECK(p.is_pinned());
  CHECK(p.device() == st::kCPU);
  CHECK(p.is_contiguous());
  CHECK(p.to_vector() == x.t().contiguous().to_vector());
  CHECK(st::cuda::pinned_memory_stats().live_bytes >= live + 8 * 6 * sizeof(float));
  CHECK(p.pin_memory().is_same(p));  // already pinned: itself
  CHECK_FALSE(st::Tensor(p * 2.0f).is_pinned());  // results of CPU statements are ordinary tensors
  CHECK_THROWS_WITH(x.to(st::kCUDA).pin_memory(),
                    Catch::Contains("sinter: pin_memory()") && Catch::Contains("only CPU tensors"));

  auto w = st::randn({5}).requires_grad_();
  auto pw = w.pin_memory();
  st::Tensor loss = st::sum(pw * pw);
  loss.backward();
  CHECK(w.grad().to_vector() == st::Tensor(w.detach() * 2.0f).to_vector());  // a copy that gradients flow through
}

TEST_CASE("copies from pinned memory, blocking or not, deliver the same values", "[backend][cuda][pinned]") {
  st::manual_seed(6);
  const auto x = st::randn({1000});
  const auto p = x.pin_memory();
  const auto a = p.to(st::kCUDA, /*non_blocking=*/true);
  const auto b = p.to(st::kCUDA);
  const auto c = x.to(st::kCUDA, /*non_blocking=*/true);  // from ordinary memory: waits, like PyTorch
  CHECK(a.to(st::kCPU).to_vector() == x.to_vector());
  CHECK(b.to(st::kCPU).to_vector() == x.to_vector());
  CHECK(c.to(st::kCPU).to_vector() == x.to_vector());
  const auto n = st::arange(0, 10).to<std::int64_t>().pin_memory();
  CHECK(n.to(st::kCUDA, true).to(st::kCPU).to_vector() == st::arange(0, 10).to<std::int64_t>().to_vector());
}

TEST_CASE("a pinned block freed while a non-blocking copy may read it is not handed out again too early",
          "[backend][cuda][pinned]") {
  const std::size_t cached = st::cuda::pinned_memory_stats().cached_bytes;
  st::Tensor on_device;
  {
    const auto p = st::full({2048}, 7.0f).pin_memory();
    on_device = p.to(st::kCUDA, true);
  }  // p freed: on a GPU its block waits for the copy's stream, here it is cached at once
  CHECK(st::cuda::pinned_memory_stats().cached_bytes >= cached + 2048 * sizeof(float));
  const auto q = st::full({2048}, 1.0f).pin_memory();
  CHECK(on_device.to(st::kCPU).to_vector() == std::vector<float>(2048, 7.0f));
  CHECK(q.to_vector() == std::vector<float>(2048, 1.0f));
}

TEST_CASE("DataLoader::pin_memory hands out pinned batches", "[backend][cuda][pinned][data]") {
  auto images = st::arange(0, 40).reshape({10, 4});
  auto labels = st::arange(0, 10).to<std::int64_t>();
  st::data::DataLoader loader(st::data::TensorDataset(images, labels),
                              st::data::DataLoaderOptions(4).pin_memory(true).prefetch(2));
  std::int64_t seen = 0;
  for (auto& batch : loader) {
    CHECK(batch.data.is_pinned());
    CHECK(batch.target.is_pinned());
    const auto on_gpu = batch.data.to(st::kCUDA, true);
    CHECK(on_gpu.to(st::kCPU).to_vector() == batch.data.to_vector());
    seen += batch.data.size(0);
  }
  CHECK(seen == 10);
}
