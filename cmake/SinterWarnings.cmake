# SPDX-License-Identifier: Apache-2.0
# Flags for sinter's own tests, examples and benchmarks (never propagated to users of sinter::sinter).
add_library(sinter_dev_flags INTERFACE)
target_compile_options(sinter_dev_flags INTERFACE -Wall -Wextra -Wpedantic
  # GCC 12 reports _mm512_undefined_* inside its own intrinsics headers once xsimd's AVX-512 code is inlined.
  $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized -Wno-uninitialized>)
if(SINTER_NATIVE)
  target_compile_options(sinter_dev_flags INTERFACE -march=native)
endif()
