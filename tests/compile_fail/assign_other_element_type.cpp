// SPDX-License-Identifier: Apache-2.0
// Must not compile: a double expression assigned to a float tensor.
#include <sinter/sinter.hpp>
int main() {
  sinter::TensorOf<double> b = sinter::ones<double>({2});
  sinter::Tensor y = b * 2.0;
  (void)y;
}
