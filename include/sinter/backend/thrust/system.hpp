// SPDX-License-Identifier: Apache-2.0
// The device that Thrust targets in this build: CUDA under nvcc, or OpenMP/C++ threads on the host when CI builds
// the same kernels with g++ (THRUST_DEVICE_SYSTEM_OMP/_CPP). Everything below the evaluator that differs between
// the two lives here: raw memory, transfers, the execution policy and errors.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <thrust/execution_policy.h>
#include <thrust/version.h>

#include <sinter/core/device.hpp>
#include <sinter/core/error.hpp>
#include <sinter/core/storage.hpp>

#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_CUDA
#include <cuda_runtime.h>
#include <thrust/system/cuda/execution_policy.h>
#define SINTER_THRUST_CUDA 1
#else
#define SINTER_THRUST_CUDA 0
#endif

namespace sinter::thrust_backend {

#if SINTER_THRUST_CUDA

inline void check_cuda(cudaError_t e, const char* what) {
  SINTER_CHECK(e == cudaSuccess, what, " failed: ", cudaGetErrorString(e), " (CUDA error ", static_cast<int>(e), ")");
}

inline int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: report none, keep no sticky error
    return 0;
  }
  return n;
}

/// sinter's default stream: every kernel and transfer runs on it unless a StreamGuard names another. Not CUDA's
/// legacy stream, which would serialise with every other stream of the process.
inline cudaStream_t default_stream() {
  static cudaStream_t s = [] {
    cudaStream_t t = nullptr;
    check_cuda(cudaStreamCreateWithFlags(&t, cudaStreamNonBlocking), "cudaStreamCreate");
    return t;
  }();
  return s;
}

/// This thread's current stream (null: the default one); StreamGuard sets it.
inline cudaStream_t& current_stream_slot() noexcept {
  thread_local cudaStream_t s = nullptr;
  return s;
}
inline cudaStream_t stream() {
  cudaStream_t s = current_stream_slot();
  return s ? s : default_stream();
}
/// The current stream as the caching allocator keys its bins (0: the default stream).
inline detail::StreamId stream_id() noexcept { return reinterpret_cast<detail::StreamId>(current_stream_slot()); }
inline cudaStream_t stream_of(detail::StreamId id) {
  return id == 0 ? default_stream() : reinterpret_cast<cudaStream_t>(id);
}

/// Events for the caching allocators: a block other streams used is reused once they reach the point of its free.
struct StreamEvents {
  static void* record_event(detail::StreamId s) noexcept {
    cudaEvent_t e = nullptr;
    if (cudaEventCreateWithFlags(&e, cudaEventDisableTiming) == cudaSuccess &&
        cudaEventRecord(e, stream_of(s)) == cudaSuccess)
      return e;
    (void)cudaGetLastError();  // no event: wait for the stream here instead
    if (e) (void)cudaEventDestroy(e);
    (void)cudaStreamSynchronize(stream_of(s));
    return nullptr;
  }
  static bool event_done(void* e) noexcept {
    const cudaError_t r = cudaEventQuery(static_cast<cudaEvent_t>(e));
    if (r == cudaErrorNotReady) return false;
    if (r != cudaSuccess) (void)cudaGetLastError();  // a failed stream will not use the block again
    return true;
  }
  static void destroy_event(void* e) noexcept { (void)cudaEventDestroy(static_cast<cudaEvent_t>(e)); }
};

inline auto policy() { return thrust::cuda::par_nosync.on(stream()); }

struct DeviceMemory : StreamEvents {
  static void* allocate(std::size_t bytes) noexcept {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      (void)cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  static void release(void* p) noexcept { (void)cudaFree(p); }
};

/// Page-locked host memory: the GPU reads and writes it by DMA, at full bus speed and asynchronously.
struct PinnedMemory : StreamEvents {
  static void* allocate(std::size_t bytes) noexcept {
    void* p = nullptr;
    if (cudaHostAlloc(&p, bytes, cudaHostAllocDefault) != cudaSuccess) {
      (void)cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  static void release(void* p) noexcept { (void)cudaFreeHost(p); }
};

inline void to_device(void* dst, const void* src, std::size_t bytes) {
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()), "copy to the GPU");
  check_cuda(cudaStreamSynchronize(stream()), "copy to the GPU");  // the host buffer may be freed after return
}
/// From page-locked memory, without waiting: the caller keeps the source block until the copy is done.
inline void to_device_async(void* dst, const void* src, std::size_t bytes) {
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()), "copy to the GPU");
}
inline void to_host(void* dst, const void* src, std::size_t bytes) {
  check_cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()), "copy to the host");
  check_cuda(cudaStreamSynchronize(stream()), "copy to the host");
}
inline void zero(void* dst, std::size_t bytes) { check_cuda(cudaMemsetAsync(dst, 0, bytes, stream()), "cudaMemset"); }
inline void synchronize() { check_cuda(cudaStreamSynchronize(stream()), "synchronize"); }
inline void synchronize_device() { check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); }
/// After a launch: a bad configuration shows here, a fault at the next synchronisation.
inline void check_launch(const char* op) { check_cuda(cudaGetLastError(), op); }
inline const char* system_name() { return "CUDA"; }

#else  // a host system: the "device" is host memory that only the Thrust kernels touch

inline int device_count() { return 1; }
inline auto policy() { return thrust::device; }

/// Streams exist so user code builds for both systems; here every kernel has finished when its call returns, so a
/// stream is only a name that keys the allocator's bins.
inline detail::StreamId& current_stream_slot() noexcept {
  thread_local detail::StreamId s = 0;
  return s;
}
inline detail::StreamId stream_id() noexcept { return current_stream_slot(); }

struct DeviceMemory {
  static void* allocate(std::size_t bytes) noexcept { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); }
  static void release(void* p) noexcept { std::free(p); }
};
/// "Page-locked" host memory: plain host memory, kept apart so pinned tensors behave as on the GPU build.
using PinnedMemory = DeviceMemory;

inline void to_device(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
inline void to_device_async(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
inline void to_host(void* dst, const void* src, std::size_t bytes) { std::memcpy(dst, src, bytes); }
inline void zero(void* dst, std::size_t bytes) { std::memset(dst, 0, bytes); }
inline void synchronize() {}
inline void synchronize_device() {}
inline void check_launch(const char*) {}
inline const char* system_name() {
#if THRUST_DEVICE_SYSTEM == THRUST_DEVICE_SYSTEM_OMP
  return "OpenMP (Thrust host system)";
#else
  return "C++ (Thrust host system)";
#endif
}

#endif

using DeviceCachingAllocator = detail::CachingAllocator<DeviceMemory>;

using PinnedCachingAllocator = detail::CachingAllocator<PinnedMemory>;

/// The device allocator; never destroyed, like the host one, so tensors in statics can give their blocks back.
inline DeviceCachingAllocator& device_allocator() {
  static DeviceCachingAllocator* a = new DeviceCachingAllocator;
  return *a;
}
/// Page-locked host blocks (cudaHostAlloc is slower than cudaMalloc: caching them matters more).
inline PinnedCachingAllocator& pinned_allocator() {
  static PinnedCachingAllocator* a = new PinnedCachingAllocator;
  return *a;
}

/// Scratch for one launch (not a tensor: not counted as an allocation), on the current stream.
inline void* scratch_allocate(std::size_t bytes) { return device_allocator().allocate(bytes, stream_id()); }
inline void scratch_release(void* p, std::size_t bytes) noexcept { device_allocator().deallocate(p, bytes); }

/// Only cuda:0 so far: one allocator and one stream.
inline void require_supported(Device d, const char* op) {
  SINTER_CHECK(d.is_cuda() && d.index == 0, op, ": ", d, " is not supported yet; sinter runs on cuda:0 (select the GPU "
                                                         "with CUDA_VISIBLE_DEVICES)");
}

}  // namespace sinter::thrust_backend
