// SPDX-License-Identifier: Apache-2.0
// The kernels of non-CPU devices, one slot per plan type and launch kind. Only translation units compiled with nvcc
// (or with SINTER_DEVICE_KERNELS=1 for Thrust's host systems) can generate them; each such file fills the slots of
// the plans it instantiates at start-up. A file compiled by g++ then runs a statement on the GPU when any nvcc file of
// the program compiled that same statement, and otherwise gets an error that says which file to compile how.
#pragma once

#include <cstdint>
#include <vector>

#include <sinter/core/device.hpp>
#include <sinter/core/error.hpp>
#include <sinter/expr/plan.hpp>

// 1 in a translation unit that generates device kernels: every nvcc compile, and the Thrust host-system builds.
#if !defined(SINTER_DEVICE_KERNELS)
#if defined(__CUDACC__)
#define SINTER_DEVICE_KERNELS 1
#else
#define SINTER_DEVICE_KERNELS 0
#endif
#endif

namespace sinter::detail {

/// dst (+)= plan over the space.
template <class T, class Plan>
struct DeviceForward {
  using Fn = void (*)(Device, const IterationSpace&, const Plan&, const OperandGeometry&, T*, bool);
  inline static Fn fn = nullptr;
};

/// out = scale * fold of plan over the dims where the out geometry has zero strides.
template <expr::ReduceKind K, class T, class Plan>
struct DeviceReduce {
  using Fn = void (*)(Device, const IterationSpace&, const Plan&, const OperandGeometry&, T*, std::int64_t, T);
  inline static Fn fn = nullptr;
};

/// The fused backward sweep of plan, seeded by Seed, into one destination per input.
template <class T, class Plan, class Seed>
struct DeviceBackward {
  using Fn = void (*)(Device, const IterationSpace&, const Plan&, const Seed&, const std::vector<int>&,
                      std::vector<expr::GradDestination<T>>&);
  inline static Fn fn = nullptr;
};

/// f(i) for every i in [0, n): the hand-written kernels (optimiser updates, losses, pooling) as functors.
template <class F>
struct DeviceForEach {
  using Fn = void (*)(Device, std::int64_t, const F&, const char*);
  inline static Fn fn = nullptr;
};

/// C (+)= A . B for one M x N x K product with element strides (row, column) for A and B and row stride ldc for C.
/// Filled by cuBLAS under CUDA, by a Thrust kernel on Thrust's host systems.
template <class T>
struct DeviceGemm {
  using Fn = void (*)(Device, std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t rsa,
                      std::int64_t csa, const T* B, std::int64_t rsb, std::int64_t csb, T* C, std::int64_t ldc,
                      bool accumulate);
  inline static Fn fn = nullptr;
};

/// The error for a slot nobody filled.
inline void require_device_kernel(bool found, Device d, const char* op) {
  SINTER_CHECK(found, op, ": no translation unit of this program compiled this statement for ", d,
               "; compile the file that contains it with nvcc (or add it to a target that links sinter::cuda), "
               "include <sinter/cuda.hpp> there, and link sinter::cuda");
}

}  // namespace sinter::detail
