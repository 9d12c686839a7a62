// SPDX-License-Identifier: Apache-2.0
#include <support/reference.hpp>

#include <sinter/nn.hpp>

namespace st = sinter;
namespace nn = sinter::nn;

namespace {
/// A user-defined module, as a PyTorch user would write one.
struct Net : nn::Module {
  Net() : Module("Net") {
    features = register_module("features", std::make_shared<nn::Sequential>(nn::Linear(4, 8), nn::ReLU()));
    head = register_module("head", std::make_shared<nn::Linear>(8, 3));
    scale = register_parameter("scale", st::ones({3}));
    steps = register_buffer("steps", st::zeros({}));
  }
  st::Tensor forward(const st::Tensor& x) override { return head->forward(features->forward(x)) * scale; }
  std::shared_ptr<nn::Sequential> features;
  std::shared_ptr<nn::Linear> head;
  st::Tensor scale, steps;
};
}  // namespace

TEST_CASE("modules register parameters, buffers and children with PyTorch's dotted names", "[nn][module]") {
  Net net;
  std::vector<std::string> names;
  for (const auto& [n, t] : net.named_parameters()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"scale", "features.0.weight", "features.0.bias", "head.weight", "head.bias"});
  names.clear();
  for (const auto& [n, t] : net.state_dict()) names.push_back(n);
  CHECK(names == std::vector<std::string>{"scale", "steps", "features.0.weight", "features.0.bias", "head.weight",
                                          "head.bias"});
  CHECK(net.parameters().size() == 5);
  CHECK(net.parameters(false).size() == 1);
  CHECK(net.buffers().size() == 1);
  CHECK(net.children().size() == 2);
  // The registry and the member are the same tensor.
  CHECK(net.named_parameters()[3].second.is_same(net.head->weight));
  for (const auto& p : net.parameters()) CHECK(p.requires_grad());
  CHECK_FALSE(net.steps.requires_grad());
}

TEST_CASE("train/eval propagate, zero_grad drops gradients, apply visits every module", "[nn][module]") {
  Net net;
  CHECK(net.is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.features->is_training());
  CHECK_FALSE(net.features->at<nn::ReLU>(1).is_training());
  net.train();
  CHECK(net.head->is_training());
  st::Tensor y = net(st::randn({2, 4}));
  st::sum(y).backward();
  CHECK(net.head->weight.grad().defined());
  net.zero_grad();
  CHECK_FALSE(net.head->weight.grad().defined());
  std::vector<std::string> visited;
  net.apply([&](nn::Module& m) { visited.push_back(m.type_name()); });
  CHECK(visited == std::vector<std::string>{"Linear", "ReLU", "Sequential", "Linear", "Net"});
}

TEST_CASE("modules print as a tree like PyTorch", "[nn][module]") {
  Net net;
  std::ostringstream os;
  os << net;
  CHECK(os.str() ==
        "Net(\n"
        "  (features): Sequential(\n"
        "    (0): Linear(in_features=4, out_features=8, bias=true)\n"
        "    (1): ReLU()\n"
        "  )\n"
        "  (head): Linear(in_features=8, out_features=3, bias=true)\n"
        ")");
  std::ostringstream conv;
  conv << nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2).bias(false));
  CHECK(conv.str() == "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), bias=false)");
}

TEST_CASE("AdaptiveAvgPool2d averages each output cell's window and prints its size", "[nn][module]") {
  nn::AdaptiveAvgPool2d pool(2);
  const st::Tensor x = st::arange<float>(16).reshape({1, 1, 4, 4});
  CHECK(pool(x).to_vector() == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});
  nn::AdaptiveAvgPool2d whole({1, 1});  // global average pooling
  CHECK(whole(x).shape() == st::Shape{1, 1, 1, 1});
  CHECK(whole(x).item() == 7.5f);
  std::ostringstream os;
  os << nn::AdaptiveAvgPool2d({3, 2});
  CHECK(os.str() == "AdaptiveAvgPool2d(output_size=(3, 2))");
}

TEST_CASE("BatchNorm1d normalises [N, C] and [N, C, L], tracks running statistics and refuses other ranks",
          "[nn][module][norm]") {
  nn::BatchNorm1d bn(2);
  const st::Tensor x = st::from_vector<float>({1, 10, 3, 30}, st::Shape{2, 2});
  const auto y = bn(x).to_vector();  // per column: (x - mean) / sqrt(biased var + eps)
  CHECK(y[0] == Approx(-1 / std::sqrt(1 + 1e-5)));
  CHECK(y[2] == Approx(1 / std::sqrt(1 + 1e-5)));
  CHECK(y[1] == Approx(-10 / std::sqrt(100 + 1e-5)));
  // momentum 0.1; the running variance takes the unbiased one (2 and 200)
  CHECK(bn.running_mean.to_vector()[0] == Approx(0.2));
  CHECK(bn.running_mean.to_vector()[1] == Approx(2.0));
  CHECK(bn.running_var.to_vector()[0] == Approx(0.9 + 0.2));
  CHECK(bn.running_var.to_vector()[1] == Approx(0.9 + 20.0));
  CHECK(bn.num_batches_tracked.item() == 1.0f);
  CHECK(bn(st::randn({3, 2, 5})).shape() == st::Shape{3, 2, 5});
  CHECK(bn.num_batches_tracked.item() == 2.0f);
  bn.eval();
  const st::Tensor rm = bn.running_mean.clone(), rv = bn.running_var.clone();
  const auto ye = bn(x).to_vector();
  CHECK(ye[1] == Approx((10 - rm.to_vector()[1]) / std::sqrt(rv.to_vector()[1] + 1e-5)));
  CHECK(bn.running_mean.to_vector() == rm.to_vector());  // eval leaves the statistics alone
  CHECK_THROWS_WITH(bn(st::zeros({1, 2, 1, 1})),
                    Catch::StartsWith("sinter: BatchNorm1d: expected a 2-D or 3-D input, got shape [1, 2, 1, 1]"));
}

TEST_CASE("LayerNorm normalises over its trailing shape with an affine map and prints its options", "[nn][module][norm]") {
  nn::LayerNorm ln(st::Shape{3});
  ln.weight.copy_(st::from_vector<float>({1, 2, 3}));
  ln.bias.copy_(st::from_vector<float>({0, 0, 1}));
  const auto y = ln(st::from_vector<float>({1, 2, 3, 5, 5, 5}, st::Shape{2, 3})).to_vector();
  const double s = 1 / std::sqrt(2.0 / 3 + 1e-5);  // row 0: mean 2, biased variance 2/3
  CHECK(y[0] == Approx(-s));
  CHECK(y[1] == Approx(0.0).margin(1e-6));
  CHECK(y[2] == Approx(3 * s + 1));
  CHECK(y[3] == Approx(0.0).margin(1e-6));  // a constant row: zero, then the bias
  CHECK(y[5] == Approx(1.0));
  std::ostringstream os;
  os << nn::LayerNorm(st::Shape{4, 5}, 1e-6, false);
  CHECK(os.str() == "LayerNorm([4, 5], eps=1e-06, elementwise_affine=false)");
  CHECK(nn::LayerNorm(st::Shape{4, 5}, 1e-6, false).parameters().empty());
}

TEST_CASE("Sequential runs its children in order and equals the same layers called by hand", "[nn][module]") {
  st::manual_seed(90);
  nn::Sequential seq(nn::Linear(5, 7), nn::Tanh(), nn::Linear(7, 2));
  const st::Tensor x = st::randn({3, 5});
  const st::Tensor want = seq.at<nn::Linear>(2)(st::tanh(seq.at<nn::Linear>(0)(x)));
  CHECK(seq(x).to_vector() == want.to_vector());
  CHECK(seq.size() == 3);
  CHECK_THROWS_WITH(seq.at<nn::Linear>(1), Catch::StartsWith("sinter: Sequential::at: module 1 is a Tanh"));
  CHECK_THROWS_WITH(seq[3], Catch::StartsWith("sinter: Sequential: index 3 is out of range for 3 modules"));
  nn::ModuleList list;
  list.push_back(nn::Linear(2, 2));
  list.push_back(std::make_shared<nn::ReLU>());
  CHECK(list.size() == 2);
  CHECK(list.parameters().size() == 2);
}

TEST_CASE("registration and forward errors are explicit", "[nn][module][errors]") {
  nn::Module m("Custom");
  m.register_parameter("w", st::zeros({2}));
  CHECK_THROWS_WITH(m.register_parameter("w", st::zeros({2})),
                    Catch::StartsWith("sinter: module Custom: the name 'w' is already registered"));
  CHECK_THROWS_WITH(m.register_buffer("a.b", st::zeros({2})), Catch::Contains("contain no '.'"));
  CHECK_THROWS_WITH(m.forward(st::zeros({1})), Catch::StartsWith("sinter: Custom has no forward(const Tensor&)"));
  CHECK_THROWS_WITH(nn::Linear(0, 3), Catch::StartsWith("sinter: Linear: in_features and out_features must be positive"));
  CHECK_THROWS_WITH(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).groups(2)),
                    Catch::StartsWith("sinter: Conv2d: in_channels (3) and out_channels (4) must be divisible by groups"));
  nn::Linear fc(4, 2);
  CHECK_THROWS_WITH(fc(st::zeros({3, 5})), Catch::StartsWith("sinter: linear: the input's last dim (5"));
}

TEST_CASE("PyTorch's default initialisation bounds hold", "[nn][init]") {
  st::manual_seed(91);
  nn::Linear fc(400, 300);
  const double bound = 1.0 / std::sqrt(400.0);
  for (float v : fc.weight.to_vector()) CHECK(std::abs(v) <= bound + 1e-7);
  for (float v : fc.bias.to_vector()) CHECK(std::abs(v) <= bound + 1e-7);
  nn::Conv2d conv(nn::Conv2dOptions(6, 16, 5));
  const double cb = 1.0 / std::sqrt(6.0 * 25);
  for (float v : conv.weight.to_vector()) CHECK(std::abs(v) <= cb + 1e-7);
  st::Tensor w = st::empty({256, 128});
  nn::init::kaiming_normal_(w, 0, nn::init::FanMode::FanIn, nn::init::Nonlinearity::ReLU);
  const auto v = w.to_vector();
  double ss = 0;
  for (float x : v) ss += double(x) * x;
  CHECK(std::sqrt(ss / double(v.size())) == Approx(std::sqrt(2.0 / 128)).epsilon(0.03));
  nn::init::xavier_uniform_(w);
  const double xb = std::sqrt(6.0 / (256 + 128));
  for (float x : w.to_vector()) CHECK(std::abs(x) <= xb + 1e-7);
  nn::init::xavier_normal_(w, 2.0);  // std = gain * sqrt(2 / (fan_in + fan_out)), mean 0
  double xs = 0, xss = 0;
  for (float x : w.to_vector()) xs += x, xss += double(x) * x;
  CHECK(std::abs(xs / double(v.size())) < 0.01);
  CHECK(std::sqrt(xss / double(v.size())) == Approx(2.0 * std::sqrt(2.0 / (256 + 128))).epsilon(0.03));
  // the plain fills, as torch.nn.init's: bounds, moments and constants
  nn::init::uniform_(w, -0.5, 2.0);
  double us = 0;
  for (float x : w.to_vector()) {
    CHECK((x >= -0.5f && x <= 2.0f));
    us += x;
  }
  CHECK(us / double(v.size()) == Approx(0.75).margin(0.02));
  nn::init::normal_(w, 3.0, 0.5);
  double ns = 0, nss = 0;
  for (float x : w.to_vector()) ns += x, nss += (double(x) - 3.0) * (double(x) - 3.0);
  CHECK(ns / double(v.size()) == Approx(3.0).margin(0.01));
  CHECK(std::sqrt(nss / double(v.size())) == Approx(0.5).epsilon(0.03));
  nn::init::ones_(w);
  CHECK(w.to_vector() == std::vector<float>(v.size(), 1.0f));
  nn::init::zeros_(w);
  CHECK(w.to_vector() == std::vector<float>(v.size(), 0.0f));
  st::Tensor vec = st::zeros({3});
  CHECK_THROWS_WITH(nn::init::kaiming_uniform_(vec), Catch::Contains("fewer than 2 dimensions"));
}

TEST_CASE("Embedding looks up rows for indices of any shape and scatters gradients back", "[nn][embedding]") {
  st::manual_seed(92);
  nn::Embedding emb(5, 3);
  const st::LongTensor idx = st::from_vector<std::int64_t>({4, 0, 4, 1}, st::Shape{2, 2});
  const st::Tensor e = emb.forward(idx);
  REQUIRE(e.shape() == st::Shape{2, 2, 3});
  const auto w = emb.weight.to_vector(), v = e.to_vector();
  for (int k = 0; k < 3; ++k) {
    CHECK(v[k] == w[4 * 3 + k]);
    CHECK(v[9 + k] == w[1 * 3 + k]);
  }
  st::sum(e).backward();
  CHECK(emb.weight.grad().to_vector() == std::vector<float>{1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 2, 2, 2});
  CHECK_THROWS_WITH(emb.forward(st::from_vector<std::int64_t>({5})),
                    Catch::StartsWith("sinter: index_select: index 5 is out of bounds for dimension 0 with size 5"));
}
