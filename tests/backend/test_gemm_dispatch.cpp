// SPDX-License-Identifier: Apache-2.0
// Runtime instruction-set dispatch of the GEMM, from a translation unit built without -march (plain x86-64, as most
// programs that use sinter's CMake package are): the wider kernels must be found on a CPU that has them, chosen by
// default, and each must match the double reference on every path, transpose and edge.
#include <algorithm>

#include <support/gemm_check.hpp>

namespace st = sinter;
using st::cpu::GemmIsa;

TEST_CASE("a build for plain x86-64 finds the CPU's wider GEMM kernels and runs the widest", "[backend][gemm]") {
  const std::vector<GemmIsa> isas = st::cpu::gemm_isas_available();
  REQUIRE(!isas.empty());
  CHECK(st::detail::default_gemm_isa() == isas.back());
  CHECK(isas.front() == GemmIsa::compiled);  // built without -march: the SSE2 kernel is there for any x86-64 CPU
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__AVX2__)
  const auto has = [&](GemmIsa isa) { return std::find(isas.begin(), isas.end(), isa) != isas.end(); };
  CHECK(has(GemmIsa::avx2) == (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")));
  CHECK(has(GemmIsa::avx512) == bool(__builtin_cpu_supports("avx512f")));
#endif
  for (GemmIsa isa : isas) {
    st::cpu::set_gemm_isa(isa);
    const int lanes = st::cpu::gemm_kernels<float>().W;
    CHECK(lanes == (isa == GemmIsa::avx512 ? 16 : isa == GemmIsa::avx2 ? 8 : int(xsimd::batch<float>::size)));
  }
  st::cpu::set_gemm_isa(isas.back());
}

TEMPLATE_TEST_CASE("GEMM matches the reference on every available instruction set", "[backend][gemm]", float, double) {
  for (GemmIsa isa : st::cpu::gemm_isas_available()) {
    INFO("instruction set " << st::cpu::to_string(isa));
    st::cpu::set_gemm_isa(isa);
    sinter_test::check_gemm_paths<TestType>();
  }
  st::cpu::set_gemm_isa(st::cpu::gemm_isas_available().back());
}
