// SPDX-License-Identifier: Apache-2.0
// The IDX readers on good files (plain and gzip) and on every kind of bad file, including what the fuzzer found.
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <support/reference.hpp>
#include <sinter/data/idx.hpp>

namespace st = sinter;
namespace data = sinter::data;
using Catch::Matchers::Contains;

namespace {
using Bytes = std::vector<unsigned char>;

std::filesystem::path dir() {
  static const auto d = [] {
    auto p = std::filesystem::temp_directory_path() / ("sinter_idx_" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p;
  }();
  return d;
}
std::string write(const std::string& name, const Bytes& b) {
  const auto p = (dir() / name).string();
  std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  return p;
}
std::string write_gz(const std::string& name, const Bytes& b) {
  const auto p = (dir() / name).string();
  gzFile f = gzopen(p.c_str(), "wb");
  gzwrite(f, b.data(), static_cast<unsigned>(b.size()));
  gzclose(f);
  return p;
}
void be32(Bytes& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(v >> s));
}
Bytes images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, std::size_t payload) {
  Bytes b;
  be32(b, 0x0803), be32(b, n), be32(b, rows), be32(b, cols);
  for (std::size_t i = 0; i < payload; ++i) b.push_back(static_cast<unsigned char>(i * 17));
  return b;
}
Bytes labels(std::uint32_t n, std::size_t payload) {
  Bytes b;
  be32(b, 0x0801), be32(b, n);
  for (std::size_t i = 0; i < payload; ++i) b.push_back(static_cast<unsigned char>(i % 10));
  return b;
}
std::string error_of(const std::string& path, bool as_images = true) {
  try {
    if (as_images) data::read_idx_images(path);
    else data::read_idx_labels(path);
  } catch (const st::Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("IDX images and labels read the same from plain and gzip files", "[data][idx]") {
  const Bytes img = images(2, 3, 4, 24);
  for (const auto& p : {write("img", img), write_gz("img.gz", img)}) {
    const st::Tensor t = data::read_idx_images(p);
    CHECK(t.shape() == st::Shape{2, 1, 3, 4});
    const auto v = t.to_vector();
    for (std::size_t i = 0; i < v.size(); ++i) CHECK(v[i] == static_cast<float>(static_cast<unsigned char>(i * 17)) / 255.0f);
  }
  CHECK(data::read_idx_labels(write_gz("lab.gz", labels(3, 3))) == std::vector<std::int64_t>{0, 1, 2});
}

TEST_CASE("bad IDX files are sinter: errors that name the file and the fault", "[data][idx][errors]") {
  CHECK_THAT(error_of((dir() / "none").string()), Contains("no such file"));
  CHECK_THAT(error_of(write("short", {0, 0, 8})), Contains("too short for an IDX header"));
  CHECK_THAT(error_of(write("labels_as_images", labels(3, 10))), Contains("wrong magic number 0x801"));
  CHECK_THAT(error_of(write("cut", images(2, 3, 4, 23))), Contains("promises dims [2, 3, 4] but the file has only 23 bytes"));
  CHECK_THAT(error_of(write("long", images(2, 3, 4, 25))), Contains("promises 24 bytes of data but the file has 25"));
  CHECK_THAT(error_of(write("lab_cut", labels(5, 3)), false), Contains("promises dims [5] but the file has only 3 bytes"));
  Bytes gz;
  {
    const auto p = write_gz("cut.gz", images(2, 3, 4, 24));
    std::ifstream in(p, std::ios::binary);
    gz.assign(std::istreambuf_iterator<char>(in), {});
  }
  gz.resize(gz.size() - 12);  // the deflate stream loses its end
  CHECK_THAT(error_of(write("cut_stream.gz", gz)), Contains("truncated or corrupt"));
}

TEST_CASE("IDX dims that multiply past the data, or past memory, are refused before any allocation", "[data][idx][fuzz]") {
  // 2^31 x 2^31 x 4 bytes wraps to 0 in 64 bits; the header must not pass for an empty file.
  CHECK_THAT(error_of(write("wrap", images(1u << 31, 1u << 31, 4, 0))),
             Contains("promises dims [2147483648, 2147483648, 4] but the file has only 0 bytes"));
  // Found by fuzz_idx (tests/fuzz/regressions/idx/zero_dim_with_huge_dims): zero images of 4244635406 x 4278190079
  // pixels. No data is missing, but the tensor's strides would overflow int64.
  std::ifstream in(std::string(SINTER_SOURCE_DIR) + "/tests/fuzz/regressions/idx/zero_dim_with_huge_dims",
                   std::ios::binary);
  const Bytes found(std::istreambuf_iterator<char>(in), {});
  REQUIRE(found.size() == 16);
  CHECK_THAT(error_of(write("found", found)), Contains("more elements than any memory can hold"));
}

TEST_CASE("a split whose image and label counts differ is an error", "[data][idx][errors]") {
  const auto d = dir() / "split";
  std::filesystem::create_directories(d);
  const Bytes img = images(2, 2, 2, 8), lab = labels(3, 3);
  std::ofstream(d / "t10k-images-idx3-ubyte", std::ios::binary).write(reinterpret_cast<const char*>(img.data()), 24);
  std::ofstream(d / "t10k-labels-idx1-ubyte", std::ios::binary).write(reinterpret_cast<const char*>(lab.data()), 11);
  CHECK_THROWS_WITH(data::read_mnist_split(d.string(), false), Contains("2 images but 3 labels in the t10k split"));
}
