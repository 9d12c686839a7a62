// SPDX-License-Identifier: Apache-2.0
// Readers for the IDX files of MNIST and Fashion-MNIST, plain or gzip-compressed (zlib: link ZLIB::ZLIB).
// Every failure names the file and what is wrong with it; nothing is read past what the header promises.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <sinter/core/factory.hpp>

namespace sinter::data {

namespace detail {
/// The whole file, inflated if it is gzip (zlib's gz reader passes plain files through unchanged).
inline std::vector<unsigned char> read_maybe_gzip(const std::string& path) {
  SINTER_CHECK(std::filesystem::exists(path), "cannot open ", path,
               ": no such file (install Debian's dataset-fashion-mnist, or pass --data DIR)");
  gzFile f = gzopen(path.c_str(), "rb");
  SINTER_CHECK(f != nullptr, "cannot open ", path);
  std::vector<unsigned char> out;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  const std::string why = msg ? msg : "";
  gzclose(f);
  SINTER_CHECK(n == 0 && err == Z_OK, "cannot read ", path, ": ", why, " (is the file truncated or corrupt?)");
  return out;
}

inline std::uint32_t be32(const std::vector<unsigned char>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

/// "[60000, 28, 28]": the dims an IDX header announces.
inline std::string dims_text(const std::vector<unsigned char>& b, int rank) {
  std::string out = "[";
  for (int d = 0; d < rank; ++d) out += (d ? ", " : "") + std::to_string(be32(b, 4 + 4 * static_cast<std::size_t>(d)));
  return out + "]";
}

/// Parses an IDX file of unsigned bytes with the expected number of dims; returns dims and the payload offset.
inline std::vector<std::int64_t> idx_header(const std::vector<unsigned char>& b, int rank, const std::string& path) {
  SINTER_CHECK(b.size() >= 4 + 4 * static_cast<std::size_t>(rank), path, ": the file is too short for an IDX header");
  const std::uint32_t magic = be32(b, 0);
  SINTER_CHECK(magic == 0x0800u + static_cast<std::uint32_t>(rank), path, ": wrong magic number 0x", std::hex, magic,
               " (expected 0x", 0x0800 + rank, " for ", std::dec, rank, "-d unsigned bytes)");
  std::vector<std::int64_t> dims;
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank), present = b.size() - header;
  std::size_t total = 1;  // kept <= present, so the product of four 32-bit dims cannot wrap around
  for (int d = 0; d < rank; ++d) {
    dims.push_back(be32(b, 4 + 4 * static_cast<std::size_t>(d)));
    const auto n = static_cast<std::size_t>(dims.back());
    SINTER_CHECK(n == 0 || total <= present / n, path, ": the header promises dims ", dims_text(b, rank),
                 " but the file has only ", present, " bytes of data (truncated or corrupt)");
    total *= n;
  }
  SINTER_CHECK(present == total, path, ": the header promises ", total, " bytes of data but the file has ", present,
               " (truncated or corrupt)");
  return dims;
}
}  // namespace detail

/// Images as float in [0, 1] with shape [N, 1, rows, cols].
inline Tensor read_idx_images(const std::string& path) {
  const auto b = detail::read_maybe_gzip(path);
  const auto dims = detail::idx_header(b, 3, path);
  auto t = empty<float>({dims[0], 1, dims[1], dims[2]});
  float* p = t.data();
  for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(b[16 + static_cast<std::size_t>(i)]) / 255.0f;
  return t;
}

/// Labels as class indices.
inline std::vector<std::int64_t> read_idx_labels(const std::string& path) {
  const auto b = detail::read_maybe_gzip(path);
  const auto dims = detail::idx_header(b, 1, path);
  return std::vector<std::int64_t>(b.begin() + 8, b.end());
}

/// Where Debian's dataset-fashion-mnist installs the files; $SINTER_FASHION_MNIST overrides it.
inline std::string default_fashion_mnist_dir() {
  if (const char* env = std::getenv("SINTER_FASHION_MNIST")) return env;
  return "/usr/share/datasets/fashion-mnist";
}

/// One split of (Fashion-)MNIST: images [N, 1, 28, 28] in [0, 1] and their labels.
struct MnistSplit {
  Tensor images;
  std::vector<std::int64_t> labels;
};

/// Reads the train or test split from `dir` (files named as in the MNIST distribution, .gz or plain).
inline MnistSplit read_mnist_split(const std::string& dir, bool train) {
  const std::string stem = train ? "train" : "t10k";
  auto find = [&](const std::string& name) {
    const std::string plain = dir + "/" + stem + name;
    return std::filesystem::exists(plain + ".gz") ? plain + ".gz" : plain;
  };
  MnistSplit s{read_idx_images(find("-images-idx3-ubyte")), read_idx_labels(find("-labels-idx1-ubyte"))};
  SINTER_CHECK(static_cast<std::int64_t>(s.labels.size()) == s.images.size(0), dir, ": ", s.images.size(0),
               " images but ", s.labels.size(), " labels in the ", stem, " split");
  return s;
}

}  // namespace sinter::data
