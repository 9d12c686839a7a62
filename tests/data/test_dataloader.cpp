// SPDX-License-Identifier: Apache-2.0
#include <cstdlib>
#include <filesystem>
#include <set>

#include <support/reference.hpp>

#include <sinter/data.hpp>

namespace st = sinter;
namespace data = sinter::data;

namespace {
data::TensorDataset numbered(std::int64_t n) {
  // Example i holds the values i*10 .. i*10+5 as a [1, 2, 3] image; its target is i.
  return data::TensorDataset(st::arange(0, n * 6).reshape({n, 1, 2, 3}), st::arange<std::int64_t>(n));
}
}  // namespace

TEST_CASE("DataLoader yields every example once per epoch, in batches, with drop_last", "[data]") {
  for (std::int64_t prefetch : {0, 2}) {
    data::DataLoader loader(numbered(10), data::DataLoaderOptions(4).prefetch(prefetch));
    CHECK(loader.size() == 3);
    std::vector<std::int64_t> sizes, seen;
    for (const auto& b : loader) {
      sizes.push_back(b.target.numel());
      REQUIRE(b.data.shape() == st::Shape{b.target.numel(), 1, 2, 3});
      const auto t = b.target.to_vector();
      const auto d = b.data.to_vector();
      for (std::size_t i = 0; i < t.size(); ++i) {
        CHECK(d[i * 6] == float(t[i] * 6));  // data and target stay paired
        seen.push_back(t[i]);
      }
    }
    CHECK(sizes == std::vector<std::int64_t>{4, 4, 2});
    CHECK(seen == std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  }
  data::DataLoader dropping(numbered(10), data::DataLoaderOptions(4).drop_last(true));
  std::int64_t batches = 0;
  for (const auto& b : dropping) batches += b.target.numel() == 4;
  CHECK(batches == 2);
  CHECK(dropping.size() == 2);
}

TEST_CASE("shuffling is a permutation, differs between epochs and repeats with the seed", "[data]") {
  auto epoch_order = [](data::DataLoader& l) {
    std::vector<std::int64_t> o;
    for (const auto& b : l)
      for (auto t : b.target.to_vector()) o.push_back(t);
    return o;
  };
  data::DataLoader a(numbered(50), data::DataLoaderOptions(8).shuffle(true).seed(7));
  data::DataLoader b(numbered(50), data::DataLoaderOptions(8).shuffle(true).seed(7).prefetch(0));
  const auto a1 = epoch_order(a), a2 = epoch_order(a);
  CHECK(a1 == epoch_order(b));
  CHECK(a1 != a2);
  CHECK(std::set<std::int64_t>(a1.begin(), a1.end()).size() == 50);
  // Leaving an epoch early is fine; the next one starts cleanly.
  for (const auto& batch : a) {
    (void)batch;
    break;
  }
  CHECK(epoch_order(a).size() == 50);
}

TEST_CASE("transforms normalise, flip and crop in the loader", "[data][transforms]") {
  namespace T = data::transforms;
  data::DataLoader norm(numbered(2), data::DataLoaderOptions(2), {T::Normalize({1.0f}, {2.0f})});
  for (const auto& b : norm) CHECK(b.data.to_vector()[0] == -0.5f);
  data::DataLoader flip(numbered(1), data::DataLoaderOptions(1), {T::RandomHorizontalFlip(1.0)});
  for (const auto& b : flip) CHECK(b.data.to_vector() == std::vector<float>{2, 1, 0, 5, 4, 3});
  data::DataLoader crop(numbered(3), data::DataLoaderOptions(3), {T::RandomCrop(2, 1)});
  for (const auto& b : crop) {
    CHECK(b.data.shape() == st::Shape{3, 1, 2, 2});
    for (float v : b.data.to_vector()) CHECK((v == 0.0f || (v >= 0.0f && v < 18.0f)));
  }
  CHECK_THROWS_WITH(T::Normalize({0.5f}, {0.0f}), Catch::StartsWith("sinter: Normalize: std must be positive"));
  data::DataLoader bad(numbered(2), data::DataLoaderOptions(2), {T::RandomCrop(9)});
  CHECK_THROWS_WITH([&] { for (const auto& b : bad) (void)b; }(), Catch::StartsWith("sinter: RandomCrop: crop 9 is larger"));
}

TEST_CASE("dataset construction errors are explicit", "[data][errors]") {
  CHECK_THROWS_WITH(data::TensorDataset(st::zeros({3, 2}), st::zeros<std::int64_t>({4})),
                    Catch::StartsWith("sinter: TensorDataset: 3 examples"));
  CHECK_THROWS_WITH(data::DataLoader(numbered(2), data::DataLoaderOptions(0)),
                    Catch::StartsWith("sinter: DataLoader: batch_size must be positive"));
  CHECK_THROWS_WITH(data::MNIST("/nonexistent-sinter-dir"), Catch::Contains("/nonexistent-sinter-dir"));
}

TEST_CASE("$SINTER_FASHION_MNIST overrides the default dataset folder", "[data][fashion_mnist]") {
  const char* before = std::getenv("SINTER_FASHION_MNIST");
  const std::string saved = before ? before : "";
  ::setenv("SINTER_FASHION_MNIST", "/nonexistent-sinter-fmnist", 1);
  CHECK(data::default_fashion_mnist_dir() == "/nonexistent-sinter-fmnist");
  CHECK_THROWS_WITH(data::FashionMNIST(false), Catch::StartsWith("sinter: ") &&
                                                    Catch::Contains("/nonexistent-sinter-fmnist"));
  if (before) ::setenv("SINTER_FASHION_MNIST", saved.c_str(), 1);
  else ::unsetenv("SINTER_FASHION_MNIST");
  if (!before) CHECK(data::default_fashion_mnist_dir() == "/usr/share/datasets/fashion-mnist");
}

TEST_CASE("Fashion-MNIST from Debian's package loads as a dataset", "[data][fashion_mnist]") {
  if (!std::filesystem::exists(data::default_fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz")) {
    WARN("dataset-fashion-mnist is not installed; skipped");
    return;
  }
  const auto test = data::FashionMNIST(false);
  CHECK(test.size() == 10000);
  CHECK(test.data().shape() == st::Shape{10000, 1, 28, 28});
  const auto t = test.targets().to_vector();
  CHECK(*std::min_element(t.begin(), t.end()) == 0);
  CHECK(*std::max_element(t.begin(), t.end()) == 9);
}
