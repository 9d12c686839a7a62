// SPDX-License-Identifier: Apache-2.0
// The README's main job: a small CNN with BatchNorm and Dropout trained on Fashion-MNIST, PyTorch-style
// (nn::Sequential, optim::Adam, data::DataLoader; the user writes the loop), saved as a safetensors checkpoint.
// fashion_mnist_cnn.cu is this file compiled by nvcc: the same model code, trained on the GPU.
//   fashion_mnist_cnn [--epochs N] [--threads N] [--data DIR] [--batch N] [--lr X] [--limit N] [--test-limit N]
//                     [--seed N] [--checkpoint PATH] [--device cpu|cuda]
// Ends with one line scripts can read: "final: test_accuracy=0.9210 train_seconds=300.1".
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>

#include <sinter/data.hpp>
#include <sinter/io/safetensors.hpp>
#include <sinter/nn.hpp>
#include <sinter/optim.hpp>
#include <sinter/sinter.hpp>
#include <sinter/util/metrics.hpp>
#include <sinter/util/progress_bar.hpp>

#ifndef SINTER_EXAMPLE_DEVICE
#define SINTER_EXAMPLE_DEVICE "cpu"
#endif

namespace st = sinter;
namespace nn = sinter::nn;

namespace {

struct Options {
  int epochs = 10, threads = 2;
  std::int64_t batch = 128, limit = 0, test_limit = 0;
  double lr = 2e-3;
  std::uint64_t seed = 0;
  std::string data = st::data::default_fashion_mnist_dir();
  std::string checkpoint = "fashion_mnist_cnn.safetensors";
  std::string device = SINTER_EXAMPLE_DEVICE;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "fashion_mnist_cnn: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--epochs") o.epochs = std::stoi(next());
    else if (a == "--threads") o.threads = std::stoi(next());
    else if (a == "--batch") o.batch = std::stoll(next());
    else if (a == "--lr") o.lr = std::stod(next());
    else if (a == "--limit") o.limit = std::stoll(next());
    else if (a == "--test-limit") o.test_limit = std::stoll(next());
    else if (a == "--seed") o.seed = std::stoull(next());
    else if (a == "--data") o.data = next();
    else if (a == "--checkpoint") o.checkpoint = next();
    else if (a == "--device") o.device = next();
    else {
      std::cerr << "usage: fashion_mnist_cnn [--epochs N] [--threads N] [--data DIR] [--batch N] [--lr X] [--limit N] "
                   "[--test-limit N] "
                   "[--seed N] [--checkpoint PATH] [--device cpu|cuda]\n";
      std::exit(a == "--help" ? 0 : 2);
    }
  }
  return o;
}

/// conv-bn-relu-pool twice, then a two-layer classifier with dropout.
std::shared_ptr<nn::Sequential> make_model() {
  return std::make_shared<nn::Sequential>(
      nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)), nn::BatchNorm2d(32), nn::ReLU(), nn::MaxPool2d(2),
      nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::BatchNorm2d(64), nn::ReLU(), nn::MaxPool2d(2),
      nn::Flatten(), nn::Dropout(0.3), nn::Linear(64 * 7 * 7, 128), nn::ReLU(), nn::Dropout(0.3),
      nn::Linear(128, 10));
}

double evaluate(nn::Module& model, st::data::DataLoader& loader, st::Device device) {
  st::NoGradGuard no_grad;
  model.eval();
  st::util::Accuracy acc;
  for (const auto& batch : loader) acc.update(model(batch.data.to(device)), batch.target);
  model.train();
  return acc.value();
}

}  // namespace

int main(int argc, char** argv) try {
  const Options opt = parse(argc, argv);
  st::set_num_threads(opt.threads);
  st::manual_seed(opt.seed);
  namespace T = st::data::transforms;
  const std::vector<st::data::Transform> normalize = {T::Normalize({0.2860f}, {0.3530f})};
  SINTER_CHECK(opt.device == "cpu" || opt.device == "cuda", "fashion_mnist_cnn: --device must be cpu or cuda, got '",
               opt.device, "'");
  const st::Device device = opt.device == "cuda" ? st::kCUDA : st::kCPU;
  auto train_set = st::data::FashionMNIST(true, opt.data);
  if (opt.limit > 0 && opt.limit < train_set.size())
    train_set = st::data::TensorDataset(train_set.data().slice(0, 0, opt.limit), train_set.targets().slice(0, 0, opt.limit));
  // On the GPU, batches come in pinned memory, so their copies to the device do not make the loop wait.
  st::data::DataLoader train(train_set,
                             st::data::DataLoaderOptions(opt.batch).shuffle(true).seed(opt.seed).pin_memory(device.is_cuda()),
                             {T::RandomHorizontalFlip(), T::Normalize({0.2860f}, {0.3530f})});
  auto test_set = st::data::FashionMNIST(false, opt.data);
  if (opt.test_limit > 0 && opt.test_limit < test_set.size())
    test_set = st::data::TensorDataset(test_set.data().slice(0, 0, opt.test_limit),
                                       test_set.targets().slice(0, 0, opt.test_limit));
  st::data::DataLoader test(test_set, st::data::DataLoaderOptions(1000), normalize);

  auto model = make_model();
  model->to(device);
  std::cout << "Fashion-MNIST from " << opt.data << ": " << train_set.size() << " training and " << test.dataset().size()
            << " test images, batch " << opt.batch << ", " << opt.threads << " threads, on " << device << "\n"
            << *model << "\n";
  st::optim::Adam optimizer(model->parameters(), st::optim::AdamOptions(opt.lr));
  st::optim::OneCycleLR schedule(optimizer, opt.lr, opt.epochs * train.size());

  double train_seconds = 0;
  for (int epoch = 1; epoch <= opt.epochs; ++epoch) {
    st::util::ProgressBar bar("epoch " + std::to_string(epoch) + "/" + std::to_string(opt.epochs), train.size());
    st::util::RunningMean loss_avg;
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& batch : train) {
      optimizer.zero_grad();
      st::Tensor loss = nn::F::cross_entropy(model->forward(batch.data.to(device, true)), batch.target.to(device, true));
      loss.backward();
      optimizer.step();
      schedule.step();
      loss_avg.update(loss.item(), batch.target.numel());
      bar.advance(loss_avg.value());
    }
    train_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    bar.finish();
    std::cout << "epoch " << epoch << ": train loss " << loss_avg.value() << ", " << train_seconds << " s so far\n";
  }
  const double acc = evaluate(*model, test, device);
  st::save(*model, opt.checkpoint);
  std::cout << "checkpoint: " << opt.checkpoint << "\n";
  std::printf("final: test_accuracy=%.4f train_seconds=%.1f\n", acc, train_seconds);
  return 0;
} catch (const std::exception& e) {
  std::cerr << e.what() << "\n";
  return 1;
}
