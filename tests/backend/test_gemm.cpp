// SPDX-License-Identifier: Apache-2.0
// The built-in GEMM against a double reference on every path, transpose and edge (support/gemm_check.hpp), and the
// choice of its instruction set in a build for this machine's own (-march=native).
#include <cstdlib>

#include <support/gemm_check.hpp>

namespace st = sinter;
using st::cpu::GemmIsa;

TEMPLATE_TEST_CASE("GEMM matches the reference on every path, transpose and edge", "[backend][gemm]", float, double) {
  sinter_test::check_gemm_paths<TestType>();
}

TEST_CASE("GEMM instruction sets: the widest runs by default, and asking for one it lacks is an error",
          "[backend][gemm]") {
  const std::vector<GemmIsa> isas = st::cpu::gemm_isas_available();
  REQUIRE(!isas.empty());
  CHECK(st::detail::default_gemm_isa() == isas.back());
#if defined(__AVX512F__)
  CHECK(isas == std::vector<GemmIsa>{GemmIsa::avx512});  // the compile target's width: nothing else is compiled
#endif
  for (GemmIsa isa : {GemmIsa::compiled, GemmIsa::avx2, GemmIsa::avx512}) {
    if (st::cpu::gemm_isa_available(isa)) continue;
    CHECK_THROWS_WITH(st::cpu::set_gemm_isa(isa), Catch::StartsWith(std::string("sinter: set_gemm_isa(") +
                                                                    st::cpu::to_string(isa) + "): this program or CPU"));
  }
  // SINTER_GEMM_ISA picks one for a run; a name that is not one, or one not available, is an error naming the choices.
  ::setenv("SINTER_GEMM_ISA", "sse9", 1);
  CHECK_THROWS_WITH(st::detail::default_gemm_isa(),
                    Catch::StartsWith("sinter: SINTER_GEMM_ISA=sse9 is not an instruction set; unset it or use one of: ") &&
                        Catch::Contains(st::cpu::to_string(isas.back())));
  ::setenv("SINTER_GEMM_ISA", st::cpu::to_string(isas.front()), 1);
  CHECK(st::detail::default_gemm_isa() == isas.front());
  ::unsetenv("SINTER_GEMM_ISA");
  st::cpu::set_gemm_isa(isas.back());
  CHECK(st::cpu::gemm_isa() == isas.back());
}
