// SPDX-License-Identifier: Apache-2.0
// Storage: a ref-counted, 64-byte aligned buffer on one device, drawn from a caching allocator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <sinter/config.hpp>
#include <sinter/core/counters.hpp>
#include <sinter/core/device.hpp>
#include <sinter/core/error.hpp>

namespace sinter {

/// Statistics of a caching allocator, in bytes.
struct MemoryStats {
  std::size_t live_bytes = 0;    ///< handed out and not yet returned
  std::size_t cached_bytes = 0;  ///< returned and kept for reuse
  std::size_t peak_live_bytes = 0;
};

namespace detail {

/// The stream a block's work is queued on, as the allocator sees it: 0 is the device's default stream (the host's
/// allocator only ever sees 0), other values are a stream's handle.
using StreamId = std::uintptr_t;
/// The owner of page-locked host blocks: the host itself, so every device stream that reads one counts as another.
inline constexpr StreamId kHostStream = ~StreamId{0};

/// An allocator that keeps freed blocks by size class, so a training loop stops paying for fresh memory: glibc
/// returns large host blocks to the OS (faulting 64 MiB back in costs more than the kernel that fills it), and
/// cudaMalloc/cudaFree synchronise the device. Memory supplies raw blocks: allocate(bytes) (null when out of
/// memory) and release(p).
///
/// Reuse is stream-ordered: a block freed while kernels queued on its stream may still use it goes back to that
/// stream's bins and is handed out again only for work on the same stream, which runs after them. A block that
/// other streams used too (record_stream) waits, after it is freed, until those streams have finished the work
/// queued before the free; that needs Memory::record_event(StreamId) -> void* (null: already done),
/// event_done(void*) and destroy_event(void*). Without them (host memory, Thrust's host systems: every kernel has
/// finished when its call returns) a freed block is free at once.
template <class Memory>
class CachingAllocator {
  static constexpr bool kHasEvents = requires(void* e) {
    Memory::record_event(StreamId{});
    Memory::event_done(e);
    Memory::destroy_event(e);
  };

 public:
  CachingAllocator() = default;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;
  /// The process-wide allocators are never destroyed; a local one gives its cached blocks back.
  ~CachingAllocator() {
    if constexpr (kHasEvents) {
      for (auto& q : pending_) {
        for (void* e : q.events) Memory::destroy_event(e);
        Memory::release(q.p);  // cudaFree waits for the device first
      }
    }
    for (auto& [key, blocks] : free_)
      for (void* p : blocks) Memory::release(p);
  }

  void* allocate(std::size_t bytes, StreamId stream = 0) {
    const std::size_t cls = size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pending_.empty()) reclaim_finished();
      auto it = free_.find({stream, cls});
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= cls;
        note_live(p, cls, stream);
        return p;
      }
    }
    void* p = Memory::allocate(cls);
    if (!p) {
      empty_cache();
      p = Memory::allocate(cls);
    }
    if (!p) throw std::bad_alloc();
    std::lock_guard<std::mutex> lock(mu_);
    note_live(p, cls, stream);
    return p;
  }

  /// Notes that work queued on `stream` reads or writes the live block p, although p was allocated for another
  /// stream: when p is freed, it is not reused before that work is done.
  void record_stream(void* p, StreamId stream) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = owner_.try_emplace(p);  // absent: a block of the default stream no one else used yet
    Owner& o = it->second;
    if (stream == o.stream) return;
    for (StreamId s : o.used_on)
      if (s == stream) return;
    o.used_on.push_back(stream);
  }

  void deallocate(void* p, std::size_t bytes) noexcept {
    const std::size_t cls = size_class(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.live_bytes -= cls;
    Owner o;
    if (!owner_.empty()) {
      if (auto it = owner_.find(p); it != owner_.end()) {
        o = std::move(it->second);
        owner_.erase(it);
      }
    }
    if constexpr (kHasEvents) {
      if (!o.used_on.empty()) {
        Pending q{p, cls, o.stream, {}};
        for (StreamId s : o.used_on)
          if (void* e = Memory::record_event(s)) q.events.push_back(e);
        if (!q.events.empty()) {
          pending_.push_back(std::move(q));
          stats_.cached_bytes += cls;
          return;
        }
      }
    }
    if (stats_.cached_bytes + cls > cache_limit_) {
      Memory::release(p);
      return;
    }
    free_[{o.stream, cls}].push_back(p);
    stats_.cached_bytes += cls;
  }

  /// Releases every cached block (blocks whose other streams are still busy stay until they finish).
  void empty_cache() noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    reclaim_finished();
    for (auto& [key, blocks] : free_)
      for (void* p : blocks) {
        Memory::release(p);
        stats_.cached_bytes -= key.second;
      }
    free_.clear();
  }

  MemoryStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  /// Rounds up to 64 bytes below 1 MiB, then to an eighth of the next power of two, so reuse is likely
  /// and waste stays under 12.5%.
  static std::size_t size_class(std::size_t bytes) noexcept {
    if (bytes == 0) bytes = 1;
    if (bytes <= (std::size_t{1} << 20)) return (bytes + 63) & ~std::size_t{63};
    std::size_t p = std::size_t{1} << 20;
    while (p < bytes) p <<= 1;
    const std::size_t q = p / 8;
    return (bytes + q - 1) / q * q;
  }

 private:
  struct Owner {
    StreamId stream = 0;
    std::vector<StreamId> used_on;  // other streams that touched the block
  };
  struct Pending {
    void* p;
    std::size_t cls;
    StreamId stream;
    std::vector<void*> events;  // one per other stream, recorded when the block was freed
  };

  void note_live(void* p, std::size_t cls, StreamId stream) {
    stats_.live_bytes += cls;
    if (stats_.live_bytes > stats_.peak_live_bytes) stats_.peak_live_bytes = stats_.live_bytes;
    if (stream != 0) owner_[p].stream = stream;  // the default stream's blocks need no entry
  }

  /// Moves pending blocks whose other streams are done into their stream's bins. Called with mu_ held.
  void reclaim_finished() noexcept {
    if constexpr (kHasEvents) {
      std::size_t kept = 0;
      for (std::size_t i = 0; i < pending_.size(); ++i) {
        Pending& q = pending_[i];
        bool done = true;
        for (void* e : q.events) done = done && Memory::event_done(e);
        if (!done) {
          if (kept != i) pending_[kept] = std::move(q);
          ++kept;
          continue;
        }
        for (void* e : q.events) Memory::destroy_event(e);
        free_[{q.stream, q.cls}].push_back(q.p);
      }
      pending_.resize(kept);
    }
  }

  std::mutex mu_;
  std::map<std::pair<StreamId, std::size_t>, std::vector<void*>> free_;
  std::unordered_map<void*, Owner> owner_;  // live blocks of other streams than the default, or used by several
  std::vector<Pending> pending_;            // freed, waiting for other streams
  MemoryStats stats_;
  std::size_t cache_limit_ = std::size_t{8} << 30;
};

/// 64-byte aligned host memory. On Linux, blocks of kHugeFrom bytes and more start on a 2 MiB boundary and are
/// advised to use transparent huge pages (Debian's default mode, "madvise", gives them only to memory that asks):
/// element-wise statements over several 64 MiB tensors stall on TLB misses with 4 KiB pages (docs/benchmarks.md,
/// session 9). The size is rounded up to whole huge pages, less than 2 MiB per block.
struct HostMemory {
  static constexpr std::size_t kHugePage = std::size_t{2} << 20, kHugeFrom = std::size_t{4} << 20;
  static void* allocate(std::size_t bytes) noexcept {
#if defined(__linux__)
    if (bytes >= kHugeFrom) {
      const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
      void* p = std::aligned_alloc(kHugePage, rounded);
      if (p) ::madvise(p, rounded, MADV_HUGEPAGE);  // advice: where it is refused, the pages stay small
      return p;
    }
#endif
    return std::aligned_alloc(kAlignment, bytes);
  }
  static void release(void* p) noexcept { std::free(p); }
};

using CpuCachingAllocator = CachingAllocator<HostMemory>;
#define SINTER_ALLOCATOR_INSTANCES(X) X(class CachingAllocator<HostMemory>)
SINTER_ALLOCATOR_INSTANCES(SINTER_EXTERN_TEMPLATE)

/// The host allocator. Never destroyed, so tensors that outlive main (statics, other threads) can still give blocks
/// back; held by a static pointer, its cached blocks stay reachable and leak checkers do not report them.
inline CpuCachingAllocator& cpu_allocator() {
  static CpuCachingAllocator* a = new CpuCachingAllocator;
  return *a;
}

}  // namespace detail

/// A buffer of bytes on one device. Tensors share it through shared_ptr; views share it with their base.
class Storage {
 public:
  using Deleter = void (*)(void* ptr, std::size_t bytes);

  /// `pinned`: host memory that is page-locked, so the GPU copies it by DMA (and asynchronously).
  Storage(void* data, std::size_t bytes, Device device, Deleter deleter, bool pinned = false) noexcept
      : data_(data), bytes_(bytes), device_(device), deleter_(deleter), pinned_(pinned) {}
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (deleter_) deleter_(data_, bytes_);
  }

  /// New host storage of `bytes`; counted as one allocation.
  static std::shared_ptr<Storage> allocate_cpu(std::size_t bytes) {
    detail::count_allocation(kCPU, bytes);
    void* p = detail::cpu_allocator().allocate(bytes);
    return std::make_shared<Storage>(p, bytes, kCPU, [](void* q, std::size_t n) {
      detail::cpu_allocator().deallocate(q, n);
    });
  }

  void* data() const noexcept { return data_; }
  std::size_t bytes() const noexcept { return bytes_; }
  Device device() const noexcept { return device_; }
  bool pinned() const noexcept { return pinned_; }
  /// Bumped by every in-place write, so autograd can refuse to use a saved tensor that changed.
  std::uint64_t version() const noexcept { return version_; }
  void bump_version() noexcept { ++version_; }

 private:
  void* data_;
  std::size_t bytes_;
  Device device_;
  Deleter deleter_;
  bool pinned_;
  std::uint64_t version_ = 0;
};

/// Host allocator statistics (live, cached and peak bytes).
inline MemoryStats cpu_memory_stats() { return detail::cpu_allocator().stats(); }
/// Returns the host allocator's cached blocks to the system.
inline void cpu_empty_cache() { detail::cpu_allocator().empty_cache(); }

}  // namespace sinter
