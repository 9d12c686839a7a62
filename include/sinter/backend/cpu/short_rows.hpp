// SPDX-License-Identifier: Apache-2.0
// Rows shorter than two SIMD batches, packed. A statement over [4096, 10] with a broadcast bias cannot coalesce into
// one long row, and walking it row by row pays a row's setup (destinations, a staged partial batch, folds) for every
// 10 elements: 2.6-6x libtorch's time. Here the 2-D space [rows, len] is walked in batches of W consecutive
// elements that span rows; each operand's lanes are gathered, the expression runs once per batch on the gathered
// lanes, and the results are written back lane by lane (or folded, for broadcast inputs' gradients).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <sinter/backend/cpu/simd.hpp>
#include <sinter/core/shape.hpp>
#include <sinter/core/strided.hpp>
#include <sinter/expr/plan.hpp>

namespace sinter::cpu {

/// Gathers W lanes p[idx[k]]. xsimd 8's batch::gather names its kernels with template arguments that its AVX2 and
/// AVX-512 overloads do not take, so it always ran the generic lane-by-lane copy: the instructions are called here.
template <class T>
SINTER_ALWAYS_INLINE vec<T> gather_lanes(const T* p, const xsimd::batch<xsimd::as_integer_t<T>>& idx) {
  using V = vec<T>;
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, float>) return _mm512_i32gather_ps(idx, p, sizeof(T));
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, double>) return _mm512_i64gather_pd(idx, p, sizeof(T));
#endif
#if defined(__AVX2__)
  if constexpr (sizeof(V) == 32 && std::is_same_v<T, float>) return _mm256_i32gather_ps(p, idx, sizeof(T));
  if constexpr (sizeof(V) == 32 && std::is_same_v<T, double>) return _mm256_i64gather_pd(p, idx, sizeof(T));
#endif
  alignas(64) xsimd::as_integer_t<T> at[V::size];
  alignas(64) T out[V::size];
  idx.store_aligned(at);
  for (std::size_t k = 0; k < V::size; ++k) out[k] = p[at[k]];
  return V::load_aligned(out);
}

/// The most consecutive elements permute_window reads: 2W - 1 with AVX-512 (W lanes and a two-vector permute), W
/// floats with AVX2, 0 elsewhere (no lane permute by a vector of indices).
template <class T>
inline constexpr int kWindow =
#if defined(__AVX512F__)
    sizeof(vec<T>) == 64 ? 2 * static_cast<int>(vec<T>::size) - 1 :
#endif
#if defined(__AVX2__)
    sizeof(vec<T>) == 32 && std::is_same_v<T, float> ? static_cast<int>(vec<T>::size) :
#endif
    0;

/// Lane k of the result is p[idx[k]], 0 <= idx[k] < span <= kWindow<T>, reading only p[0, span): a masked load and a
/// permute, or for a span longer than a batch, a load, a masked load and a two-vector permute.
template <class T>
SINTER_ALWAYS_INLINE vec<T> permute_window(const T* p, [[maybe_unused]] int span,
                                           [[maybe_unused]] const xsimd::batch<xsimd::as_integer_t<T>>& idx) {
  using V = vec<T>;
#if defined(__AVX512F__)
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, float>) {
    if (span <= 16)
      return _mm512_permutexvar_ps(idx, _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << span) - 1), p));
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), idx,
                                  _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << (span - 16)) - 1), p + 16));
  }
  if constexpr (sizeof(V) == 64 && std::is_same_v<T, double>) {
    if (span <= 8)
      return _mm512_permutexvar_pd(idx, _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << span) - 1), p));
    return _mm512_permutex2var_pd(_mm512_loadu_pd(p), idx,
                                  _mm512_maskz_loadu_pd(static_cast<__mmask8>((1u << (span - 8)) - 1), p + 8));
  }
#endif
#if defined(__AVX2__)
  if constexpr (sizeof(V) == 32 && std::is_same_v<T, float>) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(span), lane);
    return _mm256_permutevar8x32_ps(_mm256_maskload_ps(p, mask), idx);
  }
#endif
  static_assert(kWindow<T> > 0, "sinter: permute_window needs AVX2 or AVX-512; check kWindow first");
  return V(p[0]);  // not reached: the assertion stops the build
}

/// Where the lanes of a block of consecutive elements of a [rows, len] space lie (len <= kMaxLen < 2W). A block is up
/// to kBatches SIMD batches, so a kernel call, a gather and a scatter are paid per block. Within a batch each lane's
/// row (relative to the batch's first row) and column depend only on the batch's first column c0: tabled once per
/// thread for every c0; a partial last batch repeats its last lane.
template <class T>
class RowPacking {
 public:
  using V = vec<T>;
  using I = xsimd::as_integer_t<T>;  // a batch of I has as many lanes as V: the gather's index type
  using IV = xsimd::batch<I>;
  static constexpr int W = static_cast<int>(V::size);
  static constexpr int kBatches = 8;
  static constexpr int kBlock = kBatches * W;  // lanes per block
  /// The longest rows packed: a whole batch and a partial one. Row by row, such a row stages its partial batch
  /// (bench/compare/eltwise_vs_libtorch's [4096, 24] statement: 1.36x the packed time); rows of two whole batches
  /// and longer ones are faster row by row.
  static constexpr int kMaxLen = 2 * W - 1;
  static_assert(static_cast<int>(IV::size) == W, "sinter: gather indices must have the data's lane count");

  /// True when the space is [rows, len] with len <= kMaxLen and every operand's strides keep a batch's lane offsets
  /// within the index type.
  static bool applies(const IterationSpace& space) {
    if (space.shape.size() != 2 || space.shape[1] > kMaxLen) return false;
    const std::int64_t limit = std::numeric_limits<I>::max() / (2 * W);
    for (const auto& g : space.ops) {
      const std::int64_t sr = g.outer_rank > 0 ? g.outer[0] : 0;
      if (sr > limit || -sr > limit || g.inner > limit || -g.inner > limit) return false;
    }
    return true;
  }

  RowPacking(std::int64_t rows, std::int64_t len)
      : rows_total_(rows), len_(len), rows_per_batch_(W / len), row_reach_((len - 1 + W - 1) / len),
        cols_per_batch_(static_cast<int>(W % len)) {
    for (std::int64_t c0 = 0; c0 < len; ++c0) lay_out(static_cast<int>(c0), static_cast<int>(c0), W);
  }

  /// Points at the block of m lanes (m <= kBlock) that starts at flat element f.
  void seek(std::int64_t f, int m) {
    r0_ = f / len_;
    c0_ = static_cast<int>(f % len_);
    seek_from_here(m);
  }
  /// The block that follows, m lanes.
  void advance(int m) {
    std::tie(r0_, c0_) = step(r0_, c0_, m_ / W);
    seek_from_here(m);
  }
  int lanes() const { return m_; }
  std::int64_t len() const { return len_; }
  std::int64_t rows() const { return rows_total_; }
  /// The columns of a whole batch's lanes when its first lane is at column c0.
  const I* columns_from(int c0) const { return cols_[c0]; }
  /// The most rows a batch touches after its first.
  std::int64_t row_reach() const { return row_reach_; }

  /// Calls f(i, r, idx) for each batch i of the block: r its first row, idx(sr, sc) its lanes' offsets from row r
  /// for an operand with row stride sr and column stride sc, and n its lanes.
  template <class F>
  SINTER_ALWAYS_INLINE void for_each_batch(F&& f) const {
    std::int64_t r = r0_;
    int c = c0_;
    for (int i = 0; i * W < m_; ++i) {
      const int n = std::min(W, m_ - i * W);
      const int entry = n == W ? c : kSpare;
      const auto idx = [&](std::int64_t sr, std::int64_t sc) {
        return IV::load_aligned(rows_[entry]) * IV(static_cast<I>(sr)) +
               IV::load_aligned(cols_[entry]) * IV(static_cast<I>(sc));
      };
      f(i, r, c, idx, n);
      r += rows_per_batch_;  // the next batch, without a division
      c += cols_per_batch_;
      if (c >= len_) c -= static_cast<int>(len_), ++r;
    }
  }

 private:
  static constexpr int kSpare = kMaxLen;  // > any column c0 < len: the table entry of a partial batch
  /// (row, column) of the batch `batches` batches after the one at (r, c).
  std::pair<std::int64_t, int> step(std::int64_t r, int c, int batches) const {
    const std::int64_t lanes = c + static_cast<std::int64_t>(batches) * W;
    return {r + lanes / len_, static_cast<int>(lanes % len_)};
  }
  void seek_from_here(int m) {
    m_ = m;
    if (m % W) lay_out(kSpare, step(r0_, c0_, m / W).second, m % W);  // the chunk's last batch, partial
  }
  void lay_out(int entry, int c0, int n) {  // n >= 1
    I r = 0, c = static_cast<I>(c0), last_r = 0, last_c = c;
    for (int k = 0; k < W; ++k) {
      if (k < n) {
        last_r = r;
        last_c = c;
        if (++c == len_) c = 0, ++r;
      }
      rows_[entry][k] = last_r;  // past n: the last lane again (values the op already sees, no address past the data)
      cols_[entry][k] = last_c;
    }
  }

  std::int64_t rows_total_, len_, rows_per_batch_, row_reach_;
  int cols_per_batch_;
  std::int64_t r0_ = 0;
  int c0_ = 0, m_ = 0;
  alignas(64) I rows_[kMaxLen + 1][W];  // by c0 < len, and kSpare
  alignas(64) I cols_[kMaxLen + 1][W];
};

/// True when an operand is laid out row after row with no gaps: a batch is then W consecutive elements.
inline bool flat_rows(std::int64_t sr, std::int64_t sc, std::int64_t len) { return sc == 1 && sr == len; }

/// Gathers the lanes of a block for a plan's operands. It is the Tail a plan stages into (expr/plan.hpp): staging a
/// plan pointed at row 0 records each leaf's data and strides and points the leaf at a buffer, once per thread;
/// fill() then gathers every operand's lanes of the current block into those buffers.
template <class T>
class PackedOperands {
 public:
  using V = vec<T>;
  static constexpr int W = static_cast<int>(V::size);
  static constexpr int kBlock = RowPacking<T>::kBlock;

  PackedOperands(const RowPacking<T>& at, int operands)
      : at_(at), ops_(static_cast<std::size_t>(operands)), buf_(static_cast<std::size_t>(operands) * kBlock) {}

  [[gnu::noinline]] const T* stage(const T* row0, const OperandGeometry& geo, std::int64_t, int) {
    Operand& op = ops_[static_cast<std::size_t>(used_)];
    op.data = row0;
    op.sr = geo.outer_rank > 0 ? geo.outer[0] : 0;
    op.sc = geo.inner;
    op.flat = flat_rows(op.sr, op.sc, at_.len());
    // A window operand: every batch's lanes lie within kWindow consecutive elements from its first row's start (a
    // bias [len] broadcast over rows, a [rows, 1] column broadcast over columns), read by masked loads and a permute
    // instead of a gather (slow on some cores: 25-30 cycles measured on the AMD EPYC VM). Near the operand's end,
    // where the window would reach past its last element, the gather reads it.
    if (kWindow<T> > 0 && op.sr >= 0 && op.sc >= 0) {
      const std::int64_t span = at_.row_reach() * op.sr + (at_.len() - 1) * op.sc + 1;
      op.span = span <= kWindow<T> ? static_cast<int>(span) : 0;
      op.last = (at_.rows() - 1) * op.sr + (at_.len() - 1) * op.sc;
    }
    return buf_.data() + kBlock * used_++;
  }
  /// Gathers the current block of every staged operand.
  [[gnu::noinline]] void fill() {
    for (int o = 0; o < used_; ++o) {
      const Operand& op = ops_[static_cast<std::size_t>(o)];
      T* out = buf_.data() + kBlock * o;
      at_.for_each_batch([&](int i, std::int64_t r, int c, const auto& idx, int n) {
        const T* p = op.data + r * op.sr;
        V v;
        if (op.flat && n == W) {
          v = V::load_unaligned(p + c);
        } else if constexpr (kWindow<T> > 0) {
          if (op.span && r * op.sr + op.span - 1 <= op.last) v = permute_window<T>(p, op.span, idx(op.sr, op.sc));
          else v = gather_lanes<T>(p, idx(op.sr, op.sc));
        } else {
          v = gather_lanes<T>(p, idx(op.sr, op.sc));
        }
        v.store_aligned(out + i * W);
      });
    }
  }

 private:
  struct Operand {
    const T* data;
    std::int64_t sr, sc;
    bool flat = false;
    int span = 0;           // > 0: a window operand, its batches' lanes within this many elements of their first row
    std::int64_t last = 0;  // offset of the operand's last element from its row 0
  };
  const RowPacking<T>& at_;
  std::vector<Operand> ops_;
  std::vector<T, xsimd::aligned_allocator<T, 64>> buf_;
  int used_ = 0;
};

/// One thread's writer of a block's lanes into a destination with row stride sr and column stride sc: stored,
/// added, or folded (summed over the dims where the destination, a broadcast input's gradient, has zero strides).
/// The lanes of a block are distinct elements of a destination that is not folded.
template <class T>
class PackedDestination {
 public:
  using V = vec<T>;
  using I = xsimd::as_integer_t<T>;
  static constexpr int W = static_cast<int>(V::size);
  enum class Mode { Store, Add, Fold, FoldRows, FoldColumns };

  /// data points at the destination's row 0 (a fold: at this thread's partial).
  PackedDestination(T* data, std::int64_t sr, std::int64_t sc, bool fold, bool add, const RowPacking<T>& at)
      : data_(data), sr_(sr), sc_(sc), flat_(flat_rows(sr, sc, at.len())) {
    if (!fold) mode_ = add ? Mode::Add : Mode::Store;
    else if (sr == 0) mode_ = Mode::FoldColumns;  // a bias's gradient: sums over rows, by column
    else if (sc == 0) mode_ = Mode::FoldRows;     // a [rows, 1] input's gradient: sums over each row
    else mode_ = Mode::Fold;
    if (mode_ == Mode::FoldColumns)
      for (auto& a : acc_) V(T(0)).store_aligned(a);
  }

  /// The current block's lanes v (a multiple of W apart by batch).
  [[gnu::noinline]] void write(const RowPacking<T>& at, const T* v) {
    switch (mode_) {
      case Mode::Store:
      case Mode::Add:
        return at.for_each_batch([&](int i, std::int64_t r, int c, const auto& idx, int n) {
          T* p = data_ + r * sr_;
          const T* src = v + i * W;
          if (!flat_ || n < W) return scalar(p, idx(sr_, sc_), src, n);
          V x = V::load_aligned(src);
          if (mode_ == Mode::Add) x += V::load_unaligned(p + c);
          x.store_unaligned(p + c);
        });
      case Mode::FoldColumns:
        // Every batch that starts at column c has the same lanes' columns: summed in a register row per c, folded
        // into the destination once, by flush().
        return at.for_each_batch([&](int i, std::int64_t r, int c, const auto& idx, int n) {
          if (n < W) return scalar(data_ + r * sr_, idx(sr_, sc_), v + i * W, n);
          (V::load_aligned(acc_[c]) + V::load_aligned(v + i * W)).store_aligned(acc_[c]);
        });
      case Mode::FoldRows:
#if defined(__AVX512F__)
        if constexpr (sizeof(V) == 64) {
          // The lanes of one row are a run: one masked horizontal sum per row a batch touches.
          return at.for_each_batch([&](int i, std::int64_t r, int, const auto& idx, int n) {
            T* p = data_ + r * sr_;
            const V x = V::load_aligned(v + i * W);
            const auto off = idx(sr_, sc_);
            const auto valid = static_cast<unsigned>((1ull << n) - 1);
            const std::int64_t reach = at.row_reach();
            for (std::int64_t d = 0; d <= reach; ++d) {
              const unsigned m = lanes_equal(off, static_cast<I>(d * sr_)) & valid;
              if (m) p[d * sr_] += masked_sum(m, x);
            }
          });
        }
#endif
        [[fallthrough]];
      case Mode::Fold:
        return at.for_each_batch([&](int i, std::int64_t r, int, const auto& idx, int n) {
          scalar(data_ + r * sr_, idx(sr_, sc_), v + i * W, n);
        });
    }
  }
  /// The end of this thread's part: FoldColumns' register rows into the destination.
  void flush(const RowPacking<T>& at) {
    if (mode_ != Mode::FoldColumns) return;
    for (int c0 = 0; c0 < at.len(); ++c0) {
      const I* cols = at.columns_from(c0);
      for (int k = 0; k < W; ++k) data_[cols[k] * sc_] += acc_[c0][k];
    }
  }

 private:
  /// Lane by lane; for folds, consecutive lanes with the same address are summed in a register first.
  void scalar(T* p, const xsimd::batch<I>& index, const T* src, int n) const {
    alignas(64) I off[W];
    index.store_aligned(off);
    if (mode_ == Mode::Store || mode_ == Mode::Add) {
      for (int k = 0; k < n; ++k) p[off[k]] = mode_ == Mode::Add ? p[off[k]] + src[k] : src[k];
      return;
    }
    I o = off[0];
    T acc = src[0];
    for (int k = 1; k < n; ++k) {
      if (off[k] == o) {
        acc += src[k];
        continue;
      }
      p[o] += acc;
      o = off[k];
      acc = src[k];
    }
    p[o] += acc;
  }
#if defined(__AVX512F__)
  static unsigned lanes_equal(const xsimd::batch<I>& a, I b) {
    if constexpr (sizeof(I) == 4) return _mm512_cmpeq_epi32_mask(a, _mm512_set1_epi32(b));
    else return _mm512_cmpeq_epi64_mask(a, _mm512_set1_epi64(b));
  }
  static T masked_sum(unsigned m, const V& v) {
    if constexpr (std::is_same_v<T, float>) return _mm512_mask_reduce_add_ps(static_cast<__mmask16>(m), v);
    else return _mm512_mask_reduce_add_pd(static_cast<__mmask8>(m), v);
  }
#endif

  T* data_;
  std::int64_t sr_, sc_;
  bool flat_;
  Mode mode_;
  alignas(64) T acc_[RowPacking<T>::kMaxLen][W];  // FoldColumns: a register row per starting column
};

}  // namespace sinter::cpu
