// SPDX-License-Identifier: Apache-2.0
// Training steps (forward, backward, optimiser) of the same models in sinter and libtorch, side by side in one
// process on the same random batches (issue 4's speed section): the 784-256-128-10 MLP with SGD+momentum at batch 64
// and 256, and LeNet-5 at batch 64; then single convolutions forward and backward (a ResNet-style 3x3, a 1x1 and a
// depthwise 3x3) against libtorch's CPU convolution (oneDNN where its build has it). Usage: training_vs_libtorch
// [threads]
#include <cstdlib>
#include <string>

#include <torch/torch.h>

#include <sinter/nn.hpp>
#include <sinter/optim.hpp>
#include <sinter/sinter.hpp>

#include "../models.hpp"
#include "timing.hpp"

namespace st = sinter;
namespace nn = sinter::nn;

namespace {

struct TorchMlp : torch::nn::Module {
  torch::nn::Linear fc1{784, 256}, fc2{256, 128}, fc3{128, 10};
  TorchMlp() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
    register_module("fc3", fc3);
  }
  torch::Tensor forward(torch::Tensor x) { return fc3(torch::relu(fc2(torch::relu(fc1(x))))); }
};

struct TorchLeNet : torch::nn::Module {
  torch::nn::Conv2d c1{torch::nn::Conv2dOptions(1, 6, 5).padding(2)}, c2{torch::nn::Conv2dOptions(6, 16, 5)};
  torch::nn::Linear f1{400, 120}, f2{120, 84}, f3{84, 10};
  TorchLeNet() {
    register_module("c1", c1);
    register_module("c2", c2);
    register_module("f1", f1);
    register_module("f2", f2);
    register_module("f3", f3);
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(c1(x)), 2);
    x = torch::max_pool2d(torch::relu(c2(x)), 2).flatten(1);
    return f3(torch::relu(f2(torch::relu(f1(x)))));
  }
};

template <class Model, class TorchModel>
void compare(const std::string& key, Model& model, TorchModel& tmodel, st::Shape in_shape, double flop_per_step) {
  st::optim::SGD opt(model.parameters(), st::optim::SGDOptions(0.01).momentum(0.9));
  torch::optim::SGD topt(tmodel.parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  const st::Tensor x = st::randn(in_shape);
  const st::LongTensor y = st::randint(0, 10, {in_shape[0]});
  std::vector<std::int64_t> shape(in_shape.begin(), in_shape.end());
  auto tx = torch::from_blob(x.data(), shape).clone();
  auto ty = torch::from_blob(y.data(), {in_shape[0]}, torch::kLong).clone();
  const double s = bench::median_seconds([&] {
    opt.zero_grad();
    st::Tensor loss = nn::F::cross_entropy(model(x), y);
    loss.backward();
    opt.step();
  });
  const double t = bench::median_seconds([&] {
    topt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(tmodel.forward(tx), ty);
    loss.backward();
    topt.step();
  });
  bench::result(("train." + key + ".sinter").c_str(), s * 1e3, "ms");
  bench::result(("train." + key + ".torch").c_str(), t * 1e3, "ms");
  bench::result(("train." + key + ".sinter_over_torch").c_str(), s / t, "x");
  bench::result(("train." + key + ".flop").c_str(), flop_per_step, "FLOP");
}

/// conv2d forward, then backward into the input, weight and bias gradients: 3x the forward's FLOPs.
void compare_conv(const std::string& key, std::int64_t batch, std::int64_t cin, std::int64_t cout, std::int64_t hw,
                  std::int64_t k, std::int64_t pad, std::int64_t groups) {
  const st::Tensor x = st::randn({batch, cin, hw, hw}).requires_grad_();
  const st::Tensor w = st::randn({cout, cin / groups, k, k}).requires_grad_(), b = st::randn({cout}).requires_grad_();
  const std::int64_t out = hw + 2 * pad - k + 1;
  const st::Tensor gout = st::randn({batch, cout, out, out});
  auto copy = [](const st::Tensor& t) {
    return torch::from_blob(const_cast<float*>(t.data()), std::vector<std::int64_t>(t.shape().begin(), t.shape().end()))
        .clone();
  };
  auto tx = copy(x).requires_grad_(), tw = copy(w).requires_grad_(), tb = copy(b).requires_grad_();
  auto tg = copy(gout);
  const double s = bench::median_seconds([&] {
    st::Tensor y = nn::F::conv2d(x, w, b, {1, 1}, {pad, pad}, {1, 1}, groups);
    y.backward(gout);
  });
  const double t = bench::median_seconds([&] {
    auto y = torch::conv2d(tx, tw, tb, {1, 1}, {pad, pad}, {1, 1}, groups);
    y.backward(tg);
  });
  const double flop = 3.0 * 2.0 * batch * cout * out * out * (cin / groups) * k * k;
  bench::result(("conv." + key + ".sinter").c_str(), s * 1e3, "ms");
  bench::result(("conv." + key + ".torch").c_str(), t * 1e3, "ms");
  bench::result(("conv." + key + ".sinter_over_torch").c_str(), s / t, "x");
  bench::result(("conv." + key + ".flop").c_str(), flop, "FLOP");
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  st::set_num_threads(threads);
  torch::set_num_threads(threads);
  const std::string t = ".t" + std::to_string(threads);
  st::manual_seed(0);
  torch::manual_seed(0);
  for (std::int64_t batch : {64, 256}) {
    nn::Sequential mlp = bench::mlp();
    TorchMlp tmlp;
    compare("mlp_b" + std::to_string(batch) + t, mlp, tmlp, {batch, 784},
            bench::mlp_step_flops_per_sample() * static_cast<double>(batch));
  }
  nn::Sequential lenet = bench::lenet5();
  TorchLeNet tlenet;
  compare("lenet_b64" + t, lenet, tlenet, {64, 1, 28, 28}, bench::lenet5_step_flops_per_sample() * 64);
  std::printf("# libtorch convolution: oneDNN (mkldnn) %s\n", at::hasMKLDNN() ? "built in" : "not built in");
  compare_conv("resnet3x3_8x64x32x32" + t, 8, 64, 64, 32, 3, 1, 1);
  compare_conv("pointwise1x1_8x64x32x32" + t, 8, 64, 64, 32, 1, 0, 1);
  compare_conv("depthwise3x3_8x64x32x32" + t, 8, 64, 64, 32, 3, 1, 64);
}
