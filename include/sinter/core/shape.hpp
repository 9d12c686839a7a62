// SPDX-License-Identifier: Apache-2.0
// Shape: a fixed-capacity list of extents (or strides), NumPy broadcasting and dim normalisation.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <sinter/config.hpp>
#include <sinter/core/error.hpp>

namespace sinter {

/// Extents or strides of a tensor, stored inline (rank <= kMaxRank) so copies never allocate.
/// Example: `sinter::Shape s{2, 3}; s.size() == 2; s[1] == 3;`
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) { assign(dims.begin(), dims.end()); }
  Shape(const std::vector<std::int64_t>& dims) { assign(dims.begin(), dims.end()); }  // NOLINT: implicit like IntArrayRef
  template <class It>
  Shape(It first, It last) { assign(first, last); }

  static Shape filled(int rank, std::int64_t value) {
    Shape s;
    check_rank(rank);
    s.rank_ = rank;
    for (int i = 0; i < rank; ++i) s.d_[i] = value;
    return s;
  }

  int size() const noexcept { return rank_; }
  bool empty() const noexcept { return rank_ == 0; }
  std::int64_t& operator[](int i) noexcept { return d_[i]; }
  std::int64_t operator[](int i) const noexcept { return d_[i]; }
  std::int64_t* begin() noexcept { return d_; }
  std::int64_t* end() noexcept { return d_ + rank_; }
  const std::int64_t* begin() const noexcept { return d_; }
  const std::int64_t* end() const noexcept { return d_ + rank_; }
  std::int64_t back() const noexcept { return d_[rank_ - 1]; }

  void push_back(std::int64_t v) {
    check_rank(rank_ + 1);
    d_[rank_++] = v;
  }
  void insert(int pos, std::int64_t v) {
    check_rank(rank_ + 1);
    for (int i = rank_; i > pos; --i) d_[i] = d_[i - 1];
    d_[pos] = v;
    ++rank_;
  }
  void erase(int pos) noexcept {
    for (int i = pos; i + 1 < rank_; ++i) d_[i] = d_[i + 1];
    --rank_;
  }
  std::vector<std::int64_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) noexcept {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.d_[i] != b.d_[i]) return false;
    return true;
  }

  friend std::ostream& operator<<(std::ostream& os, const Shape& s) {
    os << '[';
    for (int i = 0; i < s.rank_; ++i) os << (i ? ", " : "") << s.d_[i];
    return os << ']';
  }

 private:
  static void check_rank(int rank) {
    SINTER_CHECK(rank <= kMaxRank, "tensors of rank ", rank, " are not supported; the largest rank is ", kMaxRank,
                 " (sinter::kMaxRank)");
  }
  template <class It>
  void assign(It first, It last) {
    rank_ = 0;
    for (; first != last; ++first) push_back(static_cast<std::int64_t>(*first));
  }

  std::int64_t d_[kMaxRank] = {};
  int rank_ = 0;
};

inline std::string to_string(const Shape& s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

/// Number of elements (1 for a 0-d shape).
inline std::int64_t numel_of(const Shape& s) noexcept {
  std::int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

/// Row-major strides in elements.
inline Shape contiguous_strides(const Shape& s) {
  Shape st = Shape::filled(s.size(), 1);
  for (int i = s.size() - 2; i >= 0; --i) st[i] = st[i + 1] * (s[i + 1] > 1 ? s[i + 1] : 1);
  return st;
}

/// NumPy broadcasting of two shapes; `op` names the operation in the error, as PyTorch does.
inline Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int r = a.size() > b.size() ? a.size() : b.size();
  Shape out = Shape::filled(r, 1);
  for (int i = 0; i < r; ++i) {
    const int ia = a.size() - r + i, ib = b.size() - r + i;
    const std::int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    SINTER_CHECK(da == db || da == 1 || db == 1, op, ": the size of tensor a (", da, ") must match the size of tensor b (",
                 db, ") at non-singleton dimension ", i, "; shapes are ", a, " and ", b);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

/// Strides that read a tensor of shape `s` (strides `st`) broadcast to `target`: 0 on broadcast dims.
inline Shape broadcast_strides(const Shape& s, const Shape& st, const Shape& target) {
  Shape out = Shape::filled(target.size(), 0);
  const int off = target.size() - s.size();
  for (int i = 0; i < s.size(); ++i) out[off + i] = s[i] == 1 ? 0 : st[i];
  return out;
}

namespace detail {
/// A contiguous tensor seen as [outer, n, inner] around dim d: the layout of every "along one dim" kernel
/// (softmax, index_select, ...).
struct RowLayout {
  std::int64_t outer = 1, n = 1, inner = 1;
};
inline RowLayout row_layout(const Shape& s, int d) {
  RowLayout r;
  if (s.size() == 0) return r;
  for (int i = 0; i < d; ++i) r.outer *= s[i];
  r.n = s[d];
  for (int i = d + 1; i < s.size(); ++i) r.inner *= s[i];
  return r;
}
}  // namespace detail

/// Wraps a possibly negative dim into [0, rank); `op` names the caller in the error.
inline int normalize_dim(std::int64_t dim, int rank, const char* op) {
  const int r = rank == 0 ? 1 : rank;  // like PyTorch, a 0-d tensor accepts dim 0 and -1
  SINTER_CHECK(dim >= -r && dim < r, op, ": dimension out of range (expected to be in range of [", -r, ", ", r - 1,
               "], but got ", dim, ")");
  return static_cast<int>(dim < 0 ? dim + r : dim);
}

}  // namespace sinter
