// SPDX-License-Identifier: Apache-2.0
// The CPU evaluator: one pass over the coalesced iteration space per statement, SIMD across the innermost dim,
// OpenMP across contiguous chunks. forward() writes a statement, backward() recomputes it and writes every input
// gradient in the same pass, reduce() folds it into a reduced shape.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <sinter/backend/cpu/parallel.hpp>
#include <sinter/backend/cpu/short_rows.hpp>
#include <sinter/backend/cpu/simd.hpp>
#include <sinter/core/counters.hpp>
#include <sinter/expr/plan.hpp>

namespace sinter::cpu {

using expr::IterationSpace;
using expr::Lanes;
using expr::OperandGeometry;
using expr::ReduceKind;

/// Calls f(outer_index, j0, j1) for each piece of a row inside the linear range [begin, end). The outer index is
/// found by division once, then advanced like an odometer: rows shorter than a SIMD batch ([4096, 10]) made the
/// divisions a visible part of each row's cost.
template <class F>
void for_row_segments(const Shape& shape, std::int64_t begin, std::int64_t end, F&& f) {
  const int r = shape.size();
  const std::int64_t len = shape[r - 1];
  if (begin >= end) return;
  std::int64_t idx[kMaxRank] = {};
  std::int64_t rem = begin / len;
  for (int d = r - 2; d >= 0; --d) {
    idx[d] = rem % shape[d];
    rem /= shape[d];
  }
  std::int64_t j0 = begin % len;
  for (std::int64_t i = begin; i < end;) {
    const std::int64_t j1 = std::min(len, j0 + (end - i));
    f(static_cast<const std::int64_t*>(idx), j0, j1);
    i += j1 - j0;
    j0 = 0;
    for (int d = r - 2; d >= 0; --d) {  // the next row
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

using expr::reduce_identity;

template <ReduceKind K, class T>
SINTER_ALWAYS_INLINE T horizontal(vec<T> v) {
  if constexpr (K == ReduceKind::Sum) {
    return xsimd::hadd(v);
  } else {
    alignas(64) T buf[vec<T>::size];
    v.store_aligned(buf);
    T acc = buf[0];
    for (std::size_t k = 1; k < vec<T>::size; ++k) acc = expr::reduce_combine<K>(acc, buf[k]);
    return acc;
  }
}

/// A destination that receives values folded over some dims: each thread folds into its own partial buffer
/// (zero strides on folded dims), then one combine pass writes the destination. Deterministic per thread count.
/// Each thread's partial starts on its own pair of cache lines (thread_stride): a small one (a bias's gradient,
/// written every row) that shared a line with the next thread's made a 2-thread backward slower than a 1-thread one.
template <class T, ReduceKind K>
class FoldingWriter {
 public:
  FoldingWriter(const OperandGeometry& geo, std::int64_t size, int nthreads)
      : geo_(geo), size_(size), stride_(thread_stride<T>(size)),
        partial_(static_cast<std::size_t>(stride_ * nthreads)) {}

  void begin_thread(int tid) {
    T* p = partial_.data() + stride_ * tid;
    std::fill(p, p + size_, reduce_identity<K, T>());
  }
  struct Row {
    T* p;
    std::int64_t inner;
    vec<T> vacc;
    T sacc;
  };
  Row row(int tid, const std::int64_t* idx) const {
    return Row{const_cast<T*>(partial_.data()) + stride_ * tid + geo_.row_offset(idx), geo_.inner,
               vec<T>(reduce_identity<K, T>()), reduce_identity<K, T>()};
  }
  template <class V>
  static SINTER_ALWAYS_INLINE void add(Row& r, std::int64_t j, V v) {
    if (r.inner == 0) {
      if constexpr (std::is_same_v<V, T>) r.sacc = expr::reduce_combine<K>(r.sacc, v);
      else r.vacc = expr::reduce_combine<K>(r.vacc, v);
    } else if constexpr (std::is_same_v<V, T>) {
      T& d = r.p[j * r.inner];
      d = expr::reduce_combine<K>(d, v);
    } else {
      Lanes<V>::store(r.p, j, r.inner, expr::reduce_combine<K>(Lanes<V>::load(r.p, j, r.inner), v));
    }
  }
  /// add() of the first n lanes of v, lane by lane (a row's last partial batch).
  [[gnu::noinline]] static void add_lanes(Row& r, std::int64_t j, const vec<T>& v, int n) {
    alignas(64) T b[vec<T>::size];
    v.store_aligned(b);
    for (int k = 0; k < n; ++k) add(r, j + k, b[k]);
  }
  static void end_row(Row& r) {
    if (r.inner == 0) r.p[0] = expr::reduce_combine<K>(r.p[0], expr::reduce_combine<K>(horizontal<K, T>(r.vacc), r.sacc));
  }
  /// dst[k] (+)= fold over threads of partial[t][k]. The epilogue of the pass that filled the partials (like the
  /// last block-reduce of a GPU reduction): it reads size x threads values, not the iteration space.
  void combine_into(T* dst, bool accumulate, int nthreads, T scale = T(1)) const {
    for (std::int64_t k = 0; k < size_; ++k) {
      T acc = partial_[static_cast<std::size_t>(k)];
      for (int t = 1; t < nthreads; ++t)
        acc = expr::reduce_combine<K>(acc, partial_[static_cast<std::size_t>(stride_ * t + k)]);
      if (scale != T(1)) acc *= scale;
      dst[k] = accumulate ? dst[k] + acc : acc;
    }
  }

 private:
  OperandGeometry geo_;
  std::int64_t size_, stride_;
  std::vector<T, xsimd::aligned_allocator<T, 128>> partial_;
};

/// Copies lanes [j, j + n) of a row into b, 0 < n < the batch width, repeating the last one to fill the batch: the
/// padding lanes then hold a value the op already sees (no NaN or zero that would send pow or log down a slow path).
template <class T>
[[gnu::noinline]] void stage_lanes(T* b, const T* row, std::int64_t j, std::int64_t stride, int n) {
  using V = vec<T>;
  constexpr int W = static_cast<int>(V::size);
  if (stride == 0) {  // a broadcast operand: its one value in every lane, stored whole (the kernel reloads it whole)
    V(row[0]).store_aligned(b);
    return;
  }
#if defined(__AVX512F__)
  // A contiguous row: one masked load, the lanes where the mask is off taking the last lane's value.
  if constexpr (W * sizeof(T) == 64 && std::is_same_v<T, float>) {
    if (stride == 1) {
      const auto mask = static_cast<__mmask16>((1u << n) - 1);
      _mm512_store_ps(b, _mm512_mask_loadu_ps(_mm512_set1_ps(row[j + n - 1]), mask, row + j));
      return;
    }
  } else if constexpr (W * sizeof(T) == 64 && std::is_same_v<T, double>) {
    if (stride == 1) {
      const auto mask = static_cast<__mmask8>((1u << n) - 1);
      _mm512_store_pd(b, _mm512_mask_loadu_pd(_mm512_set1_pd(row[j + n - 1]), mask, row + j));
      return;
    }
  }
#endif
  for (int k = 0; k < n; ++k) b[k] = row[(j + k) * stride];
  for (int k = n; k < W; ++k) b[k] = b[n - 1];
}

/// Writes (or adds) the first n lanes of v to a row.
template <class T>
[[gnu::noinline]] void store_lanes(T* row, std::int64_t j, std::int64_t stride, const vec<T>& v, int n, bool add) {
  alignas(64) T b[vec<T>::size];
  v.store_aligned(b);
  for (int k = 0; k < n; ++k) row[(j + k) * stride] = add ? row[(j + k) * stride] + b[k] : b[k];
}

/// The last, partial batch of a row runs through the same SIMD code as the full ones: each operand's remaining lanes
/// are staged into a buffer of this (a plan's stage() points its leaves there, read from lane 0), and only those
/// lanes are written. This replaced a scalar loop, which instantiated every expression a second time (compile
/// time) and ran rows shorter than a batch, a broadcast bias's [64, 10] for example, lane by lane through libm.
template <class T, int N>
struct Tail {
  alignas(64) T buf[N > 0 ? N : 1][vec<T>::size];
  int used = 0;
  const T* stage(const T* row, const OperandGeometry& geo, std::int64_t j, int n) {
    T* b = buf[used++];
    stage_lanes(b, row, j, geo.inner, n);
    return b;
  }
};

/// The row index of row 0 of any space.
inline constexpr std::int64_t kFirstRow[kMaxRank] = {};

/// One thread's copy of a plan that a loop knows only by its size: plans are trivially copyable, so the loops below
/// are compiled once per element type and reach each expression's own code through a few function pointers (a
/// program of many statements compiles one loop, not one per statement).
class PlanCopy {
 public:
  PlanCopy(const void* plan, std::size_t bytes) {
    if (bytes > sizeof(local_)) heap_ = std::make_unique<std::max_align_t[]>(bytes / sizeof(std::max_align_t) + 1);
    p_ = heap_ ? static_cast<void*>(heap_.get()) : static_cast<void*>(local_);
    std::memcpy(p_, plan, bytes);
  }
  PlanCopy(const PlanCopy&) = delete;
  PlanCopy& operator=(const PlanCopy&) = delete;
  void* get() const { return p_; }

 private:
  alignas(64) unsigned char local_[1024];
  std::unique_ptr<std::max_align_t[]> heap_;
  void* p_;
};

template <class Plan>
inline constexpr bool kErasablePlan = std::is_trivially_copyable_v<Plan> && alignof(Plan) <= alignof(std::max_align_t);

/// Lanes [j0, j1) of one row of a statement: dst (+)= plan (the plan pointed at the row). A partial last batch
/// stages a copy; one copy of the SIMD body serves full and partial batches and packed short rows.
template <class T, class Plan>
[[gnu::noinline]] void forward_row(const void* plan0, T* drow, std::int64_t ds, std::int64_t j0, std::int64_t j1,
                                   bool add) {
  using V = vec<T>;
  constexpr int W = static_cast<int>(V::size);
  Plan plan = *static_cast<const Plan*>(plan0);
  Tail<T, Plan::kLeaves> tail;
  for (std::int64_t j = j0; j < j1; j += W) {
    const bool partial = j1 - j < W;
    if (partial) plan.stage(tail, j, static_cast<int>(j1 - j));
    V v = plan.template value<V>(partial ? 0 : j);
    if (partial) {
      store_lanes<T>(drow, j, ds, v, static_cast<int>(j1 - j), add);
    } else {
      if (add) v += Lanes<V>::load(drow, j, ds);
      Lanes<V>::store(drow, j, ds, v);
    }
  }
}

/// What a plan's set_row and stage do, called through a pointer to a copy.
template <class T, class Plan>
struct PlanCalls {
  static void set_row(void* plan, const std::int64_t* idx) { static_cast<Plan*>(plan)->set_row(idx); }
  static void stage(void* plan, PackedOperands<T>& ops) { static_cast<Plan*>(plan)->stage(ops, 0, 0); }
};

/// A statement's forward as the element-type loops see it.
template <class T>
struct ForwardKernel {
  const void* plan;
  std::size_t bytes;
  int leaves;
  void (*set_row)(void* plan, const std::int64_t* idx);
  void (*stage)(void* plan, PackedOperands<T>& ops);
  void (*row)(const void* plan, T* drow, std::int64_t ds, std::int64_t j0, std::int64_t j1, bool add);
};

/// Elements [b, e) of a [rows, len] space with len < 2W (short_rows.hpp): dst (+)= plan, a block of lanes at a time.
template <class T>
[[gnu::noinline]] void forward_packed(const Shape& shape, const ForwardKernel<T>& k, void* plan,
                                      const OperandGeometry& dst_geo, T* dst, bool add, std::int64_t b, std::int64_t e) {
  constexpr int B = RowPacking<T>::kBlock;
  RowPacking<T> at(shape[0], shape[1]);
  PackedOperands<T> ops(at, k.leaves);
  k.set_row(plan, kFirstRow);
  k.stage(plan, ops);  // every leaf now reads its gathered lanes
  alignas(64) T out[B];
  PackedDestination<T> to(dst, dst_geo.outer_rank > 0 ? dst_geo.outer[0] : 0, dst_geo.inner, false, add, at);
  for (std::int64_t f = b; f < e; f += B) {
    const int m = static_cast<int>(std::min<std::int64_t>(B, e - f));
    if (f == b) at.seek(f, m);
    else at.advance(m);
    ops.fill();
    k.row(plan, out, 1, 0, m, false);
    to.write(at, out);
  }
}

/// dst (+)= plan over the iteration space, row by row or packed. One kernel.
template <class T>
[[gnu::noinline]] void forward_kernel(const IterationSpace& space, const ForwardKernel<T>& k,
                                      const OperandGeometry& dst_geo, T* dst, bool add) {
  detail::count_kernel(kCPU);
  const std::int64_t n = space.numel();
  if (n == 0) return;
  const int nt = threads_for(n);
  const bool packed = RowPacking<T>::applies(space);
  parallel(nt, [&](int tid, int nth) {
    const auto [b, e] = chunk(n, tid, nth);
    PlanCopy plan(k.plan, k.bytes);
    if (packed) return forward_packed<T>(space.shape, k, plan.get(), dst_geo, dst, add, b, e);
    for_row_segments(space.shape, b, e, [&](const std::int64_t* idx, std::int64_t j0, std::int64_t j1) {
      k.set_row(plan.get(), idx);
      k.row(plan.get(), dst + dst_geo.row_offset(idx), dst_geo.inner, j0, j1, add);
    });
  });
}

/// dst (+)= plan over the iteration space. One kernel.
template <class T, class Plan>
void forward(const IterationSpace& space, const Plan& plan, const OperandGeometry& dst_geo, T* dst, bool add) {
  static_assert(kErasablePlan<Plan>, "sinter: a plan must be trivially copyable (it is also a CUDA kernel argument)");
  using C = PlanCalls<T, Plan>;
  forward_kernel<T>(space, {&plan, sizeof(Plan), Plan::kLeaves, &C::set_row, &C::stage, &forward_row<T, Plan>},
                    dst_geo, dst, add);
}

/// A statement applied to rectangles of a 2-D result [M, N] as a GEMM finishes them (a fused epilogue): the plan
/// runs over the uncoalesced [M, N] space; apply() is what the GEMM calls, through TileEpilogue, from its threads.
template <class T, class Plan>
struct TileStatement {
  Plan plan;
  OperandGeometry dst_geo;
  T* dst;
  static void apply(const void* self, std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) {
    const auto& s = *static_cast<const TileStatement*>(self);
    Plan plan = s.plan;
    for (std::int64_t i = i0; i < i1; ++i) {
      plan.set_row(&i);
      forward_row<T, Plan>(&plan, s.dst + s.dst_geo.row_offset(&i), s.dst_geo.inner, j0, j1, false);
    }
  }
};

/// Folds lanes [j0, j1) of one row of plan (pointed at the row) into a reduction's partials.
template <ReduceKind K, class T, class Plan>
[[gnu::noinline]] void reduce_row(const void* plan0, const FoldingWriter<T, K>& writer, int tid,
                                  const std::int64_t* idx, std::int64_t j0, std::int64_t j1) {
  using V = vec<T>;
  constexpr int W = static_cast<int>(V::size);
  Plan p = *static_cast<const Plan*>(plan0);  // this row's copy: a partial last batch stages it
  Tail<T, Plan::kLeaves> tail;
  // Flush the register accumulator every 1024 lanes so float sums stay accurate over long rows.
  for (std::int64_t s0 = j0; s0 < j1; s0 += 1024) {
    const std::int64_t s1 = std::min(j1, s0 + 1024);
    auto row = writer.row(tid, idx);
    for (std::int64_t j = s0; j < s1; j += W) {
      const bool partial = s1 - j < W;
      if (partial) p.stage(tail, j, static_cast<int>(s1 - j));
      const V v = p.template value<V>(partial ? 0 : j);
      if (partial) FoldingWriter<T, K>::add_lanes(row, j, v, static_cast<int>(s1 - j));
      else FoldingWriter<T, K>::add(row, j, v);
    }
    FoldingWriter<T, K>::end_row(row);
  }
}

/// A reduction as the element-type loop sees it.
template <ReduceKind K, class T>
struct ReduceKernel {
  const void* plan;
  std::size_t bytes;
  void (*set_row)(void* plan, const std::int64_t* idx);
  void (*row)(const void* plan, const FoldingWriter<T, K>& writer, int tid, const std::int64_t* idx,
              std::int64_t j0, std::int64_t j1);
};

template <ReduceKind K, class T>
[[gnu::noinline]] void reduce_kernel(const IterationSpace& space, const ReduceKernel<K, T>& k,
                                     const OperandGeometry& out_geo, T* out, std::int64_t size, T scale) {
  detail::count_kernel(kCPU);
  const std::int64_t n = space.numel();
  const int nt = threads_for(n);
  FoldingWriter<T, K> writer(out_geo, size, nt);
  parallel(nt, [&](int tid, int nth) {
    writer.begin_thread(tid);
    const auto [b, e] = chunk(n, tid, nth);
    PlanCopy plan(k.plan, k.bytes);
    for_row_segments(space.shape, b, e, [&](const std::int64_t* idx, std::int64_t j0, std::int64_t j1) {
      k.set_row(plan.get(), idx);
      k.row(plan.get(), writer, tid, idx, j0, j1);
    });
  });
  writer.combine_into(out, false, nt, scale);
}

/// Folds plan over the dims where out_geo has zero strides into out (size elements), times scale (a mean's 1/n,
/// applied once per output as PyTorch does). One kernel.
template <ReduceKind K, class T, class Plan>
void reduce(const IterationSpace& space, const Plan& plan, const OperandGeometry& out_geo, T* out, std::int64_t size,
            T scale) {
  static_assert(kErasablePlan<Plan>, "sinter: a plan must be trivially copyable (it is also a CUDA kernel argument)");
  reduce_kernel<K, T>(space, {&plan, sizeof(Plan), &PlanCalls<T, Plan>::set_row, &reduce_row<K, T, Plan>}, out_geo,
                      out, size, scale);
}

using expr::GradDestination;

/// Which leaves read each input: first_leaf[s], then next_leaf[l] until -1, in leaf order. Built once per backward
/// so the kernel sums a shared input's adjoints in registers instead of zeroing and adding through a slot array.
struct LeavesOfInputs {
  std::vector<int> first_leaf, next_leaf;
  LeavesOfInputs(const std::vector<int>& slot_of_leaf, int nslots)
      : first_leaf(static_cast<std::size_t>(nslots), -1), next_leaf(slot_of_leaf.size(), -1) {
    std::vector<int> last(static_cast<std::size_t>(nslots), -1);
    for (int l = 0; l < static_cast<int>(slot_of_leaf.size()); ++l) {
      const auto s = static_cast<std::size_t>(slot_of_leaf[static_cast<std::size_t>(l)]);
      if (last[s] < 0) first_leaf[s] = l;
      else next_leaf[static_cast<std::size_t>(last[s])] = l;
      last[s] = l;
    }
  }
};

/// Writes `count` consecutive batches of lanes of every input's gradient, from lane j on, out of the leaves'
/// adjoints (batch b's adjoint of leaf l at adj[b * nleaves + l]): stored, added or folded; the last batch holds
/// n_last lanes (fewer than a batch at the end of a row). Out of line and the same for every expression, so a
/// backward kernel's code is its sweep, not six store paths per input. Called once per chunk of batches, so each
/// destination's checks are paid per chunk: called per batch, they made `sigmoid(a * x + b) * tanh(x)`'s forward +
/// backward on 1M floats 1.4x slower (eltwise_vs_libtorch).
template <class T>
[[gnu::noinline]] void write_gradients(const GradDestination<T>* dests, int nslots, const LeavesOfInputs& leaves,
                                       int nleaves, T* const* rows,
                                       typename FoldingWriter<T, ReduceKind::Sum>::Row* frows, std::int64_t j,
                                       const vec<T>* adj, int count, int n_last) {
  using V = vec<T>;
  using Fold = FoldingWriter<T, ReduceKind::Sum>;
  constexpr int W = static_cast<int>(V::size);
  const int whole = n_last == W ? count : count - 1;
  for (int s = 0; s < nslots; ++s) {
    const auto& d = dests[s];
    if (!d.data) continue;
    const int first = leaves.first_leaf[static_cast<std::size_t>(s)];
    const int second = leaves.next_leaf[static_cast<std::size_t>(first)];
    // Input s's gradient in batch b: its leaves' adjoints summed, in leaf order.
    const auto grad = [&](int b) {
      const V* a = adj + static_cast<std::ptrdiff_t>(b) * nleaves;
      V g = a[first];
      for (int l = second; l >= 0; l = leaves.next_leaf[static_cast<std::size_t>(l)]) g += a[l];
      return g;
    };
    const std::int64_t inner = d.geo.inner;
    if (d.folded) {
      for (int b = 0; b < whole; ++b) Fold::add(frows[s], j + b * W, grad(b));
    } else if (inner == 1) {
      T* r = rows[s] + j;
      if (d.accumulate) {
        for (int b = 0; b < whole; ++b) (V::load_unaligned(r + b * W) + grad(b)).store_unaligned(r + b * W);
      } else {
        for (int b = 0; b < whole; ++b) grad(b).store_unaligned(r + b * W);
      }
    } else {
      for (int b = 0; b < whole; ++b) {
        const V g = grad(b);
        Lanes<V>::store(rows[s], j + b * W, inner, d.accumulate ? Lanes<V>::load(rows[s], j + b * W, inner) + g : g);
      }
    }
    if (whole < count) {
      const V g = grad(whole);
      if (d.folded) Fold::add_lanes(frows[s], j + whole * W, g, n_last);
      else store_lanes<T>(rows[s], j + whole * W, inner, g, n_last, d.accumulate);
    }
  }
}

/// Everything of a backward pass that does not depend on the expression: which leaves feed each input, the per-thread
/// partials of broadcast inputs, and where each row of every gradient starts. Instantiated once per element type, so
/// a backward kernel's own code is its row loop and sweep (compile time).
template <class T>
class GradientRows {
 public:
  using FoldRow = typename FoldingWriter<T, ReduceKind::Sum>::Row;

  [[gnu::noinline]] GradientRows(std::vector<GradDestination<T>>& dests, const std::vector<int>& slot_of_leaf, int nt)
      : dests_(dests), leaves_(slot_of_leaf, static_cast<int>(dests.size())), fold_of_(dests.size(), -1) {
    for (std::size_t s = 0; s < dests.size(); ++s)
      if (dests[s].data && dests[s].folded) {
        fold_of_[s] = static_cast<int>(folds_.size());
        folds_.emplace_back(dests[s].geo, dests[s].size, nt);
      }
  }
  int slots() const { return static_cast<int>(dests_.size()); }

  /// One thread's view: its fold partials and the current row of every destination.
  struct Thread {
    int tid;
    T** rows;
    FoldRow* frows;
  };
  [[gnu::noinline]] void begin_thread(int tid) {
    for (auto& f : folds_) f.begin_thread(tid);
  }
  [[gnu::noinline]] void set_row(const Thread& t, const std::int64_t* idx) const {
    for (std::size_t s = 0; s < dests_.size(); ++s) {
      const auto& d = dests_[s];
      if (!d.data) continue;
      if (d.folded) t.frows[s] = folds_[static_cast<std::size_t>(fold_of_[s])].row(t.tid, idx);
      else t.rows[s] = d.data + d.geo.row_offset(idx);
    }
  }
  /// `count` batches of every gradient from lane j on, the last of n_last lanes (write_gradients).
  void write(const Thread& t, std::int64_t j, const vec<T>* adj, int count, int n_last) const {
    write_gradients<T>(dests_.data(), slots(), leaves_, static_cast<int>(leaves_.next_leaf.size()), t.rows, t.frows,
                       j, adj, count, n_last);
  }
  [[gnu::noinline]] void end_row(const Thread& t) const {
    for (std::size_t s = 0; s < dests_.size(); ++s)
      if (dests_[s].data && dests_[s].folded) FoldingWriter<T, ReduceKind::Sum>::end_row(t.frows[s]);
  }
  /// Packed short rows (short_rows.hpp): this thread's writer of input s's gradient, or none if it is not wanted.
  /// t's rows are each gradient's row 0, set by set_row(t, kFirstRow).
  std::optional<PackedDestination<T>> packed_destination(const Thread& t, int s, const RowPacking<T>& at) const {
    const auto& d = dests_[static_cast<std::size_t>(s)];
    if (!d.data) return std::nullopt;
    const std::int64_t sr = d.geo.outer_rank > 0 ? d.geo.outer[0] : 0;
    return PackedDestination<T>(d.folded ? t.frows[s].p : t.rows[s], sr, d.geo.inner, d.folded, d.accumulate, at);
  }
  /// The epilogue: each broadcast input's partials summed over threads into its gradient.
  [[gnu::noinline]] void finish(int nt) const {
    for (std::size_t s = 0; s < dests_.size(); ++s) {
      const int f = fold_of_[s];
      if (f < 0) continue;
      folds_[static_cast<std::size_t>(f)].combine_into(dests_[s].data, dests_[s].accumulate, nt);
    }
  }

 private:
  std::vector<GradDestination<T>>& dests_;
  LeavesOfInputs leaves_;
  std::vector<FoldingWriter<T, ReduceKind::Sum>> folds_;
  std::vector<int> fold_of_;
};

/// A backward pass's plan and seed, one trivially copyable object for the element-type loop.
template <class Plan, class Seed>
struct PlanAndSeed {
  Plan plan;
  Seed seed;
  void set_row(const std::int64_t* idx) {
    plan.set_row(idx);
    seed.set_row(idx);
  }
  template <class Tail>
  void stage(Tail& t, std::int64_t j, int n) {
    plan.stage(t, j, n);
    seed.stage(t, j, n);
  }
};

/// How many batches of adjoints a backward kernel keeps before writing them: up to 8, within 64 vectors (4 KB of
/// stack with AVX-512) however many leaves the statement has.
constexpr int gradient_chunk(int leaves) { return leaves >= 64 ? 1 : std::min(8, 64 / leaves); }

/// Lanes [j0, j1) of one row of a backward pass (plan and seed pointed at the row): recompute the statement, sweep
/// the adjoints, write every gradient, a chunk of batches at a time. One copy of the expression's sweep serves rows
/// and packed short rows.
template <class T, class Plan, class Seed>
[[gnu::noinline]] void backward_row(const void* statement, const GradientRows<T>& grads,
                                    const typename GradientRows<T>::Thread& t, std::int64_t j0, std::int64_t j1) {
  constexpr int L = Plan::kLeaves;
  constexpr int C = gradient_chunk(L);
  using V = vec<T>;
  constexpr int W = static_cast<int>(V::size);
  PlanAndSeed<Plan, Seed> s = *static_cast<const PlanAndSeed<Plan, Seed>*>(statement);  // a partial batch stages it
  Tail<T, L + Seed::kOperands> tail;
  V adj[C * L];
  for (std::int64_t c0 = j0; c0 < j1; c0 += C * W) {
    const std::int64_t c1 = std::min(j1, c0 + C * W);
    int b = 0;
    for (std::int64_t j = c0; j < c1; j += W, ++b) {
      const bool partial = c1 - j < W;  // only a row's last batch
      if (partial) s.stage(tail, j, static_cast<int>(c1 - j));
      expr::adjoints(s.plan, s.seed, partial ? 0 : j, adj + b * L);
    }
    grads.write(t, c0, adj, b, static_cast<int>(c1 - c0 - (b - 1) * W));
  }
  grads.end_row(t);
}

/// A statement's backward as the element-type loop sees it.
template <class T>
struct BackwardKernel {
  const void* statement;  // a PlanAndSeed
  std::size_t bytes;
  int leaves, operands;  // operands: the leaves and the tensors the seed reads
  void (*set_row)(void* statement, const std::int64_t* idx);
  void (*stage)(void* statement, PackedOperands<T>& ops);
  void (*row)(const void* statement, const GradientRows<T>& grads, const typename GradientRows<T>::Thread& t,
              std::int64_t j0, std::int64_t j1);
};

/// Elements [b, e) of a [rows, len] space with len < 2W (short_rows.hpp), one thread's part of a backward pass: each
/// block's gradients are written as plain lanes through `lanes` (a GradientRows whose destinations are the rows
/// of `out` below), then scattered or folded into the real ones.
template <class T>
[[gnu::noinline]] void backward_packed(const Shape& shape, const BackwardKernel<T>& k, void* statement,
                                       const GradientRows<T>& grads, const GradientRows<T>& lanes,
                                       const typename GradientRows<T>::Thread& t, std::int64_t b, std::int64_t e) {
  constexpr int B = RowPacking<T>::kBlock;
  RowPacking<T> at(shape[0], shape[1]);
  PackedOperands<T> ops(at, k.operands);
  k.set_row(statement, kFirstRow);
  k.stage(statement, ops);  // every leaf and the seed now read their gathered lanes
  grads.set_row(t, kFirstRow);
  const auto L = static_cast<std::size_t>(k.leaves);
  std::vector<T, xsimd::aligned_allocator<T, 64>> out(L * B);
  std::vector<T*> out_rows(L);
  for (std::size_t s = 0; s < L; ++s) out_rows[s] = out.data() + s * B;
  const typename GradientRows<T>::Thread lt{t.tid, out_rows.data(), nullptr};  // `lanes` folds nothing
  std::vector<std::optional<PackedDestination<T>>> dst(static_cast<std::size_t>(grads.slots()));
  for (int s = 0; s < grads.slots(); ++s) dst[static_cast<std::size_t>(s)] = grads.packed_destination(t, s, at);
  for (std::int64_t f = b; f < e; f += B) {
    const int m = static_cast<int>(std::min<std::int64_t>(B, e - f));
    if (f == b) at.seek(f, m);
    else at.advance(m);
    ops.fill();
    k.row(statement, lanes, lt, 0, m);
    for (std::size_t s = 0; s < dst.size(); ++s)
      if (dst[s]) dst[s]->write(at, out_rows[s]);
  }
  for (auto& d : dst)
    if (d) d->flush(at);
}

/// The destinations of packed short rows' lanes: every gradient that is wanted, as a plain row of a block's lanes.
template <class T>
std::vector<GradDestination<T>> lane_destinations(const std::vector<GradDestination<T>>& dests) {
  std::vector<GradDestination<T>> lanes(dests.size());
  for (std::size_t s = 0; s < dests.size(); ++s) {
    lanes[s].data = dests[s].data;  // marks the gradient as wanted; the kernel writes through its own rows
    lanes[s].geo.inner = 1;
    lanes[s].size = RowPacking<T>::kBlock;
  }
  return lanes;
}

template <class T>
[[gnu::noinline]] void backward_kernel(const IterationSpace& space, const BackwardKernel<T>& k,
                                       const std::vector<int>& slot_of_leaf, std::vector<GradDestination<T>>& dests) {
  detail::count_kernel(kCPU);
  const std::int64_t n = space.numel();
  const int nt = threads_for(n, kParallelGrain / 4);
  GradientRows<T> grads(dests, slot_of_leaf, nt);
  const bool packed = RowPacking<T>::applies(space);
  std::vector<GradDestination<T>> lane_dests;
  std::optional<GradientRows<T>> lanes;
  if (packed) lanes.emplace(lane_dests = lane_destinations(dests), slot_of_leaf, nt);
  parallel(nt, [&](int tid, int nth) {
    grads.begin_thread(tid);
    const auto [b, e] = chunk(n, tid, nth);
    // an input is read by at least one leaf, so there are at most `leaves` destinations
    std::vector<T*> rows(static_cast<std::size_t>(k.leaves));
    std::vector<typename GradientRows<T>::FoldRow> frows(static_cast<std::size_t>(k.leaves));
    const typename GradientRows<T>::Thread t{tid, rows.data(), frows.data()};
    PlanCopy statement(k.statement, k.bytes);
    if (packed) return backward_packed<T>(space.shape, k, statement.get(), grads, *lanes, t, b, e);
    for_row_segments(space.shape, b, e, [&](const std::int64_t* idx, std::int64_t j0, std::int64_t j1) {
      k.set_row(statement.get(), idx);
      grads.set_row(t, idx);
      k.row(statement.get(), grads, t, j0, j1);
    });
  });
  grads.finish(nt);
}

/// Recomputes the statement per element, sweeps the adjoint from the root to every leaf, and writes each input's
/// gradient (leaves that read the same input are summed in registers). One kernel; an input that was broadcast
/// is folded through per-thread partials combined in the epilogue.
template <class T, class Plan, class Seed>
void backward(const IterationSpace& space, const Plan& plan, const Seed& seed, const std::vector<int>& slot_of_leaf,
              std::vector<GradDestination<T>>& dests) {
  if constexpr (Plan::kLeaves > 0) {
    using S = PlanAndSeed<Plan, Seed>;
    static_assert(kErasablePlan<S>, "sinter: a plan must be trivially copyable (it is also a CUDA kernel argument)");
    const S statement{plan, seed};
    using C = PlanCalls<T, S>;
    backward_kernel<T>(space,
                       {&statement, sizeof(S), Plan::kLeaves, Plan::kLeaves + Seed::kOperands, &C::set_row, &C::stage,
                        &backward_row<T, Plan, Seed>},
                       slot_of_leaf, dests);
  }
}

// The element-type loops' instances, X applied to each: declared extern here in compiled mode (config.hpp),
// instantiated once by implementation.hpp.
#define SINTER_CPU_LOOP_INSTANCES(X, T)                                                                             \
  X(class RowPacking<T>)                                                                       \
  X(class PackedOperands<T>)                                                                   \
  X(class PackedDestination<T>)                                                                \
  X(class GradientRows<T>)                                                                     \
  X(class FoldingWriter<T, ReduceKind::Sum>)                                                   \
  X(class FoldingWriter<T, ReduceKind::Max>)                                                   \
  X(class FoldingWriter<T, ReduceKind::Min>)                                                   \
  X(void stage_lanes<T>(T*, const T*, std::int64_t, std::int64_t, int))                       \
  X(void store_lanes<T>(T*, std::int64_t, std::int64_t, const vec<T>&, int, bool))           \
  X(void forward_packed<T>(const Shape&, const ForwardKernel<T>&, void*, const OperandGeometry&, \
                                                T*, bool, std::int64_t, std::int64_t))                              \
  X(void forward_kernel<T>(const IterationSpace&, const ForwardKernel<T>&,                    \
                                                const OperandGeometry&, T*, bool))                                  \
  X(void reduce_kernel<ReduceKind::Sum, T>(const IterationSpace&,                             \
                                                                const ReduceKernel<ReduceKind::Sum, T>&,            \
                                                                const OperandGeometry&, T*, std::int64_t, T))       \
  X(void reduce_kernel<ReduceKind::Max, T>(const IterationSpace&,                             \
                                                                const ReduceKernel<ReduceKind::Max, T>&,            \
                                                                const OperandGeometry&, T*, std::int64_t, T))       \
  X(void reduce_kernel<ReduceKind::Min, T>(const IterationSpace&,                             \
                                                                const ReduceKernel<ReduceKind::Min, T>&,            \
                                                                const OperandGeometry&, T*, std::int64_t, T))       \
  X(void write_gradients<T>(const GradDestination<T>*, int, const LeavesOfInputs&, int, T* const*,           \
                                                 typename FoldingWriter<T, ReduceKind::Sum>::Row*, std::int64_t,    \
                                                 const vec<T>*, int, int))                                          \
  X(void backward_packed<T>(const Shape&, const BackwardKernel<T>&, void*,                    \
                                                 const GradientRows<T>&, const GradientRows<T>&,                    \
                                                 const typename GradientRows<T>::Thread&, std::int64_t, std::int64_t)) \
  X(void backward_kernel<T>(const IterationSpace&, const BackwardKernel<T>&,                  \
                                                 const std::vector<int>&, std::vector<GradDestination<T>>&))
SINTER_CPU_LOOP_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_CPU_LOOP_INSTANCES(SINTER_EXTERN_TEMPLATE, double)

}  // namespace sinter::cpu
