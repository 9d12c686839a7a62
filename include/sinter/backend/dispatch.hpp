// SPDX-License-Identifier: Apache-2.0
// Where a statement's plan meets a device: the CPU evaluator directly; a GPU through the Thrust evaluator in files
// that generate device kernels, and through the table those files fill everywhere else.
#pragma once

#include <cstdint>
#include <vector>

#include <sinter/backend/cpu/elementwise.hpp>
#include <sinter/backend/device_table.hpp>

#if SINTER_DEVICE_KERNELS
#include <sinter/backend/thrust/memory.hpp>
#endif

// nvcc compiles a file twice, once for the device (__CUDA_ARCH__ defined). The CPU evaluator instantiates the plans'
// __host__ __device__ functions with xsimd batches, which device code cannot hold, so the device pass leaves the
// CPU calls out; they launch no device kernels, so both passes still instantiate the same kernels.
#if defined(__CUDA_ARCH__)
#define SINTER_HOST_ONLY(...) void()
#else
#define SINTER_HOST_ONLY(...) __VA_ARGS__
#endif

namespace sinter::detail {

template <class T, class Plan>
void launch_forward(Device dev, const IterationSpace& space, const Plan& plan, const OperandGeometry& geo, T* dst,
                    bool add) {
  if (dev.is_cpu()) return SINTER_HOST_ONLY(cpu::forward<T>(space, plan, geo, dst, add));
#if SINTER_DEVICE_KERNELS
  (void)thrust_backend::RegisterForward<T, Plan>::done;
  thrust_backend::forward<T>(dev, space, plan, geo, dst, add);
#else
  const auto fn = DeviceForward<T, Plan>::fn;
  require_device_kernel(fn != nullptr, dev, "expression");
  fn(dev, space, plan, geo, dst, add);
#endif
}

template <expr::ReduceKind K, class T, class Plan>
void launch_reduce(Device dev, const IterationSpace& space, const Plan& plan, const OperandGeometry& geo, T* out,
                   std::int64_t size) {
  if (dev.is_cpu()) return SINTER_HOST_ONLY(cpu::reduce<K, T>(space, plan, geo, out, size));
#if SINTER_DEVICE_KERNELS
  (void)thrust_backend::RegisterReduce<K, T, Plan>::done;
  thrust_backend::reduce<K, T>(dev, space, plan, geo, out, size);
#else
  const auto fn = DeviceReduce<K, T, Plan>::fn;
  require_device_kernel(fn != nullptr, dev, "reduction");
  fn(dev, space, plan, geo, out, size);
#endif
}

template <class T, class Plan, class Seed>
void launch_backward(Device dev, const IterationSpace& space, const Plan& plan, const Seed& seed,
                     const std::vector<int>& slot_of_leaf, std::vector<expr::GradDestination<T>>& dests) {
  if (dev.is_cpu()) return SINTER_HOST_ONLY(cpu::backward<T>(space, plan, seed, slot_of_leaf, dests));
#if SINTER_DEVICE_KERNELS
  (void)thrust_backend::RegisterBackward<T, Plan, Seed>::done;
  thrust_backend::backward<T>(dev, space, plan, seed, slot_of_leaf, dests);
#else
  const auto fn = DeviceBackward<T, Plan, Seed>::fn;
  require_device_kernel(fn != nullptr, dev, "backward");
  fn(dev, space, plan, seed, slot_of_leaf, dests);
#endif
}

}  // namespace sinter::detail
