// SPDX-License-Identifier: Apache-2.0
// Expression nodes: host-side trees that hold their operands (tensors by shared handle, never by reference, so
// `auto e = a * x + b;` cannot dangle) and know their broadcast shape. Kernels never see nodes, only plans.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include <sinter/core/tensor.hpp>
#include <sinter/expr/plan.hpp>

namespace sinter::expr {

/// Turns nodes into plans over one iteration space; remembers which input each leaf reads (inputs deduplicated).
class PlanBuilder {
 public:
  explicit PlanBuilder(const IterationSpace& space) : space_(space) {}

  template <class T>
  LeafPlan<T> leaf(const TensorImpl& t) {
    const auto& g = space_.ops[static_cast<std::size_t>(next_++)];
    const T* p = static_cast<const T*>(t.data());
    int slot = 0;
    while (slot < static_cast<int>(inputs_.size()) && inputs_[static_cast<std::size_t>(slot)] != &t) ++slot;
    if (slot == static_cast<int>(inputs_.size())) inputs_.push_back(&t);
    slot_of_leaf_.push_back(slot);
    return LeafPlan<T>{p, p, g};
  }
  /// Operand geometry after the expression's leaves (destination, seed, targets), in the order they were given.
  const OperandGeometry& extra(int k) const { return space_.ops[static_cast<std::size_t>(next_ + k)]; }
  const std::vector<const TensorImpl*>& inputs() const { return inputs_; }
  const std::vector<int>& slot_of_leaf() const { return slot_of_leaf_; }

 private:
  const IterationSpace& space_;
  int next_ = 0;
  std::vector<const TensorImpl*> inputs_;
  std::vector<int> slot_of_leaf_;
};

/// A leaf's share of its tensor. Copying or dropping it is a call rather than inline reference counting: a tree is
/// copied into its tape node and destroyed in several places, and inlined atomics at each leaf grew every
/// statement's code (compile time), while a call per leaf per statement costs nothing measurable.
class TensorShare {
 public:
  explicit TensorShare(std::shared_ptr<TensorImpl> p) : p_(std::move(p)) {
    detail::require_defined(p_.get(), "expression");
  }
  [[gnu::noinline]] TensorShare(const TensorShare& o) noexcept : p_(o.p_) {}
  TensorShare(TensorShare&& o) noexcept = default;
  TensorShare& operator=(const TensorShare&) = delete;
  TensorShare& operator=(TensorShare&&) = delete;
  [[gnu::noinline]] ~TensorShare() {}
  const std::shared_ptr<TensorImpl>& handle() const noexcept { return p_; }

 private:
  std::shared_ptr<TensorImpl> p_;
};

/// A tensor inside an expression.
template <class T>
class Leaf : public expression_tag {
 public:
  using value_type = T;
  explicit Leaf(const TensorOf<T>& t) : t_(t.impl()) {}
  const Shape& shape() const { return t_.handle()->shape; }
  void collect(std::vector<const std::shared_ptr<TensorImpl>*>& out) const { out.push_back(&t_.handle()); }
  LeafPlan<T> plan(PlanBuilder& b) const { return b.leaf<T>(*t_.handle()); }

 private:
  TensorShare t_;
};

/// The broadcast shape of an op's operands (out of line: one copy for every Map type).
[[gnu::noinline]] inline Shape broadcast_operands(const char* op, std::initializer_list<const Shape*> shapes) {
  Shape out;
  for (const Shape* s : shapes) out = broadcast_shapes(out, *s, op);
  return out;
}

/// A number inside an expression; takes the element type of the tensors around it.
template <class T>
class Scalar : public expression_tag {
 public:
  using value_type = T;
  explicit Scalar(T v) : v_(v) {}
  const Shape& shape() const {
    static const Shape none;
    return none;
  }
  void collect(std::vector<const std::shared_ptr<TensorImpl>*>&) const {}
  ScalarPlan<T> plan(PlanBuilder&) const { return ScalarPlan<T>{v_}; }

 private:
  T v_;
};

/// An element-wise op applied to 1 to 3 operand nodes, with NumPy broadcasting. One specialisation per arity with
/// named members, not a std::tuple walked by std::apply: every node type of every expression instantiates this
/// class, and the tuple's and apply's machinery was a third of a 20-expression file's functions (compile time).
template <class Op, class... Args>
class Map : public expression_tag {
  static_assert(sizeof...(Args) >= 1 && sizeof...(Args) <= 3, "sinter: element-wise ops take 1 to 3 operands");
};

template <class Op, class A>
class Map<Op, A> : public expression_tag {
 public:
  using value_type = typename A::value_type;
  explicit Map(Op op, A a) : op_(op), a_(std::move(a)), shape_(broadcast_operands(Op::name, {&a_.shape()})) {}
  const Shape& shape() const { return shape_; }
  void collect(std::vector<const std::shared_ptr<TensorImpl>*>& out) const { a_.collect(out); }
  /// Braced initialisation evaluates the operands' plans left to right, the order PlanBuilder numbers leaves in.
  auto plan(PlanBuilder& b) const { return MapPlan<Op, decltype(a_.plan(b))>{op_, a_.plan(b)}; }
  const Op& op() const { return op_; }

 private:
  Op op_;
  A a_;
  Shape shape_;
};

template <class Op, class A, class B>
class Map<Op, A, B> : public expression_tag {
 public:
  using value_type = typename A::value_type;
  Map(Op op, A a, B b)
      : op_(op), a_(std::move(a)), b_(std::move(b)), shape_(broadcast_operands(Op::name, {&a_.shape(), &b_.shape()})) {}
  const Shape& shape() const { return shape_; }
  void collect(std::vector<const std::shared_ptr<TensorImpl>*>& out) const {
    a_.collect(out);
    b_.collect(out);
  }
  auto plan(PlanBuilder& b) const {
    return MapPlan<Op, decltype(a_.plan(b)), decltype(b_.plan(b))>{op_, a_.plan(b), b_.plan(b)};
  }
  const Op& op() const { return op_; }

 private:
  Op op_;
  A a_;
  B b_;
  Shape shape_;
};

template <class Op, class A, class B, class C>
class Map<Op, A, B, C> : public expression_tag {
 public:
  using value_type = typename A::value_type;
  Map(Op op, A a, B b, C c)
      : op_(op), a_(std::move(a)), b_(std::move(b)), c_(std::move(c)),
        shape_(broadcast_operands(Op::name, {&a_.shape(), &b_.shape(), &c_.shape()})) {}
  const Shape& shape() const { return shape_; }
  void collect(std::vector<const std::shared_ptr<TensorImpl>*>& out) const {
    a_.collect(out);
    b_.collect(out);
    c_.collect(out);
  }
  auto plan(PlanBuilder& b) const {
    return MapPlan<Op, decltype(a_.plan(b)), decltype(b_.plan(b)), decltype(c_.plan(b))>{op_, a_.plan(b), b_.plan(b),
                                                                                        c_.plan(b)};
  }
  const Op& op() const { return op_; }

 private:
  Op op_;
  A a_;
  B b_;
  C c_;
  Shape shape_;
};

template <class E>
using plan_t = decltype(std::declval<const E&>().plan(std::declval<PlanBuilder&>()));

}  // namespace sinter::expr
