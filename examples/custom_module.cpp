// SPDX-License-Identifier: Apache-2.0
// Extending sinter the way a PyTorch user extends torch: a custom module whose forward is one fused expression with
// a learnable parameter, and a custom op with a hand-written backward (sinter::Function), trained on Fashion-MNIST.
//   custom_module [--epochs N] [--threads N] [--data DIR] [--limit N]
// Ends with "final: test_accuracy=... train_seconds=...".
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <sinter/data.hpp>
#include <sinter/nn.hpp>
#include <sinter/optim.hpp>
#include <sinter/sinter.hpp>
#include <sinter/util/metrics.hpp>

namespace st = sinter;
namespace nn = sinter::nn;

/// Swish with a learnable slope per feature: y = x * sigmoid(beta * x). The whole forward is one fused kernel and
/// its backward one kernel writing the gradients of x and beta (beta's summed over the batch in the same pass).
class LearnableSwish : public nn::Module {
 public:
  explicit LearnableSwish(std::int64_t features) : Module("LearnableSwish") {
    beta = register_parameter("beta", st::ones({features}));
  }
  st::Tensor forward(const st::Tensor& x) override { return x * st::sigmoid(beta * x); }
  std::string extra_repr() const override { return std::to_string(beta.numel()) + " features"; }
  st::Tensor beta;
};

/// A custom op: clips the gradient flowing back through it (identity forward), written with sinter::Function.
st::Tensor gradient_clip(const st::Tensor& x, float limit) {
  static const st::Function op{
      [](const auto& in) { return in[0].clone(); },
      [limit](const auto&, const auto&, const st::Tensor& g) {
        return std::vector<st::Tensor>{st::clamp(g, -limit, limit)};
      },
      "GradientClipBackward"};
  return op({x});
}

class Net : public nn::Module {
 public:
  Net() : Module("Net") {
    fc1 = register_module("fc1", std::make_shared<nn::Linear>(784, 256));
    act = register_module("act", std::make_shared<LearnableSwish>(256));
    fc2 = register_module("fc2", std::make_shared<nn::Linear>(256, 10));
  }
  st::Tensor forward(const st::Tensor& x) override {
    return fc2->forward(gradient_clip(act->forward(fc1->forward(x.flatten(1))), 0.1f));
  }
  std::shared_ptr<nn::Linear> fc1, fc2;
  std::shared_ptr<LearnableSwish> act;
};

int main(int argc, char** argv) try {
  int epochs = 3, threads = 2;
  std::int64_t limit = 0;
  std::string dir = st::data::default_fashion_mnist_dir();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--epochs") epochs = std::stoi(v);
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--limit") limit = std::stoll(v);
    else if (a == "--data") dir = v;
    else {
      std::cerr << "usage: custom_module [--epochs N] [--threads N] [--data DIR] [--limit N]\n";
      return 2;
    }
  }
  st::set_num_threads(threads);
  st::manual_seed(0);
  namespace T = st::data::transforms;
  auto train_set = st::data::FashionMNIST(true, dir);
  if (limit > 0 && limit < train_set.size())
    train_set = st::data::TensorDataset(train_set.data().slice(0, 0, limit), train_set.targets().slice(0, 0, limit));
  const std::vector<st::data::Transform> norm = {T::Normalize({0.2860f}, {0.3530f})};
  st::data::DataLoader train(train_set, st::data::DataLoaderOptions(64).shuffle(true), norm);
  st::data::DataLoader test(st::data::FashionMNIST(false, dir), st::data::DataLoaderOptions(1000), norm);

  Net net;
  std::cout << net << "\n";
  st::optim::AdamW opt(net.parameters(), st::optim::AdamWOptions(1e-3));
  double seconds = 0;
  for (int e = 1; e <= epochs; ++e) {
    const auto t0 = std::chrono::steady_clock::now();
    st::util::RunningMean loss_avg;
    for (const auto& b : train) {
      opt.zero_grad();
      st::Tensor loss = nn::F::cross_entropy(net(b.data), b.target);
      loss.backward();
      opt.step();
      loss_avg.update(loss.item(), b.target.numel());
    }
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "epoch " << e << ": train loss " << loss_avg.value() << ", mean beta " << st::mean(net.act->beta).item()
              << "\n";
  }
  st::NoGradGuard no_grad;
  st::util::Accuracy acc;
  for (const auto& b : test) acc.update(net(b.data), b.target);
  std::printf("final: test_accuracy=%.4f train_seconds=%.1f\n", acc.value(), seconds);
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}
