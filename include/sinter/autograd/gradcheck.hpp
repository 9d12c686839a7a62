// SPDX-License-Identifier: Apache-2.0
// gradcheck: compares the analytic gradients of a function with central finite differences, in double.
#pragma once

#include <cmath>
#include <functional>
#include <sstream>
#include <vector>

#include <sinter/autograd/backward.hpp>
#include <sinter/core/factory.hpp>

namespace sinter {

/// Checks fn's gradients with respect to every input that requires grad, like torch.autograd.gradcheck with a
/// random cotangent (a vector-Jacobian check: w . J . e_i for every input element i). Throws sinter::Error naming the
/// input and element on a mismatch; returns true otherwise.
/// Example: `sinter::gradcheck([](auto& in) { return sinter::eval(sinter::tanh(in[0]) * in[1]); }, {x, y});`
inline bool gradcheck(const std::function<TensorOf<double>(const std::vector<TensorOf<double>>&)>& fn,
                      const std::vector<TensorOf<double>>& inputs, double eps = 1e-6, double atol = 1e-5,
                      double rtol = 1e-3) {
  // Analytic: backward with a random cotangent w.
  for (const auto& x : inputs) x.impl()->grad.reset();
  TensorOf<double> out = fn(inputs);
  std::vector<double> wv = rand<double>(out.shape()).to_vector();
  for (auto& v : wv) v += 0.5;  // keep the cotangent away from zero
  out.backward(from_vector<double>(wv, out.shape()), false);
  auto project = [&](const TensorOf<double>& y) {
    const auto yv = y.to_vector();
    double s = 0;
    for (std::size_t i = 0; i < yv.size(); ++i) s += yv[i] * wv[i];
    return s;
  };
  NoGradGuard no_grad;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const auto& x = inputs[k];
    if (!x.requires_grad()) continue;
    SINTER_CHECK(x.is_leaf() && x.is_contiguous(), "gradcheck: input ", k, " must be a contiguous leaf tensor");
    const std::vector<double> analytic =
        x.impl()->grad ? TensorOf<double>(x.impl()->grad).to_vector() : std::vector<double>(x.numel(), 0.0);
    double* p = x.data();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const double orig = p[i];
      p[i] = orig + eps;
      const double fp = project(fn(inputs));
      p[i] = orig - eps;
      const double fm = project(fn(inputs));
      p[i] = orig;
      const double numeric = (fp - fm) / (2 * eps);
      const double a = analytic[static_cast<std::size_t>(i)];
      if (!(std::fabs(a - numeric) <= atol + rtol * std::fabs(numeric))) {
        std::ostringstream os;
        os << "gradcheck: Jacobian mismatch for input " << k << " (shape " << x.shape() << ") at element " << i
           << ": analytic " << a << ", numerical " << numeric;
        detail::fail(os.str());
      }
    }
  }
  return true;
}

}  // namespace sinter
