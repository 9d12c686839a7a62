// SPDX-License-Identifier: Apache-2.0
// The peer's side of the compile-time comparison: a minimal libtorch MLP training step (784-256-128-10).
#include <iostream>

#include <torch/torch.h>

struct Net : torch::nn::Module {
  torch::nn::Linear fc1{784, 256}, fc2{256, 128}, fc3{128, 10};
  Net() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
    register_module("fc3", fc3);
  }
  torch::Tensor forward(torch::Tensor x) {
    return fc3(torch::relu(fc2(torch::relu(fc1(x)))));
  }
};

int main() {
  Net net;
  torch::optim::SGD opt(net.parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  auto x = torch::randn({64, 784});
  auto y = torch::randint(0, 10, {64});
  opt.zero_grad();
  auto loss = torch::nn::functional::cross_entropy(net.forward(x), y);
  loss.backward();
  opt.step();
  std::cout << loss.item<float>() << "\n";
}
