// SPDX-License-Identifier: Apache-2.0
// sinter on NVIDIA GPUs. Include it in files compiled with nvcc (targets that link sinter::cuda); the same statements
// then run on tensors moved with .to(sinter::kCUDA). CI also compiles it with g++ for Thrust's OpenMP system
// (-DSINTER_DEVICE_KERNELS=1 -DTHRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_OMP), where "the GPU" is host memory that
// only the Thrust kernels touch: the parity tests run every device code path without a GPU.
#pragma once

#if !defined(__CUDACC__) && !(defined(SINTER_DEVICE_KERNELS) && SINTER_DEVICE_KERNELS)
#error "sinter: <sinter/cuda.hpp> needs nvcc: compile this file as CUDA (link sinter::cuda), or, to run the device code on the host, define SINTER_DEVICE_KERNELS=1 and THRUST_DEVICE_SYSTEM=THRUST_DEVICE_SYSTEM_OMP"
#endif

#include <sinter/backend/thrust/memory.hpp>
#include <sinter/backend/thrust/stream.hpp>
#include <sinter/sinter.hpp>

namespace sinter::cuda {

/// Number of devices sinter can use (the host systems of Thrust count as one).
inline int device_count() { return thrust_backend::device_count(); }
/// True when a device is present: `auto dev = sinter::cuda::is_available() ? sinter::kCUDA : sinter::kCPU;`
inline bool is_available() { return device_count() > 0; }
/// What runs the device kernels: "CUDA", or the Thrust host system of a CPU-only build.
inline const char* backend_name() { return thrust_backend::system_name(); }
/// The device allocator's live, cached and peak bytes.
inline MemoryStats memory_stats() { return thrust_backend::device_allocator().stats(); }
/// Returns cached device blocks to the driver (tensors still alive keep theirs).
inline void empty_cache() { thrust_backend::device_allocator().empty_cache(); }
/// Waits for every kernel and transfer queued on the device, on every stream (timing needs it; reading values waits
/// for the current stream by itself).
inline void synchronize() { thrust_backend::synchronize_device(); }

}  // namespace sinter::cuda
