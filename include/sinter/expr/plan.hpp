// SPDX-License-Identifier: Apache-2.0
// Plans: the trivially copyable, backend-neutral kernel view of an expression. A CPU loop, a Thrust functor or a
// CUDA kernel holds a plan by value, points it at a row (set_row), and evaluates lanes of that row (value / fwd),
// or recomputes the forward values into a register cache and sweeps adjoints back to the leaves (bwd).
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include <sinter/config.hpp>
#include <sinter/core/shape.hpp>
#include <sinter/core/strided.hpp>
#include <sinter/expr/ops.hpp>

namespace sinter::expr {

using sinter::IterationSpace;
using sinter::OperandGeometry;

/// Reads V-wide lanes from a row with a given element stride. Scalars read one element; backend/cpu/simd.hpp
/// specialises it for xsimd batches (contiguous, broadcast and gathered rows).
template <class V>
struct Lanes {
  static constexpr int width = 1;
  template <class T>
  SINTER_HD static V load(const T* row, std::int64_t j, std::int64_t stride) {
    return static_cast<V>(row[j * stride]);
  }
  template <class T>
  SINTER_HD static void store(T* row, std::int64_t j, std::int64_t stride, V v) {
    row[j * stride] = v;
  }
};

/// A tensor operand.
template <class T>
struct LeafPlan {
  static constexpr int kLeaves = 1;
  const T* base;
  const T* row;
  OperandGeometry geo;

  SINTER_HD void set_row(const std::int64_t* idx) {
#if defined(__CUDA_ARCH__)
    row = base + geo.row_offset(idx);
#else
    row = base + geo.row_offset_call(idx);
#endif
  }
  /// Points this leaf at a copy of lanes [j, j + n) of its row, read from lane 0 (see Tail and PackedOperands in
  /// backend/cpu).
  template <class Tail>
  void stage(Tail& tail, std::int64_t j, int n) {
    row = tail.stage(row, geo, j, n);
    geo.inner = 1;
  }
  template <class V>
  SINTER_HD V value(std::int64_t j) const {
    return Lanes<V>::load(row, j, geo.inner);
  }
  template <class V>
  struct Cache {
    V v;
  };
  template <class V>
  SINTER_HD V fwd(Cache<V>& c, std::int64_t j) const {
    return c.v = value<V>(j);
  }
  template <int Base, class V>
  SINTER_HD void bwd(const Cache<V>&, V g, V* adj) const {
    adj[Base] = g;
  }
  template <class V>
  SINTER_HD V value_of(const Cache<V>& c) const {
    return c.v;
  }
};

/// A scalar operand (no gradient).
template <class T>
struct ScalarPlan {
  static constexpr int kLeaves = 0;
  T v;
  SINTER_HD void set_row(const std::int64_t*) {}
  template <class Tail>
  void stage(Tail&, std::int64_t, int) {}
  template <class V>
  SINTER_HD V value(std::int64_t) const {
    return V(v);
  }
  template <class V>
  struct Cache {};
  template <class V>
  SINTER_HD V fwd(Cache<V>&, std::int64_t) const {
    return V(v);
  }
  template <int Base, class V>
  SINTER_HD void bwd(const Cache<V>&, V, V*) const {}
  template <class V>
  SINTER_HD V value_of(const Cache<V>&) const {
    return V(v);
  }
};

template <class Op, class... P>
struct MapPlan;

template <class Op, class A>
struct MapPlan<Op, A> {
  static constexpr int kLeaves = A::kLeaves;
  Op op;
  A a;
  SINTER_HD void set_row(const std::int64_t* idx) { a.set_row(idx); }
  template <class Tail>
  void stage(Tail& t, std::int64_t j, int n) {
    a.stage(t, j, n);
  }
  template <class V>
  SINTER_HD V value(std::int64_t j) const {
    return op(a.template value<V>(j));
  }
  template <class V>
  struct Cache {
    V v;
    typename A::template Cache<V> ca;
  };
  template <class V>
  SINTER_HD V fwd(Cache<V>& c, std::int64_t j) const {
    return c.v = op(a.fwd(c.ca, j));
  }
  template <int Base, class V>
  SINTER_HD void bwd(const Cache<V>& c, V g, V* adj) const {
    if constexpr (kLeaves > 0) {
      const auto d = op.grad(g, c.v, a.template value_of<V>(c.ca));
      a.template bwd<Base>(c.ca, d.d[0], adj);
    }
  }
  template <class V>
  SINTER_HD V value_of(const Cache<V>& c) const {
    return c.v;
  }
};

template <class Op, class A, class B>
struct MapPlan<Op, A, B> {
  static constexpr int kLeaves = A::kLeaves + B::kLeaves;
  Op op;
  A a;
  B b;
  SINTER_HD void set_row(const std::int64_t* idx) {
    a.set_row(idx);
    b.set_row(idx);
  }
  template <class Tail>
  void stage(Tail& t, std::int64_t j, int n) {
    a.stage(t, j, n);
    b.stage(t, j, n);
  }
  template <class V>
  SINTER_HD V value(std::int64_t j) const {
    return op(a.template value<V>(j), b.template value<V>(j));
  }
  template <class V>
  struct Cache {
    V v;
    typename A::template Cache<V> ca;
    typename B::template Cache<V> cb;
  };
  template <class V>
  SINTER_HD V fwd(Cache<V>& c, std::int64_t j) const {
    const V x = a.fwd(c.ca, j);
    const V y = b.fwd(c.cb, j);
    return c.v = op(x, y);
  }
  template <int Base, class V>
  SINTER_HD void bwd(const Cache<V>& c, V g, V* adj) const {
    if constexpr (kLeaves > 0) {
      const auto d = op.grad(g, c.v, a.template value_of<V>(c.ca), b.template value_of<V>(c.cb));
      a.template bwd<Base>(c.ca, d.d[0], adj);
      b.template bwd<Base + A::kLeaves>(c.cb, d.d[1], adj);
    }
  }
  template <class V>
  SINTER_HD V value_of(const Cache<V>& c) const {
    return c.v;
  }
};

template <class Op, class A, class B, class C>
struct MapPlan<Op, A, B, C> {
  static constexpr int kLeaves = A::kLeaves + B::kLeaves + C::kLeaves;
  Op op;
  A a;
  B b;
  C c3;
  SINTER_HD void set_row(const std::int64_t* idx) {
    a.set_row(idx);
    b.set_row(idx);
    c3.set_row(idx);
  }
  template <class Tail>
  void stage(Tail& t, std::int64_t j, int n) {
    a.stage(t, j, n);
    b.stage(t, j, n);
    c3.stage(t, j, n);
  }
  template <class V>
  SINTER_HD V value(std::int64_t j) const {
    return op(a.template value<V>(j), b.template value<V>(j), c3.template value<V>(j));
  }
  template <class V>
  struct Cache {
    V v;
    typename A::template Cache<V> ca;
    typename B::template Cache<V> cb;
    typename C::template Cache<V> cc;
  };
  template <class V>
  SINTER_HD V fwd(Cache<V>& c, std::int64_t j) const {
    const V x = a.fwd(c.ca, j);
    const V y = b.fwd(c.cb, j);
    const V z = c3.fwd(c.cc, j);
    return c.v = op(x, y, z);
  }
  template <int Base, class V>
  SINTER_HD void bwd(const Cache<V>& c, V g, V* adj) const {
    if constexpr (kLeaves > 0) {
      const auto d =
          op.grad(g, c.v, a.template value_of<V>(c.ca), b.template value_of<V>(c.cb), c3.template value_of<V>(c.cc));
      a.template bwd<Base>(c.ca, d.d[0], adj);
      b.template bwd<Base + A::kLeaves>(c.cb, d.d[1], adj);
      c3.template bwd<Base + A::kLeaves + B::kLeaves>(c.cc, d.d[2], adj);
    }
  }
  template <class V>
  SINTER_HD V value_of(const Cache<V>& c) const {
    return c.v;
  }
};

}  // namespace sinter::expr

namespace sinter::expr {

/// The adjoint that enters a statement's root, per element: the incoming gradient (broadcast from a reduced
/// shape for reductions) times a scale (1/n for mean).
template <class T>
struct GradSeed {
  static constexpr int kOperands = 1;  // tensors it reads
  LeafPlan<T> g;
  T scale;
  SINTER_HD void set_row(const std::int64_t* idx) { g.set_row(idx); }
  template <class Tail>
  void stage(Tail& t, std::int64_t j, int n) {
    g.stage(t, j, n);
  }
  template <class V>
  SINTER_HD V value(std::int64_t j, V /*root value*/) const {
    return g.template value<V>(j) * V(scale);
  }
};

/// logsumexp's root adjoint: g * exp(y - lse), with y the recomputed root value.
template <class T>
struct LogSumExpSeed {
  static constexpr int kOperands = 2;  // tensors it reads
  LeafPlan<T> g, lse;
  SINTER_HD void set_row(const std::int64_t* idx) {
    g.set_row(idx);
    lse.set_row(idx);
  }
  template <class Tail>
  void stage(Tail& t, std::int64_t j, int n) {
    g.stage(t, j, n);
    lse.stage(t, j, n);
  }
  template <class V>
  SINTER_HD V value(std::int64_t j, V y) const {
    return g.template value<V>(j) * Math<V>::exp(y - lse.template value<V>(j));
  }
};

/// amax/amin's root adjoint: g / count where y equals the extreme, 0 elsewhere (ties share, as in PyTorch).
template <class T>
struct ExtremeSeed {
  static constexpr int kOperands = 3;  // tensors it reads
  LeafPlan<T> g, m, count;
  SINTER_HD void set_row(const std::int64_t* idx) {
    g.set_row(idx);
    m.set_row(idx);
    count.set_row(idx);
  }
  template <class Tail>
  void stage(Tail& t, std::int64_t j, int n) {
    g.stage(t, j, n);
    m.stage(t, j, n);
    count.stage(t, j, n);
  }
  template <class V>
  SINTER_HD V value(std::int64_t j, V y) const {
    using M = Math<V>;
    return M::select(M::equal(y, m.template value<V>(j)), g.template value<V>(j) / count.template value<V>(j), V(0.0));
  }
};

/// The per-element reverse sweep of a fused backward: recompute the statement in registers, seed its root and sweep
/// adjoints to the leaves, so adj[l] is leaf l's contribution. U is T or a SIMD batch of T; plan and seed already
/// point at the element's row.
template <class U, class Plan, class Seed>
SINTER_HD SINTER_ALWAYS_INLINE void adjoints(const Plan& plan, const Seed& seed, std::int64_t j, U* adj) {
  typename Plan::template Cache<U> cache;
  const U y = plan.fwd(cache, j);
  plan.template bwd<0>(cache, seed.template value<U>(j, y), adj);
}

/// adjoints(), then those of leaves that read the same input summed, so grad[s] is input s's contribution.
template <class T, class U, class Plan, class Seed>
SINTER_HD SINTER_ALWAYS_INLINE void sweep(const Plan& plan, const Seed& seed, std::int64_t j, const int* slot_of_leaf,
                                          int nslots, U* grad) {
  U adj[Plan::kLeaves];
  adjoints(plan, seed, j, adj);
  for (int s = 0; s < nslots; ++s) grad[s] = U(T(0));
  for (int l = 0; l < Plan::kLeaves; ++l) grad[slot_of_leaf[l]] += adj[l];
}

/// One gradient destination of a backward pass: a buffer with the input's shape, seen through the iteration space.
template <class T>
struct GradDestination {
  T* data = nullptr;         // null: this input needs no gradient
  OperandGeometry geo;       // zero strides where the input was broadcast
  std::int64_t size = 0;     // elements of the buffer
  bool accumulate = false;   // add to the buffer rather than overwrite it
  bool folded = false;       // broadcast over some dim: contributions are summed
};

/// How a reduction combines values.
enum class ReduceKind { Sum, Max, Min };

/// The value a reduction starts from: 0, -inf or +inf.
template <ReduceKind K, class T>
SINTER_HD constexpr T reduce_identity() {
  if constexpr (K == ReduceKind::Sum) return T(0);
  else if constexpr (K == ReduceKind::Max) return -std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::infinity();
}

/// Combines two partial results of a reduction; V is a scalar or a SIMD batch. max and min propagate NaN.
template <ReduceKind K, class V>
SINTER_HD SINTER_ALWAYS_INLINE V reduce_combine(V a, V b) {
  if constexpr (K == ReduceKind::Sum) return a + b;
  else if constexpr (K == ReduceKind::Max) return Math<V>::max(a, b);
  else return Math<V>::min(a, b);
}

}  // namespace sinter::expr
