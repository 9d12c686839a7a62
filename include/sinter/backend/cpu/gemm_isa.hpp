// SPDX-License-Identifier: Apache-2.0
// Which instruction set the built-in GEMM runs, chosen when the program runs. The element-wise kernels follow the
// compile flags (-march), which is safe wherever the binary was meant to run; the GEMM is compute-bound, so a
// program built for plain x86-64 (SSE2, the default of every compiler and of sinter's CMake package) would lose 4-8x
// there. gemm_kernels.hpp compiles the GEMM's kernels for the wider sets too, and this picks the widest the CPU has.
#pragma once

#include <atomic>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <sinter/core/error.hpp>

// On x86-64 with GCC or clang the GEMM has AVX2+FMA and AVX-512 kernels written with intrinsics, compiled inside a
// target region where the compile target lacks the set; the xsimd kernel of the compile target exists only when it is
// narrower (SSE2 on plain x86-64). A compile target with AVX-512 keeps only that kernel: the binary needs it anyway.
// nvcc's front end does not take the regions, so CUDA translation units keep the compile target's kernel.
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__)) && !defined(__CUDACC__)
#define SINTER_GEMM_AVX512 1
#if !defined(__AVX512F__)
#define SINTER_GEMM_AVX2 1
#endif
#if defined(__AVX2__) && defined(__FMA__)
#define SINTER_GEMM_NO_XSIMD 1
#endif
#endif

namespace sinter::cpu {

/// The GEMM's instruction sets. `compiled` is the compile target's through xsimd (SSE2 on plain x86-64, NEON on ARM64);
/// on x86-64 it gives way to the intrinsic kernels when the compile target has AVX2+FMA.
enum class GemmIsa { compiled, avx2, avx512 };

inline const char* to_string(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::avx2: return "avx2";
    case GemmIsa::avx512: return "avx512";
    default: return "compiled";
  }
}

/// Whether this program has kernels for isa and this CPU (and its operating system) can run them.
inline bool gemm_isa_available(GemmIsa isa) {
  switch (isa) {
#if !defined(SINTER_GEMM_NO_XSIMD)
    case GemmIsa::compiled: return true;
#endif
#if defined(SINTER_GEMM_AVX2) && defined(__AVX2__) && defined(__FMA__)
    case GemmIsa::avx2: return true;
#elif defined(SINTER_GEMM_AVX2)
    case GemmIsa::avx2: return __builtin_cpu_init(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
#if defined(SINTER_GEMM_AVX512) && defined(__AVX512F__)
    case GemmIsa::avx512: return true;
#elif defined(SINTER_GEMM_AVX512)
    // libgcc and compiler-rt report avx512f only when the OS saves the zmm registers (XGETBV), as they must.
    // __builtin_cpu_init is idempotent; it matters when this runs before libgcc's own initialiser.
    case GemmIsa::avx512: return __builtin_cpu_init(), __builtin_cpu_supports("avx512f");
#endif
    default: return false;
  }
}

/// The instruction sets the GEMM can run here, narrowest first.
inline std::vector<GemmIsa> gemm_isas_available() {
  std::vector<GemmIsa> out;
  for (GemmIsa isa : {GemmIsa::compiled, GemmIsa::avx2, GemmIsa::avx512})
    if (gemm_isa_available(isa)) out.push_back(isa);
  return out;
}

}  // namespace sinter::cpu

namespace sinter::detail {
using cpu::GemmIsa;
inline std::string gemm_isa_choices() {
  using namespace cpu;
  std::string s;
  for (GemmIsa isa : gemm_isas_available()) s += std::string(s.empty() ? "" : ", ") + to_string(isa);
  return s;
}

/// The widest available set, or the one SINTER_GEMM_ISA names (to compare them, or to rule one out).
inline GemmIsa default_gemm_isa() {
  using namespace cpu;
  if (const char* env = std::getenv("SINTER_GEMM_ISA"); env && *env) {
    for (GemmIsa isa : {GemmIsa::compiled, GemmIsa::avx2, GemmIsa::avx512}) {
      if (std::string_view(env) != to_string(isa)) continue;
      SINTER_CHECK(gemm_isa_available(isa), "SINTER_GEMM_ISA=", env,
                   " names an instruction set this program or CPU cannot run; unset it or use one of: ",
                   gemm_isa_choices());
      return isa;
    }
    fail("SINTER_GEMM_ISA=", env, " is not an instruction set; unset it or use one of: ", gemm_isa_choices());
  }
  return gemm_isas_available().back();
}

inline std::atomic<int>& gemm_isa_slot() noexcept {
  static std::atomic<int> slot{-1};  // -1: not chosen yet
  return slot;
}
}  // namespace sinter::detail

namespace sinter::cpu {

/// The instruction set the GEMM runs: chosen at the first GEMM (the widest available, or SINTER_GEMM_ISA).
inline GemmIsa gemm_isa() {
  int v = detail::gemm_isa_slot().load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(detail::default_gemm_isa());
    detail::gemm_isa_slot().store(v, std::memory_order_relaxed);
  }
  return static_cast<GemmIsa>(v);
}

/// Runs the GEMM on isa from now on (tests and benchmarks compare the sets this way).
inline void set_gemm_isa(GemmIsa isa) {
  SINTER_CHECK(gemm_isa_available(isa), "set_gemm_isa(", to_string(isa),
               "): this program or CPU cannot run it; use one of: ", detail::gemm_isa_choices());
  detail::gemm_isa_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace sinter::cpu
