// SPDX-License-Identifier: Apache-2.0
#include <sstream>

#include <support/reference.hpp>

namespace st = sinter;

TEST_CASE("factories make the shapes and values asked for", "[core][tensor]") {
  auto z = st::zeros({2, 3});
  CHECK(z.shape() == st::Shape{2, 3});
  CHECK(z.to_vector() == std::vector<float>(6, 0.0f));
  CHECK(st::ones<double>({2}).to_vector() == std::vector<double>{1, 1});
  CHECK(st::full({3}, 2.5f).to_vector() == std::vector<float>{2.5f, 2.5f, 2.5f});
  CHECK(st::arange(0, 5, 2).to_vector() == std::vector<float>{0, 2, 4});
  CHECK(st::from_vector<float>({1, 2, 3, 4}, st::Shape{2, 2}).shape() == st::Shape{2, 2});
  CHECK(st::scalar_tensor(3.0f).dim() == 0);
  CHECK(st::scalar_tensor(3.0f).item() == 3.0f);
}

TEST_CASE("manual_seed makes random factories reproducible", "[core][tensor][random]") {
  st::manual_seed(42);
  const auto a = st::randn({100}).to_vector();
  st::manual_seed(42);
  CHECK(st::randn({100}).to_vector() == a);
  double mean = 0;
  st::manual_seed(1);
  const auto big = st::randn<double>({20000}).to_vector();
  for (double v : big) mean += v / 20000;
  CHECK(std::fabs(mean) < 0.05);
  for (float v : st::rand({1000}).to_vector()) CHECK((v >= 0.0f && v < 1.0f));
}

TEST_CASE("views share storage and read the right elements", "[core][tensor][views]") {
  auto x = st::arange(24).reshape({2, 3, 4});
  CHECK(x.transpose(0, 2).shape() == st::Shape{4, 3, 2});
  CHECK(testing::at(x.transpose(0, 2), {4, 3, 2}, 1) == 12.0);
  CHECK(x.permute({2, 0, 1}).contiguous().to_vector()[1] == 4.0f);
  CHECK(x.slice(2, 1, 3).to_vector() == std::vector<float>{1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22});
  CHECK(x.slice(1, -2).shape() == st::Shape{2, 2, 4});
  CHECK(x.slice(2, 0, 4, 3).to_vector() == std::vector<float>{0, 3, 4, 7, 8, 11, 12, 15, 16, 19, 20, 23});
  CHECK(x[1][2].to_vector() == std::vector<float>{20, 21, 22, 23});
  CHECK(x.unsqueeze(1).shape() == st::Shape{2, 1, 3, 4});
  CHECK(x.unsqueeze(-1).shape() == st::Shape{2, 3, 4, 1});
  CHECK(x.unsqueeze(0).squeeze().shape() == st::Shape{2, 3, 4});
  CHECK(x.reshape({-1, 4}).shape() == st::Shape{6, 4});
  CHECK(x.flatten(1).shape() == st::Shape{2, 12});
  auto v = x.view({6, 4});
  v.fill_(1.0f);  // writes through to x
  CHECK(x.to_vector() == std::vector<float>(24, 1.0f));
  CHECK(x.clone().data() != x.data());
  CHECK(x.detach().data() == x.data());
}

TEST_CASE("reshape of a non-contiguous tensor copies, view refuses", "[core][tensor][views][error]") {
  auto x = st::arange(6).reshape({2, 3}).t();
  CHECK_FALSE(x.is_contiguous());
  CHECK(x.reshape({6}).to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK_THROWS_WITH(x.view({6}), Catch::StartsWith("sinter: view([6]): the tensor of shape [3, 2]") &&
                                     Catch::Contains("use reshape()"));
  CHECK_THROWS_WITH(x.reshape({4}), Catch::StartsWith("sinter: view: shape [4] is invalid for input of size 6"));
}

TEST_CASE("bad input to tensor methods is a sinter: error", "[core][tensor][error]") {
  auto x = st::zeros({2, 3});
  CHECK_THROWS_WITH(x.item(), Catch::StartsWith("sinter: item(): a Tensor with 6 elements"));
  CHECK_THROWS_WITH(x.transpose(0, 2), Catch::StartsWith("sinter: transpose: dimension out of range"));
  CHECK_THROWS_WITH(x.permute({0, 0}), Catch::StartsWith("sinter: permute: dim 0 appears twice"));
  CHECK_THROWS_WITH(x.select(1, 3), Catch::StartsWith("sinter: select: index 3 is out of bounds"));
  CHECK_THROWS_WITH(st::from_vector<float>({1, 2, 3}, st::Shape{2, 2}),
                    Catch::StartsWith("sinter: from_vector: 3 values do not fill shape [2, 2]"));
  CHECK_THROWS_WITH(st::Tensor().numel(), Catch::StartsWith("sinter: tensor: the tensor is undefined"));
  CHECK_THROWS_WITH(st::zeros({2}).copy_(st::zeros({3})), Catch::StartsWith("sinter: copy_"));
  CHECK_THROWS_WITH(st::zeros({2}, st::kCUDA), Catch::Contains("needs sinter's CUDA backend"));
  CHECK_FALSE(st::zeros({2}).is_pinned());
  CHECK_THROWS_WITH(st::zeros({2}).pin_memory(),
                    Catch::StartsWith("sinter: pin_memory(): page-locked host memory needs sinter's CUDA backend"));
  // A shape whose element count (or a stride) overflows int64 is refused before any arithmetic on it.
  CHECK_THROWS_WITH(st::zeros({1 << 30, 1 << 30, 1 << 30}),
                    Catch::Contains("has more elements than any memory can hold"));
  CHECK_THROWS_WITH(st::zeros({0, 1LL << 40, 1LL << 40}), Catch::Contains("has more elements than any memory can hold"));
}

TEST_CASE("printing shows values, shape and dtype like PyTorch", "[core][tensor][print]") {
  std::ostringstream os;
  os << st::from_vector<float>({1, -2.5f, 3, 4}, st::Shape{2, 2});
  CHECK(os.str() == "tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]], shape=[2, 2], dtype=float)");
  std::ostringstream big;
  big << st::zeros({2000});
  CHECK(big.str().find("...") != std::string::npos);
  CHECK(big.str().size() < 200);
  std::ostringstream g;
  g << st::ones({1}).requires_grad_();
  CHECK(g.str().find("requires_grad=true") != std::string::npos);
}
