// SPDX-License-Identifier: Apache-2.0
// An atomic add usable in kernels that run on the CPU and on the GPU (functors with SINTER_HD call operators).
#pragma once

#include <atomic>

#include <sinter/config.hpp>

namespace sinter::detail {

template <class T>
SINTER_HD inline void atomic_add(T* p, T v) {
#if defined(__CUDA_ARCH__)
  atomicAdd(p, v);
#else
  std::atomic_ref<T>(*p).fetch_add(v, std::memory_order_relaxed);
#endif
}

}  // namespace sinter::detail
