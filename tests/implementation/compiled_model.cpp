// SPDX-License-Identifier: Apache-2.0
// The second file of the compiled-mode test program (test_compiled_mode.cpp): a small convolutional model trained
// by each optimiser. Like every file of the program it sees sinter's shared machinery as declarations only.
#include "implementation/compiled_model.hpp"

#include <sinter/io/safetensors.hpp>
#include <sinter/nn.hpp>
#include <sinter/optim.hpp>
#include <sinter/sinter.hpp>

namespace st = sinter;
namespace nn = sinter::nn;

namespace {

class SmallNet : public nn::Module {
 public:
  SmallNet() : Module("SmallNet") {
    conv = register_module("conv", std::make_shared<nn::Conv2d>(nn::Conv2dOptions(1, 4, 3).padding(1)));
    bn = register_module("bn", std::make_shared<nn::BatchNorm2d>(nn::BatchNormOptions(4)));
    fc = register_module("fc", std::make_shared<nn::Linear>(4 * 4 * 4, 3));
  }
  st::Tensor forward(const st::Tensor& x) override {
    const st::Tensor h = st::relu(bn->forward(conv->forward(x)));
    return fc->forward(nn::functional::max_pool2d(h, {2, 2}).flatten(1));
  }
  std::shared_ptr<nn::Conv2d> conv;
  std::shared_ptr<nn::BatchNorm2d> bn;
  std::shared_ptr<nn::Linear> fc;
};

template <class Opt, class Options>
std::pair<double, double> train(SmallNet& net, const Options& options, int steps) {
  st::manual_seed(1);
  const st::Tensor x = st::randn({16, 1, 8, 8});
  const st::LongTensor y = st::randint(0, 3, {16});
  Opt opt(net.parameters(), options);
  double first = 0, last = 0;
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    st::Tensor loss = nn::functional::cross_entropy(net.forward(x), y);
    loss.backward();
    opt.step();
    (s == 0 ? first : last) = loss.item();
  }
  return {first, last};
}

}  // namespace

std::pair<double, double> train_small_net(const std::string& optimizer, int steps) {
  st::manual_seed(0);
  SmallNet net;
  namespace o = st::optim;
  if (optimizer == "sgd") return train<o::SGD>(net, o::SGDOptions(0.1).momentum(0.9), steps);
  if (optimizer == "adam") return train<o::Adam>(net, o::AdamOptions(1e-2), steps);
  if (optimizer == "adamw") return train<o::AdamW>(net, o::AdamWOptions(1e-2), steps);
  if (optimizer == "rmsprop") return train<o::RMSprop>(net, o::RMSpropOptions(1e-2), steps);
  if (optimizer == "adagrad") return train<o::Adagrad>(net, o::AdagradOptions(1e-1), steps);
  throw std::invalid_argument("unknown optimizer " + optimizer);
}

bool checkpoint_round_trip(const std::string& path) {
  st::manual_seed(2);
  SmallNet a;
  st::save(a, path);
  st::manual_seed(3);
  SmallNet b;  // other initial values
  st::load(b, path);
  const auto pa = a.state_dict(), pb = b.state_dict();
  if (pa.size() != pb.size() || pa.empty()) return false;
  for (std::size_t k = 0; k < pa.size(); ++k)
    if (pa[k].first != pb[k].first || pa[k].second.to_vector() != pb[k].second.to_vector()) return false;
  return true;
}
