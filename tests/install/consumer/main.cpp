// SPDX-License-Identifier: Apache-2.0
#include <iostream>

#include <sinter/sinter.hpp>

int main() {
  sinter::Tensor x = sinter::full({4}, 2.0f), a = sinter::full({4}, 3.0f);
  sinter::reset_counters();
  sinter::Tensor y = a * x + 1.0f;
  std::cout << "consumer: " << sinter::counters().kernels << " kernel, y = " << y[0].item()
            << (SINTER_DEFINE_SHARED ? "" : " (compiled mode)") << "\n";
  return sinter::counters().kernels == 1 ? 0 : 1;
}
