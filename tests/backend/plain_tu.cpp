// SPDX-License-Identifier: Apache-2.0
// A translation unit that generates no device kernels (compiled as plain C++), linked into the device backend tests:
// it reaches the kernels that the device file compiled through the kernel table, and reports the ones nobody did.
#include <sinter/sinter.hpp>

#if SINTER_DEVICE_KERNELS
#error "plain_tu.cpp must be compiled without device kernels"
#endif

namespace plain_tu {

/// The same statement as the device test's fusion case, so its kernels exist in the program.
sinter::Tensor shared_statement(const sinter::Tensor& a, const sinter::Tensor& x, const sinter::Tensor& b) {
  return sinter::sigmoid(a * x + b) * sinter::tanh(x);
}

/// A statement that only this file contains.
sinter::Tensor unique_statement(const sinter::Tensor& x) { return sinter::cos(sinter::cos(sinter::cos(x))) * 3.f; }

}  // namespace plain_tu
