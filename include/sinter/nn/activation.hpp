// SPDX-License-Identifier: Apache-2.0
// Parameter-free layers: activations, Dropout, Flatten. Each forward is one fused statement.
#pragma once

#include <sinter/expr/functions.hpp>
#include <sinter/nn/functional/dropout.hpp>
#include <sinter/nn/module.hpp>
#include <sinter/ops/softmax.hpp>

namespace sinter::nn {

#define SINTER_ACTIVATION_MODULE(Name, call)                          \
  class Name : public Module {                                        \
   public:                                                            \
    Name() : Module(#Name) {}                                         \
    Tensor forward(const Tensor& x) override { return call; }         \
  };
SINTER_ACTIVATION_MODULE(ReLU, relu(x))
SINTER_ACTIVATION_MODULE(Sigmoid, sigmoid(x))
SINTER_ACTIVATION_MODULE(Tanh, tanh(x))
SINTER_ACTIVATION_MODULE(GELU, gelu(x))
SINTER_ACTIVATION_MODULE(SiLU, silu(x))
SINTER_ACTIVATION_MODULE(Identity, x)
#undef SINTER_ACTIVATION_MODULE

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : Module("LeakyReLU"), negative_slope(negative_slope) {}
  Tensor forward(const Tensor& x) override { return leaky_relu(x, negative_slope); }
  std::string extra_repr() const override { return "negative_slope=" + std::to_string(negative_slope); }
  double negative_slope;
};

class Softmax : public Module {
 public:
  explicit Softmax(std::int64_t dim) : Module("Softmax"), dim(dim) {}
  Tensor forward(const Tensor& x) override { return softmax(x, dim); }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim); }
  std::int64_t dim;
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5) : Module("Dropout"), p(p) {
    SINTER_CHECK(p >= 0 && p <= 1, "Dropout: probability has to be between 0 and 1, but got ", p);
  }
  Tensor forward(const Tensor& x) override { return functional::dropout(x, p, is_training()); }
  std::string extra_repr() const override {
    std::ostringstream os;
    os << "p=" << p;
    return os.str();
  }
  double p;
};

class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1)
      : Module("Flatten"), start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string extra_repr() const override {
    return "start_dim=" + std::to_string(start_dim) + ", end_dim=" + std::to_string(end_dim);
  }
  std::int64_t start_dim, end_dim;
};

}  // namespace sinter::nn
