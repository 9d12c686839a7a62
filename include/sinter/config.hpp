// SPDX-License-Identifier: Apache-2.0
// Compiler and platform switches shared by every layer.
#pragma once

#include <cstddef>

// Only plans and op functors carry this: they run in CPU loops, Thrust functors and CUDA kernels.
#if defined(__CUDACC__)
#define SINTER_HD __host__ __device__
#else
#define SINTER_HD
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SINTER_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define SINTER_ALWAYS_INLINE inline
#endif

// Fully unrolls a loop over a register tile, so its accumulators live in registers at -O2 too (GCC unrolls such
// loops only at -O3: the built-in GEMM ran at 58 instead of 150 GFLOP/s in a -O2 build).
#if (defined(__clang__) || defined(__GNUC__)) && !defined(__CUDACC__)  // nvcc's front end rejects the GCC form
#define SINTER_UNROLL _Pragma("GCC unroll 32")
#else
#define SINTER_UNROLL
#endif

namespace sinter {
/// Largest tensor rank. Shapes live inline (no heap) so plans stay trivially copyable.
inline constexpr int kMaxRank = 8;
/// Storage alignment in bytes (one cache line, one AVX-512 register).
inline constexpr std::size_t kAlignment = 64;
}  // namespace sinter
