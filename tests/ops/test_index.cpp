// SPDX-License-Identifier: Apache-2.0
#include <support/reference.hpp>

namespace st = sinter;
using testing::TD;
using st::LongTensor;

namespace {
LongTensor longs(std::vector<std::int64_t> v, std::optional<st::Shape> s = std::nullopt) {
  return st::from_vector<std::int64_t>(v, s);
}
}  // namespace

TEST_CASE("int64 tensors hold indices, print as integers and convert to float and double", "[ops][index][dtype]") {
  const LongTensor i = longs({3, -1, 7}, st::Shape{3});
  CHECK(i.dtype() == st::DType::Int64);
  std::ostringstream os;
  os << i;
  CHECK(os.str() == "tensor([ 3, -1,  7], shape=[3], dtype=int64)");
  CHECK(i.to<double>().to_vector() == std::vector<double>{3, -1, 7});
  CHECK(st::from_vector<float>({2.7f, -2.7f}).to<std::int64_t>().to_vector() == std::vector<std::int64_t>{2, -2});
  // NaN, inf and values beyond int64 have no int64 (casting them is undefined behaviour in C++): an error instead.
  for (float bad : {std::nanf(""), INFINITY, 1e19f, -1e19f})
    CHECK_THROWS_WITH(st::from_vector<float>({1.0f, bad}).to<std::int64_t>(),
                      Catch::Contains("cannot be represented as an int64"));
  CHECK_THROWS_WITH(longs({1}).requires_grad_(),
                    Catch::StartsWith("sinter: requires_grad_(): only float and double tensors can require gradients"));
  const LongTensor r = st::randint(2, 5, {1000});
  for (auto v : r.to_vector()) CHECK((v >= 2 && v < 5));
  // A strided source converts element by element.
  const TD m = st::arange<double>(6).reshape({2, 3}).t();
  CHECK(m.to<float>().to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
}

TEST_CASE("to<T>() between float and double carries the gradient back", "[ops][index][dtype][grad]") {
  st::manual_seed(41);
  const TD x = st::randn<double>({3, 2}).requires_grad_();
  CHECK(st::gradcheck([](const auto& t) { return st::eval(st::exp(t[0].template to<float>())).template to<double>(); },
                      {x}, 1e-3, 1e-3, 1e-3));
  st::Tensor xf = st::randn({4}).requires_grad_();
  TD y = xf.to<double>() * 3.0;
  st::sum(y).backward();
  CHECK(xf.grad().to_vector() == std::vector<float>{3, 3, 3, 3});
  CHECK(xf.to<float>().is_same(xf));
}

TEST_CASE("cat and stack match the reference layout in every dim", "[ops][index]") {
  const TD a = st::arange<double>(6).reshape({2, 3}), b = st::arange<double>(6, 9).reshape({1, 3});
  CHECK(st::cat({a, b}, 0).to_vector() == std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  const TD c = st::arange<double>(10, 14).reshape({2, 2});
  const TD ac = st::cat({a, c}, -1);
  CHECK(ac.shape() == st::Shape{2, 5});
  CHECK(ac.to_vector() == std::vector<double>{0, 1, 2, 10, 11, 3, 4, 5, 12, 13});
  // Non-contiguous inputs and an empty input.
  const TD at = a.t();  // [3, 2]
  CHECK(st::cat({at, st::zeros<double>({0, 2}), at}, 0).to_vector() ==
        std::vector<double>{0, 3, 1, 4, 2, 5, 0, 3, 1, 4, 2, 5});
  const TD s = st::stack({a, TD(a * 10.0)}, 1);
  CHECK(s.shape() == st::Shape{2, 2, 3});
  CHECK(s.to_vector() == std::vector<double>{0, 1, 2, 0, 10, 20, 3, 4, 5, 30, 40, 50});
  CHECK(st::stack({a, a}, -1).shape() == st::Shape{2, 3, 2});
  CHECK(st::cat({longs({1, 2}), longs({3})}).to_vector() == std::vector<std::int64_t>{1, 2, 3});
}

TEST_CASE("cat and stack pass gradcheck, with a tensor repeated", "[ops][index][grad]") {
  st::manual_seed(42);
  const TD a = st::randn<double>({2, 3}).requires_grad_(), b = st::randn<double>({2, 1}).requires_grad_();
  const TD c = st::randn<double>({2, 4});  // no grad
  CHECK(st::gradcheck([&](const auto& t) { return st::cat({t[0], c, st::eval(t[1] * t[1]), t[0]}, 1); }, {a, b}));
  CHECK(st::gradcheck([](const auto& t) { return st::stack({t[0], st::eval(st::sin(t[0]))}, 0); }, {a}));
}

TEST_CASE("index_select gathers rows and scatter-adds repeated indices in backward", "[ops][index]") {
  const TD x = st::arange<double>(12).reshape({3, 4});
  CHECK(st::index_select(x, 0, longs({2, 0, 2})).to_vector() ==
        std::vector<double>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11});
  CHECK(st::index_select(x, 1, longs({-1, 1})).to_vector() == std::vector<double>{3, 1, 7, 5, 11, 9});
  CHECK(st::index_select(x.t(), 0, longs({1})).to_vector() == std::vector<double>{1, 5, 9});
  CHECK(st::index_select(x, 0, longs({})).shape() == st::Shape{0, 4});
  st::manual_seed(43);
  const TD w = st::randn<double>({5, 3}).requires_grad_();
  const LongTensor idx = longs({4, 0, 4, 4, 2});
  CHECK(st::gradcheck([&](const auto& t) { return st::index_select(st::tanh(t[0]), 0, idx); }, {w}));
  CHECK(st::gradcheck([&](const auto& t) { return st::index_select(t[0], 1, longs({2, 2, 0})); }, {w}));
}

TEST_CASE("gather picks along any dim like torch.gather", "[ops][index]") {
  const TD x = st::arange<double>(1, 7).reshape({2, 3});  // [[1,2,3],[4,5,6]]
  CHECK(st::gather(x, 1, longs({0, 0, 2, 1}, st::Shape{2, 2})).to_vector() == std::vector<double>{1, 1, 6, 5});
  CHECK(st::gather(x, 0, longs({1, 0, 1}, st::Shape{1, 3})).to_vector() == std::vector<double>{4, 2, 6});
  CHECK(st::gather(x.t(), 1, longs({1, 0, 1}, st::Shape{3, 1})).to_vector() == std::vector<double>{4, 2, 6});
  st::manual_seed(44);
  const TD w = st::randn<double>({3, 4, 2}).requires_grad_();
  const LongTensor idx = st::randint(0, 4, {3, 5, 2});
  CHECK(st::gradcheck([&](const auto& t) { return st::gather(t[0] * 2.0, 1, idx); }, {w}));
}

TEST_CASE("joining and indexing errors name the op, the shapes and the fix", "[ops][index][errors]") {
  const TD a = st::zeros<double>({2, 3}), b = st::zeros<double>({2, 4});
  CHECK_THROWS_WITH(st::cat({a, b}, 0), Catch::StartsWith("sinter: cat: sizes of tensors must match except in "
                                                          "dimension 0: expected size 3 but got size 4 for tensor 1"));
  CHECK_THROWS_WITH(st::cat({a, st::zeros<double>({6})}, 0),
                    Catch::StartsWith("sinter: cat: tensors must have the same number of dimensions"));
  CHECK_THROWS_WITH(st::cat(std::vector<TD>{}, 0), Catch::StartsWith("sinter: cat: expected a non-empty list"));
  CHECK_THROWS_WITH(st::cat({a, a}, 2), Catch::StartsWith("sinter: cat: dimension out of range"));
  CHECK_THROWS_WITH(st::stack({a, b}), Catch::StartsWith("sinter: stack: expects each tensor to be equal size, but "
                                                         "got [2, 3] at entry 0 and [2, 4] at entry 1"));
  CHECK_THROWS_WITH(st::index_select(a, 0, longs({2})),
                    Catch::StartsWith("sinter: index_select: index 2 is out of bounds for dimension 0 with size 2"));
  CHECK_THROWS_WITH(st::index_select(a, 1, longs({0, 1}, st::Shape{1, 2})),
                    Catch::StartsWith("sinter: index_select: index must be 0-d or 1-d"));
  CHECK_THROWS_WITH(st::gather(a, 1, longs({0, 3}, st::Shape{1, 2})),
                    Catch::StartsWith("sinter: gather: index 3 is out of bounds for dimension 1 with size 3"));
  CHECK_THROWS_WITH(st::gather(a, 1, longs({0})),
                    Catch::StartsWith("sinter: gather: index tensor must have the same number of dimensions"));
  CHECK_THROWS_WITH(st::gather(a, 1, st::zeros<std::int64_t>({3, 1})),
                    Catch::StartsWith("sinter: gather: size of index ([3, 1]) does not fit the input ([2, 3])"));
}

TEST_CASE("indexing ops are one kernel each way", "[ops][index][fusion]") {
  st::Tensor x = st::randn({64, 32}).requires_grad_();
  const LongTensor idx = st::randint(0, 64, {16});
  st::reset_counters();
  st::Tensor y = st::index_select(x, 0, idx);
  CHECK(st::counters().kernels == 1);
  const st::Tensor g = st::ones({16, 32});
  st::reset_counters();
  y.backward(g);
  CHECK(st::counters().kernels == 1);
}
