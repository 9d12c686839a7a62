// SPDX-License-Identifier: Apache-2.0
// NumPy .npy files. Saving goes through xtensor's writer into a temporary file that is then renamed, so a reader never
// sees a half-written file. Loading parses the header here (xtensor's reader trusts the header's lengths: a 20-byte
// file could make it allocate 4 GiB) and checks every length, the element type and the order against the file.
#pragma once

#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <xtensor/xnpy.hpp>

#include <sinter/io/atomic_file.hpp>
#include <sinter/io/xtensor.hpp>

namespace sinter {

/// Writes t to `path` as a little-endian, C-order .npy file (float32, float64 or int64), atomically.
template <class T>
void save_npy(const TensorOf<T>& t, const std::string& path) {
  const TensorOf<T> c = t.to(kCPU).contiguous();
  io::detail::write_atomically(path, "save_npy",
                               [&](std::ostream& out) { xt::detail::dump_npy_stream(out, as_xtensor(c)); });
}

namespace detail {

/// What a .npy header says: element type, memory order and shape, and where the data starts.
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
  std::size_t data_offset = 0;
};

/// Parses the header of an in-memory .npy file (format versions 1.0, 2.0 and 3.0): the magic string, the header length,
/// and the Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)} in any key order. Every length
/// is checked against the bytes present, so a corrupt header cannot make the reader allocate or read past the file.
class NpyHeaderParser {
 public:
  NpyHeaderParser(std::string_view bytes, const std::string& path) : b_(bytes), path_(path) {}

  NpyHeader parse() {
    constexpr std::string_view magic("\x93NUMPY", 6);
    check(b_.size() >= 10 && b_.substr(0, 6) == magic, "it does not start with the .npy magic string");
    const auto major = static_cast<unsigned char>(b_[6]), minor = static_cast<unsigned char>(b_[7]);
    check(major >= 1 && major <= 3 && minor == 0, "unsupported format version " + std::to_string(major) + "." +
                                                      std::to_string(minor) + " (sinter reads 1.0, 2.0 and 3.0)");
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    check(b_.size() >= 8 + len_bytes, "the header length is cut off");
    std::size_t len = 0;
    for (std::size_t i = 0; i < len_bytes; ++i) len |= std::size_t{static_cast<unsigned char>(b_[8 + i])} << (8 * i);
    const std::size_t start = 8 + len_bytes;
    check(len <= b_.size() - start, "the header announces " + std::to_string(len) + " bytes but the file has only " +
                                        std::to_string(b_.size() - start) + " after it");
    s_ = b_.substr(start, len);
    NpyHeader h;
    h.data_offset = start + len;
    bool descr = false, order = false, shape = false;
    expect('{');
    while (skip_space(), peek() != '}') {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        check(!descr, "the key 'descr' appears twice");
        h.descr = string_literal(), descr = true;
      } else if (key == "fortran_order") {
        check(!order, "the key 'fortran_order' appears twice");
        h.fortran_order = boolean(), order = true;
      } else if (key == "shape") {
        check(!shape, "the key 'shape' appears twice");
        h.shape = tuple(), shape = true;
      } else {
        check(false, "unexpected key '" + key + "' in the header");
      }
      skip_space();
      if (peek() == ',') ++i_;
    }
    ++i_;
    skip_space();
    check(i_ == s_.size(), "trailing characters after the header's dict");
    check(descr && order && shape, "the header lacks one of 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  void check(bool ok, const std::string& why) const {
    SINTER_CHECK(ok, "load_npy: '", path_, "' is not a valid .npy file (", why, ")");
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  char peek() {
    check(i_ < s_.size(), "the header's dict ends early");
    return s_[i_];
  }
  void expect(char c) {
    skip_space();
    check(peek() == c, std::string("expected '") + c + "' at byte " + std::to_string(i_) + " of the header");
    ++i_;
  }
  std::string string_literal() {
    skip_space();
    const char q = peek();
    check(q == '\'' || q == '"', "expected a quoted string at byte " + std::to_string(i_) + " of the header");
    const std::size_t end = s_.find(q, ++i_);
    check(end != std::string_view::npos, "unterminated string in the header");
    std::string out(s_.substr(i_, end - i_));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair<std::string_view, bool>{"True", true}, {"False", false}})
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        return value;
      }
    check(false, "fortran_order must be True or False");
    return false;
  }
  Shape tuple() {
    expect('(');
    Shape shape;
    while (skip_space(), peek() != ')') {
      std::int64_t d = 0;
      const std::size_t first = i_;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9' && i_ - first < 18) d = d * 10 + (s_[i_++] - '0');
      check(i_ > first && (i_ == s_.size() || s_[i_] < '0' || s_[i_] > '9'),
            "expected a dimension of at most 18 digits at byte " + std::to_string(first) + " of the header");
      check(shape.size() < kMaxRank, "more than " + std::to_string(kMaxRank) + " dims");
      shape.push_back(d);
      skip_space();
      if (peek() == ',') ++i_;
    }
    ++i_;
    return shape;
  }

  std::string_view b_, s_;
  const std::string& path_;
  std::size_t i_ = 0;
};

/// Copies `count` little-endian elements of S from p (any alignment) into a tensor of `shape`.
template <class S>
TensorOf<S> npy_data(const char* p, const Shape& shape) {
  auto t = empty<S>(shape);
  std::memcpy(t.data(), p, static_cast<std::size_t>(t.numel()) * sizeof(S));
  return t;
}

/// A .npy file already in memory, as a tensor of T; `path` names it in errors.
template <class T>
TensorOf<T> parse_npy(std::string_view bytes, const std::string& path) {
  static_assert(std::endian::native == std::endian::little, "sinter: load_npy reads little-endian data");
  const NpyHeader h = NpyHeaderParser(bytes, path).parse();
  const std::string& ty = h.descr;
  const std::size_t word = ty == "<f4" || ty == "<i4" ? 4 : ty == "<f8" || ty == "<i8" ? 8 : 0;
  SINTER_CHECK(word != 0, "load_npy: '", path, "' holds elements of type '", ty,
               "', which sinter does not read; save it as float32, float64, int64 or int32 (little-endian)");
  std::size_t count = 1;
  for (auto d : h.shape) {
    const std::size_t left = bytes.size() - h.data_offset;
    SINTER_CHECK(d == 0 || count <= left / word / static_cast<std::size_t>(d), "load_npy: '", path,
                 "' is truncated: its header announces the shape ", h.shape, " of '", ty, "' but only ", left,
                 " bytes of data follow");
    count *= static_cast<std::size_t>(d);
  }
  const std::size_t n_bytes = count * word, left = bytes.size() - h.data_offset;
  SINTER_CHECK(left >= n_bytes, "load_npy: '", path, "' is truncated: the header announces ", n_bytes,
               " bytes of data but the file has ", left);
  SINTER_CHECK(left == n_bytes, "load_npy: '", path, "' has ", left - n_bytes, " bytes after its ", n_bytes,
               " bytes of data; it is corrupt or holds more than one array");
  // Fortran order is C order of the reversed shape; reversing the dims back is a view, contiguous() copies it.
  Shape stored = h.shape;
  if (h.fortran_order) std::reverse(stored.begin(), stored.end());
  const char* p = bytes.data() + h.data_offset;
  auto finish = [&](auto t) {
    if (h.fortran_order && stored.size() > 1) {
      std::vector<std::int64_t> rev;
      for (int d = stored.size() - 1; d >= 0; --d) rev.push_back(d);
      t = t.permute(rev).contiguous();
    }
    using S = typename decltype(t)::value_type;
    if constexpr (std::is_same_v<S, T>) return t;
    else return t.template to<T>();
  };
  if (ty == "<f4") return finish(npy_data<float>(p, stored));
  if (ty == "<f8") return finish(npy_data<double>(p, stored));
  if (ty == "<i8") return finish(npy_data<std::int64_t>(p, stored));
  // int32: widened to int64 first, the one integer type sinter stores
  std::vector<std::int32_t> v(count);
  if (count) std::memcpy(v.data(), p, n_bytes);
  return finish(from_vector<std::int64_t>(std::vector<std::int64_t>(v.begin(), v.end()), stored));
}

/// The whole file; errors name `op`.
inline std::string read_whole_file(const std::string& path, const char* op) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  SINTER_CHECK(in.good(), op, ": cannot open '", path, "'; check the path");
  const std::streamoff size = in.tellg();
  SINTER_CHECK(size >= 0, op, ": cannot read '", path, "'");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.seekg(0);
  in.read(bytes.data(), size);
  SINTER_CHECK(in.good() || size == 0, op, ": reading '", path, "' failed");
  return bytes;
}

}  // namespace detail

/// Reads a .npy file into a new tensor of T. Files of float32, float64, int64 and int32 are read and converted to T
/// (np.load(path).astype(T)); C and Fortran order both load with the right values. sinter parses the header itself
/// and checks every length against the file, so a corrupt file is an error, never a huge allocation.
template <class T = float>
TensorOf<T> load_npy(const std::string& path) {
  return detail::parse_npy<T>(detail::read_whole_file(path, "load_npy"), path);
}

}  // namespace sinter
