// SPDX-License-Identifier: Apache-2.0
// The Thrust evaluator: the same plans as the CPU evaluator, one Thrust algorithm over a counting iterator per
// statement. A functor holds the plan by value, turns its flat index into (outer index, lane), points the plan at
// that row and evaluates one element. forward() writes a statement, reduce() folds it, backward() recomputes it and
// sweeps adjoints to every input gradient. Compiled for CUDA by nvcc, and for the OpenMP system by g++ in CI.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <sinter/backend/device_table.hpp>
#include <sinter/backend/thrust/system.hpp>
#include <sinter/core/atomic.hpp>
#include <sinter/core/counters.hpp>
#include <sinter/core/strided.hpp>
#include <sinter/expr/plan.hpp>

namespace sinter::thrust_backend {

using expr::GradDestination;
using expr::ReduceKind;

/// The coalesced shape in a form kernels can hold: outer extents and the row length.
struct Extents {
  std::int64_t outer[kMaxRank] = {};
  int outer_rank = 0;
  std::int64_t row = 1;

  explicit Extents(const Shape& s) {
    outer_rank = s.size() - 1;
    for (int d = 0; d < outer_rank; ++d) outer[d] = s[d];
    row = s[s.size() - 1];
  }
  /// Splits a flat index into the outer index (written to idx) and the lane in the row (returned).
  SINTER_HD std::int64_t unravel(std::int64_t i, std::int64_t* idx) const {
    const std::int64_t j = i % row;
    std::int64_t rem = i / row;
    for (int d = outer_rank - 1; d >= 0; --d) {
      idx[d] = rem % outer[d];
      rem /= outer[d];
    }
    return j;
  }
};

SINTER_HD inline std::int64_t offset_of(const OperandGeometry& g, const std::int64_t* idx, std::int64_t j) {
  return g.row_offset(idx) + j * g.inner;
}

template <class F>
void for_each_index(std::int64_t n, const F& f) {
  using It = thrust::counting_iterator<std::int64_t>;
  if (n > 0) thrust::for_each(policy(), It(0), It(n), f);
}

using detail::atomic_add;

// ---- forward ----------------------------------------------------------------------------------------------------

template <class T, class Plan>
struct ForwardKernel {
  Plan plan;
  Extents ext;
  OperandGeometry dst_geo;
  T* dst;
  bool add;
  SINTER_HD void operator()(std::int64_t i) const {
    std::int64_t idx[kMaxRank];
    const std::int64_t j = ext.unravel(i, idx);
    Plan p = plan;
    p.set_row(idx);
    const T v = p.template value<T>(j);
    T* d = dst + offset_of(dst_geo, idx, j);
    *d = add ? *d + v : v;
  }
};

template <class T, class Plan>
void forward(Device dev, const IterationSpace& space, const Plan& plan, const OperandGeometry& dst_geo, T* dst,
             bool add) {
  require_supported(dev, "expression");
  detail::count_kernel(dev);
  for_each_index(space.numel(), ForwardKernel<T, Plan>{plan, Extents(space.shape), dst_geo, dst, add});
  check_launch("expression");
}

// ---- reductions -------------------------------------------------------------------------------------------------

using expr::reduce_identity;

/// The iteration space split into kept dims (an output element each) and folded dims (combined into it): element
/// (k, r) of the split space is element k * folded + r in row-major order over kept dims, then folded dims.
struct FoldSplit {
  std::int64_t extent[kMaxRank + 1] = {};  // coalesced extents, the row length last
  int pos_kept[kMaxRank + 1] = {}, pos_folded[kMaxRank + 1] = {};
  int nkept = 0, nfolded = 0, rank = 0;
  std::int64_t kept = 1, folded = 1;

  FoldSplit(const Shape& s, const OperandGeometry& out) {
    rank = s.size();
    for (int d = 0; d < rank; ++d) {
      extent[d] = s[d];
      const std::int64_t stride = d < rank - 1 ? out.outer[d] : out.inner;
      if (stride == 0 && s[d] != 1) {
        pos_folded[nfolded++] = d;
        folded *= s[d];
      } else {
        pos_kept[nkept++] = d;
        kept *= s[d];
      }
    }
  }
  /// Writes the outer index of element (k, r) to idx and returns its lane.
  SINTER_HD std::int64_t index(std::int64_t k, std::int64_t r, std::int64_t* idx) const {
    std::int64_t full[kMaxRank + 1];
    for (int a = nkept - 1; a >= 0; --a) {
      full[pos_kept[a]] = k % extent[pos_kept[a]];
      k /= extent[pos_kept[a]];
    }
    for (int a = nfolded - 1; a >= 0; --a) {
      full[pos_folded[a]] = r % extent[pos_folded[a]];
      r /= extent[pos_folded[a]];
    }
    for (int d = 0; d < rank - 1; ++d) idx[d] = full[d];
    return full[rank - 1];
  }
};

template <class T, class Plan>
struct ValueAt {
  Plan plan;
  FoldSplit split;
  SINTER_HD T operator()(std::int64_t i) const {
    std::int64_t idx[kMaxRank];
    const std::int64_t j = split.index(i / split.folded, i % split.folded, idx);
    Plan p = plan;
    p.set_row(idx);
    return p.template value<T>(j);
  }
};

/// One thread per output element, folding its inputs in order; partial sums every 1024 keep float sums accurate.
template <ReduceKind K, class T, class Plan>
struct FoldPerOutput {
  ValueAt<T, Plan> at;
  OperandGeometry out_geo;
  T* out;
  T scale;
  SINTER_HD void operator()(std::int64_t k) const {
    T acc = reduce_identity<K, T>();
    for (std::int64_t r0 = 0; r0 < at.split.folded; r0 += 1024) {
      const std::int64_t r1 = r0 + 1024 < at.split.folded ? r0 + 1024 : at.split.folded;
      T part = reduce_identity<K, T>();
      for (std::int64_t r = r0; r < r1; ++r) part = expr::reduce_combine<K>(part, at(k * at.split.folded + r));
      acc = expr::reduce_combine<K>(acc, part);
    }
    std::int64_t idx[kMaxRank];
    const std::int64_t j = at.split.index(k, 0, idx);
    out[offset_of(out_geo, idx, j)] = scale == T(1) ? acc : acc * scale;
  }
};

/// Pass 1 of a long fold: partial[k * chunks + c] = fold of chunk c (kChunk inputs) of output k.
template <ReduceKind K, class T, class Plan>
struct FoldChunk {
  static constexpr std::int64_t kChunk = 256;
  ValueAt<T, Plan> at;
  std::int64_t chunks;
  T* partial;
  SINTER_HD void operator()(std::int64_t i) const {
    const std::int64_t k = i / chunks, r0 = (i % chunks) * kChunk;
    const std::int64_t r1 = r0 + kChunk < at.split.folded ? r0 + kChunk : at.split.folded;
    T acc = reduce_identity<K, T>();
    for (std::int64_t r = r0; r < r1; ++r) acc = expr::reduce_combine<K>(acc, at(k * at.split.folded + r));
    partial[i] = acc;
  }
};

/// Pass 2: out[k] = fold of output k's partials.
template <ReduceKind K, class T>
struct FoldPartials {
  FoldSplit split;
  std::int64_t chunks;
  const T* partial;
  OperandGeometry out_geo;
  T* out;
  T scale;
  SINTER_HD void operator()(std::int64_t k) const {
    T acc = reduce_identity<K, T>();
    for (std::int64_t i = 0; i < chunks; ++i) acc = expr::reduce_combine<K>(acc, partial[k * chunks + i]);
    std::int64_t idx[kMaxRank];
    const std::int64_t j = split.index(k, 0, idx);
    out[offset_of(out_geo, idx, j)] = scale == T(1) ? acc : acc * scale;
  }
};

/// Scratch memory on the device for the length of one launch (empty until sized).
template <class T>
class Scratch {
 public:
  Scratch() = default;
  explicit Scratch(std::int64_t n) { resize(n); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    if (p_) scratch_release(p_, bytes_);
  }
  T* resize(std::int64_t n) {
    if (p_) scratch_release(p_, bytes_);
    bytes_ = static_cast<std::size_t>(n) * sizeof(T);
    p_ = static_cast<T*>(scratch_allocate(bytes_));
    return p_;
  }
  T* get() const { return p_; }

 private:
  std::size_t bytes_ = 0;
  T* p_ = nullptr;
};

template <ReduceKind K, class T, class Plan>
void reduce(Device dev, const IterationSpace& space, const Plan& plan, const OperandGeometry& out_geo, T* out,
            std::int64_t size, T scale) {
  require_supported(dev, "reduction");
  detail::count_kernel(dev);
  const FoldSplit split(space.shape, out_geo);
  SINTER_CHECK(split.kept == size, "reduction: internal error, ", split.kept, " outputs for a buffer of ", size);
  const ValueAt<T, Plan> at{plan, split};
  if (split.kept >= 8192 || split.folded <= 1024) {
    // Enough outputs to fill the device, or little work per output: one thread per output.
    for_each_index(split.kept, FoldPerOutput<K, T, Plan>{at, out_geo, out, scale});
  } else {
    // Few outputs with long folds: chunks in parallel, then their partials (the epilogue of the same pass, as
    // the CPU's per-thread partials are). Deterministic, and float sums stay accurate.
    constexpr std::int64_t kChunk = FoldChunk<K, T, Plan>::kChunk;
    const std::int64_t chunks = (split.folded + kChunk - 1) / kChunk;
    Scratch<T> partial(split.kept * chunks);
    for_each_index(split.kept * chunks, FoldChunk<K, T, Plan>{at, chunks, partial.get()});
    for_each_index(split.kept, FoldPartials<K, T>{split, chunks, partial.get(), out_geo, out, scale});
  }
  check_launch("reduction");
}

// ---- backward ---------------------------------------------------------------------------------------------------

template <class T, class Plan, class Seed>
struct BackwardKernel {
  static constexpr int L = Plan::kLeaves;
  Plan plan;
  Seed seed;
  Extents ext;
  int slot[L];
  GradDestination<T> dests[L];
  int nslots;
  SINTER_HD void operator()(std::int64_t i) const {
    std::int64_t idx[kMaxRank];
    const std::int64_t j = ext.unravel(i, idx);
    Plan p = plan;
    Seed s = seed;
    p.set_row(idx);
    s.set_row(idx);
    T grad[L];
    expr::sweep<T>(p, s, j, slot, nslots, grad);
    for (int k = 0; k < nslots; ++k) {
      const GradDestination<T>& d = dests[k];
      if (!d.data) continue;
      T* q = d.data + offset_of(d.geo, idx, j);
      if (d.folded) atomic_add(q, grad[k]);  // several elements share this gradient entry
      else *q = d.accumulate ? *q + grad[k] : grad[k];
    }
  }
};

template <class T, class Plan, class Seed>
void backward(Device dev, const IterationSpace& space, const Plan& plan, const Seed& seed,
              const std::vector<int>& slot_of_leaf, std::vector<GradDestination<T>>& dests) {
  constexpr int L = Plan::kLeaves;
  if constexpr (L > 0) {
    require_supported(dev, "backward");
    detail::count_kernel(dev);
    SINTER_CHECK(dests.size() <= static_cast<std::size_t>(L), "backward: internal error, more inputs than leaves");
    BackwardKernel<T, Plan, Seed> k{plan, seed, Extents(space.shape), {}, {}, static_cast<int>(dests.size())};
    for (int l = 0; l < L; ++l) k.slot[l] = slot_of_leaf[static_cast<std::size_t>(l)];
    for (std::size_t s = 0; s < dests.size(); ++s) {
      k.dests[s] = dests[s];
      // A folded gradient is summed with atomics, so it starts from zero (a memset of the input's size, part of
      // this pass as the CPU's combine epilogue is).
      if (dests[s].data && dests[s].folded && !dests[s].accumulate)
        zero(dests[s].data, static_cast<std::size_t>(dests[s].size) * sizeof(T));
    }
    for_each_index(space.numel(), k);
    check_launch("backward");
  }
}

// ---- strided copies, conversions and fills (the storage hooks) -----------------------------------------------

template <class D, class S>
struct CopyKernel {
  Extents ext;
  OperandGeometry gd, gs;
  D* dst;
  const S* src;
  bool add;
  SINTER_HD void operator()(std::int64_t i) const {
    std::int64_t idx[kMaxRank];
    const std::int64_t j = ext.unravel(i, idx);
    const D v = static_cast<D>(src[offset_of(gs, idx, j)]);
    D* d = dst + offset_of(gd, idx, j);
    *d = add ? static_cast<D>(*d + v) : v;
  }
};

template <class D>
struct FillKernel {
  Extents ext;
  OperandGeometry g;
  D* dst;
  D value;
  SINTER_HD void operator()(std::int64_t i) const {
    std::int64_t idx[kMaxRank];
    const std::int64_t j = ext.unravel(i, idx);
    dst[offset_of(g, idx, j)] = value;
  }
};

/// dst (+)= static_cast<D>(src) over a two-operand space (dst first); both on the device.
template <class D, class S>
void strided_copy(const IterationSpace& space, D* dst, const S* src, bool add) {
  for_each_index(space.numel(), CopyKernel<D, S>{Extents(space.shape), space.ops[0], space.ops[1], dst, src, add});
  check_launch("copy_");
}

template <class D>
void strided_fill(const IterationSpace& space, D* dst, D value) {
  for_each_index(space.numel(), FillKernel<D>{Extents(space.shape), space.ops[0], dst, value});
  check_launch("fill_");
}

// ---- hand-written kernels: a functor called once per index ----------------------------------------------------

template <class F>
void for_each(Device dev, std::int64_t n, const F& f, const char* op) {
  require_supported(dev, op);
  detail::count_kernel(dev);
  for_each_index(n, f);
  check_launch(op);
}

// ---- registration: each plan this file instantiates fills its slot at start-up -----------------------------

template <class T, class Plan>
struct RegisterForward {
  inline static const bool done = (detail::DeviceForward<T, Plan>::fn = &forward<T, Plan>, true);
};
template <ReduceKind K, class T, class Plan>
struct RegisterReduce {
  inline static const bool done = (detail::DeviceReduce<K, T, Plan>::fn = &reduce<K, T, Plan>, true);
};
template <class T, class Plan, class Seed>
struct RegisterBackward {
  inline static const bool done = (detail::DeviceBackward<T, Plan, Seed>::fn = &backward<T, Plan, Seed>, true);
};

template <class F>
struct RegisterForEach {
  inline static const bool done = (detail::DeviceForEach<F>::fn = &for_each<F>, true);
};

}  // namespace sinter::thrust_backend
