// SPDX-License-Identifier: Apache-2.0
// Compiler and platform switches shared by every layer.
#pragma once

#include <cstddef>

// Marks that a sinter header was included: <sinter/implementation.hpp> must come first in its file to see every
// compiled-mode definition.
#define SINTER_HEADER_SEEN 1

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

// Compiled mode (docs/compiled_mode.md). By default sinter is header-only: every translation unit compiles the
// machinery all programs share (tape, backward engine, allocator, iteration spaces, the element-type loops, GEMM,
// modules, optimisers, data loading), which is most of a model file's compile time. With SINTER_COMPILED defined in
// every translation unit of a program, that machinery is only declared, and the one file that includes
// <sinter/implementation.hpp> compiles it, with the same flags. What depends on a user's expressions is compiled
// where they are written, in both modes.
//   SINTER_SHARED         on a shared non-template function's definition (its declaration stays plain): `inline`
//                         header-only, one external definition in compiled mode.
//   SINTER_DEFINE_SHARED  1 where such definitions are seen (header-only, or the implementation file), else 0:
//                         headers keep them in an `#if SINTER_DEFINE_SHARED` block after the declarations.
//   SINTER_EXTERN_TEMPLATE(decl)  the float/double/int64 instantiations of shared templates: `extern template decl;`
//                         in compiled mode (implementation.hpp instantiates them once), nothing header-only.
#if defined(SINTER_COMPILED) && defined(__CUDACC__)
// The implementation file is compiled by the host compiler, so device kernels that shared code launches would be
// missing from the program: refuse rather than fail at run time.
#error "sinter: compiled mode (SINTER_COMPILED) does not cover files compiled by nvcc yet; build the targets \
that use sinter::cuda header-only (without sinter_compiled_mode)"
#endif
#if defined(SINTER_COMPILED)
#define SINTER_SHARED
#if defined(SINTER_IMPLEMENTATION)
#define SINTER_DEFINE_SHARED 1
#define SINTER_EXTERN_TEMPLATE(...)
#else
#define SINTER_DEFINE_SHARED 0
#define SINTER_EXTERN_TEMPLATE(...) extern template __VA_ARGS__;
#endif
#else
#define SINTER_SHARED inline
#define SINTER_DEFINE_SHARED 1
#define SINTER_EXTERN_TEMPLATE(...)
#endif

namespace sinter {
/// Largest tensor rank. Shapes live inline (no heap) so plans stay trivially copyable.
inline constexpr int kMaxRank = 8;
/// Storage alignment in bytes (one cache line, one AVX-512 register).
inline constexpr std::size_t kAlignment = 64;
}  // namespace sinter
