// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the IDX readers of (Fashion-)MNIST, plain and gzip (sinter/data/idx.hpp).
#include <sinter/data/idx.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::as_file(data, size, ".idx");
  fuzz::expect_only_sinter_errors([&] {
    const sinter::Tensor images = sinter::data::read_idx_images(path);
    if (images.numel() && !(images.to_vector()[0] >= 0.0f)) std::abort();  // bytes / 255 are in [0, 1]
  });
  fuzz::expect_only_sinter_errors([&] { sinter::data::read_idx_labels(path); });
  return 0;
}
