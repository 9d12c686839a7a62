// SPDX-License-Identifier: Apache-2.0
// Must not compile: element-wise arithmetic on an int64 (index) tensor needs an explicit conversion.
#include <sinter/sinter.hpp>

int main() {
  sinter::LongTensor labels = sinter::zeros<std::int64_t>({4});
  sinter::Tensor y = labels * 2.0f;
  return static_cast<int>(y.numel());
}
