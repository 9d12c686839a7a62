// SPDX-License-Identifier: Apache-2.0
// The caching allocator's rules, on a memory whose "streams" and events the test drives: blocks are reused only for
// the stream they were freed on, and a block other streams used waits for their work.
#include <catch2/catch.hpp>

#include <deque>
#include <set>

#include <sinter/core/storage.hpp>

namespace {

using sinter::detail::StreamId;

/// Raw blocks from the heap; an event is a flag the test sets when "the stream" has finished.
struct FakeMemory {
  static inline std::set<void*> owned;
  static inline std::deque<bool> events;  // deque: pointers into it stay valid as it grows
  static inline std::vector<StreamId> recorded_on;
  static inline int destroyed = 0;

  static void* allocate(std::size_t bytes) noexcept {
    void* p = std::aligned_alloc(64, bytes);
    owned.insert(p);
    return p;
  }
  static void release(void* p) noexcept {
    owned.erase(p);
    std::free(p);
  }
  static void* record_event(StreamId s) {
    recorded_on.push_back(s);
    events.push_back(false);
    return &events.back();
  }
  static bool event_done(void* e) { return *static_cast<bool*>(e); }
  static void destroy_event(void*) { ++destroyed; }

  static void reset() {
    events.clear();
    recorded_on.clear();
    destroyed = 0;
  }
};

using Allocator = sinter::detail::CachingAllocator<FakeMemory>;

}  // namespace

TEST_CASE("a freed block is reused only for the stream it was freed on", "[core][storage][stream]") {
  FakeMemory::reset();
  Allocator a;
  const StreamId s1 = 0x1000, s2 = 0x2000;
  void* p0 = a.allocate(1000);  // default stream
  void* p1 = a.allocate(1000, s1);
  a.deallocate(p0, 1000);
  a.deallocate(p1, 1000);
  CHECK(a.stats().cached_bytes == 2 * 1024);
  void* q2 = a.allocate(1000, s2);  // neither cached block belongs to s2: a fresh one
  CHECK(q2 != p0);
  CHECK(q2 != p1);
  CHECK(a.allocate(1000, s1) == p1);
  CHECK(a.allocate(1000) == p0);
  CHECK(a.stats().cached_bytes == 0);
  CHECK(a.stats().live_bytes == 3 * 1024);
  a.deallocate(q2, 1000);
  CHECK(a.allocate(1000, s2) == q2);
  CHECK(FakeMemory::recorded_on.empty());  // no other stream touched anything: no events
  for (void* p : {p0, p1, q2}) a.deallocate(p, 1000);
  a.empty_cache();
  CHECK(FakeMemory::owned.empty());
}

TEST_CASE("a block another stream used waits for that stream after it is freed", "[core][storage][stream]") {
  FakeMemory::reset();
  Allocator a;
  const StreamId s1 = 0x1000;
  void* p = a.allocate(4096);  // allocated for the default stream
  a.record_stream(p, s1);
  a.record_stream(p, s1);  // once is enough
  a.record_stream(p, 0);   // its own stream: nothing to wait for
  a.deallocate(p, 4096);
  REQUIRE(FakeMemory::recorded_on == std::vector<StreamId>{s1});
  CHECK(a.stats().cached_bytes == 4096);
  CHECK(a.stats().live_bytes == 0);

  void* q = a.allocate(4096);  // s1 may still read p: a fresh block
  CHECK(q != p);
  a.empty_cache();  // p is not released while s1 is busy
  CHECK(FakeMemory::owned.count(p) == 1);
  CHECK(a.stats().cached_bytes == 4096);

  FakeMemory::events.back() = true;  // s1 finished
  void* r = a.allocate(4096);
  CHECK(r == p);
  CHECK(FakeMemory::destroyed == 1);
  a.deallocate(q, 4096);
  a.deallocate(r, 4096);
  a.empty_cache();
  CHECK(FakeMemory::owned.empty());
  CHECK(a.stats().cached_bytes == 0);
  CHECK(a.stats().live_bytes == 0);
}

TEST_CASE("pinned blocks belong to the host: every device stream that reads one is waited for",
          "[core][storage][stream]") {
  FakeMemory::reset();
  Allocator a;
  void* p = a.allocate(256, sinter::detail::kHostStream);
  a.record_stream(p, 0);  // the device's default stream copies from it
  a.deallocate(p, 256);
  REQUIRE(FakeMemory::recorded_on == std::vector<StreamId>{0});
  void* q = a.allocate(256, sinter::detail::kHostStream);
  CHECK(q != p);
  FakeMemory::events.back() = true;
  CHECK(a.allocate(256, sinter::detail::kHostStream) == p);
  a.deallocate(p, 256);
  a.deallocate(q, 256);
}  // the allocator's destructor releases its blocks (LSan checks it under the asan preset)

TEST_CASE("host memory has no events: freed blocks are free at once", "[core][storage]") {
  sinter::detail::CpuCachingAllocator a;
  void* p = a.allocate(100);
  a.record_stream(p, 0x1000);
  a.deallocate(p, 100);
  CHECK(a.allocate(100) == p);
  a.deallocate(p, 100);
  a.empty_cache();
  CHECK(a.stats().cached_bytes == 0);
}

TEST_CASE("large host blocks start on a huge-page boundary, small ones on 64 bytes", "[core][storage]") {
  using sinter::detail::HostMemory;
  sinter::detail::CpuCachingAllocator a;
  void* big = a.allocate(HostMemory::kHugeFrom + 12345);
  void* small = a.allocate(1000);
  const auto at = [](void* p) { return reinterpret_cast<std::uintptr_t>(p); };
  CHECK(at(small) % 64 == 0);
#if defined(__linux__)
  CHECK(at(big) % HostMemory::kHugePage == 0);
#else
  CHECK(at(big) % 64 == 0);
#endif
  static_cast<unsigned char*>(big)[HostMemory::kHugeFrom + 12344] = 1;  // the whole size is usable (ASan checks)
  a.deallocate(big, HostMemory::kHugeFrom + 12345);
  a.deallocate(small, 1000);
}
