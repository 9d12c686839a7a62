// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the .npy reader (sinter/io/npy.hpp), into float and into int64.
#include <sinter/io/npy.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  fuzz::expect_only_sinter_errors([&] { sinter::detail::parse_npy<float>(bytes, "input"); });
  fuzz::expect_only_sinter_errors([&] { sinter::detail::parse_npy<std::int64_t>(bytes, "input"); });
  return 0;
}
