// SPDX-License-Identifier: Apache-2.0
// The control case: this one builds, proving a compile-fail test fails for the reason it names, not the harness.
#include <sinter/sinter.hpp>
int main() {
  sinter::Tensor a = sinter::ones({2});
  sinter::Tensor y = a * 2.0f;
  return y.numel() == 2 ? 0 : 1;
}
