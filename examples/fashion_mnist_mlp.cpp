// SPDX-License-Identifier: Apache-2.0
// Trains a 784-256-128-10 MLP on Fashion-MNIST on the CPU, PyTorch-style: the user writes the loop.
//   fashion_mnist_mlp [--epochs N] [--threads N] [--data DIR] [--batch N] [--lr X] [--limit N] [--seed N]
// Ends with one line scripts can read: "final: test_accuracy=0.8851 train_seconds=12.3".
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <sinter/data/idx.hpp>
#include <sinter/sinter.hpp>

namespace st = sinter;

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

/// A linear layer with PyTorch's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias.
struct Linear {
  st::Tensor weight, bias, weight_velocity, bias_velocity;
  Linear(std::int64_t in, std::int64_t out) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    weight = st::uniform({out, in}, -bound, bound).requires_grad_();
    bias = st::uniform({out}, -bound, bound).requires_grad_();
    weight_velocity = st::zeros({out, in});
    bias_velocity = st::zeros({out});
  }
  st::Tensor operator()(const st::Tensor& x) const { return st::matmul(x, weight.t()) + bias; }
  /// SGD with momentum, PyTorch's formula: v = momentum v + g; p -= lr v. One fused statement per tensor.
  void step(float lr, float momentum) {
    st::NoGradGuard no_grad;
    for (auto [p, v] : {std::pair{weight, weight_velocity}, {bias, bias_velocity}}) {
      v.copy_(v * momentum + p.grad());
      p.copy_(p - v * lr);
      p.zero_grad();
    }
  }
};

/// Progress on stderr, redrawn in place; quiet when stderr is not a terminal.
class Progress {
 public:
  Progress(std::string label, std::int64_t total) : label_(std::move(label)), total_(total), tty_(isatty(2)) {}
  void update(std::int64_t done, double loss) {
    if (!tty_ || (done != total_ && ++calls_ % 20)) return;
    const int width = 30, filled = static_cast<int>(width * done / std::max<std::int64_t>(1, total_));
    std::fprintf(stderr, "\r%s [%.*s%*s] %3d%% loss %.4f", label_.c_str(), filled, "##############################",
                 width - filled, "", static_cast<int>(100 * done / std::max<std::int64_t>(1, total_)), loss);
    if (done == total_) std::fprintf(stderr, "\n");
  }

 private:
  std::string label_;
  std::int64_t total_;
  bool tty_;
  std::int64_t calls_ = 0;
};

void gather_batch(const st::Tensor& images, const std::vector<std::int64_t>& labels,
                  const std::vector<std::int64_t>& order, std::int64_t begin, std::int64_t n, st::Tensor& x,
                  st::Tensor& onehot) {
  const std::int64_t d = 784;
  x = st::empty({n, d});
  onehot = st::zeros({n, 10});
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t k = order[static_cast<std::size_t>(begin + i)];
    const float* src = images.data() + k * d;
    float* dst = x.data() + i * d;
    for (std::int64_t j = 0; j < d; ++j) dst[j] = (src[j] - 0.2860f) / 0.3530f;  // the training set's mean and std
    onehot.data()[i * 10 + labels[static_cast<std::size_t>(k)]] = 1.0f;
  }
}

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse(argc, argv);
  st::set_num_threads(opt.threads);
  st::manual_seed(opt.seed);
  const auto train = st::data::read_mnist_split(opt.data, true);
  const auto test = st::data::read_mnist_split(opt.data, false);
  const std::int64_t ntrain = opt.limit > 0 ? std::min(opt.limit, train.images.size(0)) : train.images.size(0);
  std::cout << "Fashion-MNIST from " << opt.data << ": " << ntrain << " training and " << test.images.size(0)
            << " test images; MLP 784-256-128-10, SGD lr " << opt.lr << " momentum 0.9, batch " << opt.batch << ", "
            << opt.threads << " threads\n";

  Linear fc1(784, 256), fc2(256, 128), fc3(128, 10);
  auto forward = [&](const st::Tensor& x) {
    st::Tensor h1 = st::relu(fc1(x));
    st::Tensor h2 = st::relu(fc2(h1));
    return fc3(h2);
  };

  std::vector<std::int64_t> order(static_cast<std::size_t>(ntrain));
  std::iota(order.begin(), order.end(), 0);
  st::Generator shuffle(opt.seed + 1);
  double train_seconds = 0;
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    for (std::size_t i = order.size() - 1; i > 0; --i) std::swap(order[i], order[shuffle.next_u64() % (i + 1)]);
    Progress bar("epoch " + std::to_string(epoch) + "/" + std::to_string(opt.epochs), ntrain);
    const auto t0 = std::chrono::steady_clock::now();
    double running = 0;
    std::int64_t seen = 0;
    for (std::int64_t b = 0; b < ntrain; b += opt.batch) {
      const std::int64_t n = std::min<std::int64_t>(opt.batch, ntrain - b);
      st::Tensor x, onehot;
      gather_batch(train.images, train.labels, order, b, n, x, onehot);
      st::Tensor logp = st::log_softmax(forward(x), 1);
      st::Tensor loss = st::sum(onehot * logp * (-1.0f / static_cast<float>(n)));  // cross-entropy, one pass
      loss.backward();
      for (Linear* l : {&fc1, &fc2, &fc3}) l->step(static_cast<float>(opt.lr), 0.9f);
      running += loss.item() * static_cast<double>(n);
      seen += n;
      bar.update(seen, running / static_cast<double>(seen));
    }
    train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "epoch " << epoch << ": train loss " << running / static_cast<double>(seen) << "\n";
  }

  st::NoGradGuard no_grad;
  std::vector<std::int64_t> all(static_cast<std::size_t>(test.images.size(0)));
  std::iota(all.begin(), all.end(), 0);
  std::int64_t correct = 0;
  for (std::int64_t b = 0; b < test.images.size(0); b += 1000) {
    const std::int64_t n = std::min<std::int64_t>(1000, test.images.size(0) - b);
    st::Tensor x, onehot;
    gather_batch(test.images, test.labels, all, b, n, x, onehot);
    const auto logits = forward(x).to_vector();
    for (std::int64_t i = 0; i < n; ++i) {
      const float* row = logits.data() + i * 10;
      const auto pred = std::max_element(row, row + 10) - row;
      correct += pred == test.labels[static_cast<std::size_t>(b + i)];
    }
  }
  const double acc = static_cast<double>(correct) / static_cast<double>(test.images.size(0));
  std::printf("final: test_accuracy=%.4f train_seconds=%.1f\n", acc, train_seconds);
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}
