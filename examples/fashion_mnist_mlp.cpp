// SPDX-License-Identifier: Apache-2.0
// Trains a 784-256-128-10 MLP on Fashion-MNIST on the CPU, PyTorch-style (nn::Sequential, optim::SGD,
// data::DataLoader); the user writes the loop.
//   fashion_mnist_mlp [--epochs N] [--threads N] [--data DIR] [--batch N] [--lr X] [--limit N] [--seed N]
// Ends with one line scripts can read: "final: test_accuracy=0.8851 train_seconds=12.3".
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <sinter/data.hpp>
#include <sinter/nn.hpp>
#include <sinter/optim.hpp>
#include <sinter/sinter.hpp>
#include <sinter/util/metrics.hpp>
#include <sinter/util/progress_bar.hpp>

namespace st = sinter;
namespace nn = sinter::nn;

namespace {

struct Options {
  int epochs = 10, threads = 2, batch = 64;
  double lr = 0.01;
  std::int64_t limit = 0;  // train on the first N images only (0: all)
  std::uint64_t seed = 0;
  std::string data = st::data::default_fashion_mnist_dir();
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "fashion_mnist_mlp: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--epochs") o.epochs = std::stoi(next());
    else if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--batch") o.batch = std::stoi(next());
    else if (a == "--lr") o.lr = std::stod(next());
    else if (a == "--limit") o.limit = std::stoll(next());
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--data") o.data = next();
    else {
      std::cerr << "usage: fashion_mnist_mlp [--epochs N] [--threads N] [--data DIR] [--batch N] [--lr X] "
                   "[--limit N] [--seed N]\n";
      std::exit(a == "--help" ? 0 : 2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse(argc, argv);
  st::set_num_threads(opt.threads);
  st::manual_seed(opt.seed);
  namespace T = st::data::transforms;
  auto train_set = st::data::FashionMNIST(true, opt.data);
  if (opt.limit > 0 && opt.limit < train_set.size())
    train_set = st::data::TensorDataset(train_set.data().slice(0, 0, opt.limit), train_set.targets().slice(0, 0, opt.limit));
  const std::vector<st::data::Transform> normalize = {T::Normalize({0.2860f}, {0.3530f})};  // the training set's stats
  st::data::DataLoader train(train_set, st::data::DataLoaderOptions(opt.batch).shuffle(true).seed(opt.seed + 1),
                             normalize);
  st::data::DataLoader test(st::data::FashionMNIST(false, opt.data), st::data::DataLoaderOptions(1000), normalize);

  nn::Sequential model(nn::Flatten(), nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 128), nn::ReLU(),
                       nn::Linear(128, 10));
  std::cout << "Fashion-MNIST from " << opt.data << ": " << train_set.size() << " training and "
            << test.dataset().size() << " test images; SGD lr " << opt.lr << " momentum 0.9, batch " << opt.batch
            << ", " << opt.threads << " threads\n"
            << model << "\n";
  st::optim::SGD optimizer(model.parameters(), st::optim::SGDOptions(opt.lr).momentum(0.9));

  double train_seconds = 0;
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    st::util::ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(opt.epochs), train.size());
    st::util::RunningMean loss_avg;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& batch : train) {
      optimizer.zero_grad();
      st::Tensor loss = nn::F::cross_entropy(model(batch.data), batch.target);  // one kernel each way
      loss.backward();
      optimizer.step();  // one kernel per parameter tensor
      loss_avg.update(loss.item(), batch.target.numel());
      bar.advance(loss_avg.value());
    }
    train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bar.finish();
    std::cout << "epoch " << epoch << ": train loss " << loss_avg.value() << "\n";
  }

  st::NoGradGuard no_grad;
  model.eval();
  st::util::Accuracy acc;
  for (const auto& batch : test) acc.update(model(batch.data), batch.target);
  std::printf("final: test_accuracy=%.4f train_seconds=%.1f\n", acc.value(), train_seconds);
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}
