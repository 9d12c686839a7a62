// SPDX-License-Identifier: Apache-2.0
// Compile-time benchmark (issue 3): a program that includes <sinter/sinter.hpp> and uses 20 distinct expressions,
// each with its fused forward and backward instantiated. bench/compile_time.sh times it with g++ -O2.
#include <iostream>

#include <sinter/sinter.hpp>

namespace st = sinter;

int main() {
  st::manual_seed(0);
  st::Tensor x = st::randn({256}).requires_grad_(), a = st::randn({256}).requires_grad_();
  st::Tensor b = st::randn({256}).requires_grad_(), w = st::randn({256, 256}).requires_grad_();
  st::Tensor t = st::rand({256});
  std::vector<st::Tensor> outs = {
      st::sigmoid(a * x + b) * st::tanh(x),
      st::relu(x - a) + b * 2.0f,
      st::exp(-x * x) / (a * a + 1.0f),
      st::log1p(st::abs(x)) * st::sqrt(st::abs(a) + 1e-3f),
      st::gelu(x) + st::gelu_tanh(a),
      st::silu(x * b) - st::softplus(a),
      st::clamp(x, -1.0, 1.0) * st::elu(b),
      st::leaky_relu(a - b, 0.2) * x,
      st::where(x > a, x, a) + st::minimum(a, b),
      st::maximum(x, b) * st::sin(a) + st::cos(b),
      st::pow(st::abs(x) + 1.0f, a * 0.1f),
      st::rsqrt(x * x + 1.0f) * a,
      st::tanh(st::tanh(x) * a + b),
      (x - st::mean(x)) * st::rsqrt(st::mean(x * x) + 1e-5f),
      st::softmax(st::matmul(w, x) + b, 0),
      st::log_softmax(x * a, 0) * t,
      st::logsumexp(st::matmul(w, a), {0}, true) - x,
      st::sum(st::matmul(w, x * b) * a) * x,
      st::amax(x - b) + a / (1.0f + st::exp(-b)),
      (x * a - b) * (x * a - b) * 0.5f,
  };
  st::Tensor total = st::zeros({256});
  for (auto& o : outs) total = total + o;
  st::sum(total).backward();
  std::cout << "20 expressions, x.grad()[0] = " << x.grad().to_vector()[0] << ", kernels " << st::counters().kernels
            << "\n";
}
