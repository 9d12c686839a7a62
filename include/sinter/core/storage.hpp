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
#include <vector>

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

/// An allocator that keeps freed blocks by size class, so a training loop stops paying for fresh memory: glibc
/// returns large host blocks to the OS (faulting 64 MiB back in costs more than the kernel that fills it), and
/// cudaMalloc/cudaFree synchronise the device. Memory supplies raw blocks: allocate(bytes) (null when out of
/// memory) and release(p). Freed blocks are reused at once: every kernel of a device runs on one stream, in order.
template <class Memory>
class CachingAllocator {
 public:
  void* allocate(std::size_t bytes) {
    const std::size_t cls = size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= cls;
        note_live(cls);
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
    note_live(cls);
    return p;
  }

  void deallocate(void* p, std::size_t bytes) noexcept {
    const std::size_t cls = size_class(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.live_bytes -= cls;
    if (stats_.cached_bytes + cls > cache_limit_) {
      Memory::release(p);
      return;
    }
    free_[cls].push_back(p);
    stats_.cached_bytes += cls;
  }

  void empty_cache() noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [cls, blocks] : free_)
      for (void* p : blocks) Memory::release(p);
    free_.clear();
    stats_.cached_bytes = 0;
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
  void note_live(std::size_t cls) {
    stats_.live_bytes += cls;
    if (stats_.live_bytes > stats_.peak_live_bytes) stats_.peak_live_bytes = stats_.live_bytes;
  }

  std::mutex mu_;
  std::map<std::size_t, std::vector<void*>> free_;
  MemoryStats stats_;
  std::size_t cache_limit_ = std::size_t{8} << 30;
};

/// 64-byte aligned host memory.
struct HostMemory {
  static void* allocate(std::size_t bytes) noexcept { return std::aligned_alloc(kAlignment, bytes); }
  static void release(void* p) noexcept { std::free(p); }
};

using CpuCachingAllocator = CachingAllocator<HostMemory>;

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

  Storage(void* data, std::size_t bytes, Device device, Deleter deleter) noexcept
      : data_(data), bytes_(bytes), device_(device), deleter_(deleter) {}
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
  /// Bumped by every in-place write, so autograd can refuse to use a saved tensor that changed.
  std::uint64_t version() const noexcept { return version_; }
  void bump_version() noexcept { ++version_; }

 private:
  void* data_;
  std::size_t bytes_;
  Device device_;
  Deleter deleter_;
  std::uint64_t version_ = 0;
};

/// Host allocator statistics (live, cached and peak bytes).
inline MemoryStats cpu_memory_stats() { return detail::cpu_allocator().stats(); }
/// Returns the host allocator's cached blocks to the system.
inline void cpu_empty_cache() { detail::cpu_allocator().empty_cache(); }

}  // namespace sinter
