// SPDX-License-Identifier: Apache-2.0
// Where a statement's plan meets a device: the CPU evaluator directly; a GPU through the Thrust evaluator in files
// that generate device kernels, and through the table those files fill everywhere else.
#pragma once

#include <cstdint>
#include <vector>

#include <sinter/backend/cpu/elementwise.hpp>
#include <sinter/backend/device_table.hpp>

#include <sinter/backend/cpu/gemm.hpp>

#if SINTER_DEVICE_KERNELS
#include <sinter/backend/thrust/memory.hpp>
#if SINTER_THRUST_CUDA
#include <sinter/backend/cuda/blas.hpp>
#else
#include <sinter/backend/thrust/gemm.hpp>
#endif
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
                   std::int64_t size, T scale = T(1)) {
  if (dev.is_cpu()) return SINTER_HOST_ONLY(cpu::reduce<K, T>(space, plan, geo, out, size, scale));
#if SINTER_DEVICE_KERNELS
  (void)thrust_backend::RegisterReduce<K, T, Plan>::done;
  thrust_backend::reduce<K, T>(dev, space, plan, geo, out, size, scale);
#else
  const auto fn = DeviceReduce<K, T, Plan>::fn;
  require_device_kernel(fn != nullptr, dev, "reduction");
  fn(dev, space, plan, geo, out, size, scale);
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

/// f(i) for every i in [0, n) on dev, counted as one kernel: on the CPU split across threads in contiguous chunks
/// (each thread's loop over its chunk vectorises like a hand-written one), on a GPU one Thrust kernel. f is a
/// trivially copyable functor with a SINTER_HD call operator taking std::int64_t. work_per_index is the number of
/// elements one call touches (a row, a channel): it sizes the CPU's thread count, and such chunks split evenly
/// rather than on cache lines.
template <class F>
void launch_for_each(Device dev, std::int64_t n, const F& f, const char* op, std::int64_t work_per_index = 1) {
  if (dev.is_cpu()) {
    count_kernel(kCPU);
    const std::int64_t align = work_per_index > 1 ? 1 : 64;
    cpu::parallel(cpu::threads_for(n * work_per_index), [&](int tid, int nth) {
      const auto [b, e] = cpu::chunk(n, tid, nth, align);
      // A private copy: the functor's fields (lr, momentum, pointers) then cannot alias the floats it writes, so the
      // compiler keeps them in registers and vectorises the loop (SGD took 17% of the MLP example, now 3%).
      const F local = f;
      for (std::int64_t i = b; i < e; ++i) local(i);
    });
    return;
  }
#if SINTER_DEVICE_KERNELS
  (void)thrust_backend::RegisterForEach<F>::done;
  thrust_backend::for_each(dev, n, f, op);
#else
  const auto fn = DeviceForEach<F>::fn;
  require_device_kernel(fn != nullptr, dev, op);
  fn(dev, n, f, op);
#endif
}

/// C (+)= A . B on dev, with element strides for A and B (see cpu::gemm).
template <class T>
void launch_gemm(Device dev, std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t rsa,
                 std::int64_t csa, const T* B, std::int64_t rsb, std::int64_t csb, T* C, std::int64_t ldc,
                 bool accumulate) {
  if (dev.is_cpu()) return cpu::gemm<T>(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
  const auto fn = DeviceGemm<T>::fn;
  require_device_kernel(fn != nullptr, dev, "matmul");
  fn(dev, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, accumulate);
}

#if SINTER_DEVICE_KERNELS
/// Every file with device kernels installs the device GEMM (cuBLAS, or the Thrust kernel on host systems).
inline const bool device_gemm_installed = [] {
  DeviceGemm<float>::fn = &thrust_backend::gemm<float>;
  DeviceGemm<double>::fn = &thrust_backend::gemm<double>;
  return true;
}();
#endif

}  // namespace sinter::detail
