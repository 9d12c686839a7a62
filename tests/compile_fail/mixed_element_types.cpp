// SPDX-License-Identifier: Apache-2.0
// Must not compile: float and double tensors in one expression.
#include <sinter/sinter.hpp>
int main() {
  sinter::Tensor a = sinter::ones({2});
  sinter::TensorOf<double> b = sinter::ones<double>({2});
  auto e = a + b;
  (void)e;
}
