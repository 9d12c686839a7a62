// SPDX-License-Identifier: Apache-2.0
// Expression nodes: host-side trees that hold their operands (tensors by shared handle, never by reference, so
// `auto e = a * x + b;` cannot dangle) and know their broadcast shape. Kernels never see nodes, only plans.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <tuple>
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

/// An element-wise op applied to 1 to 3 operand nodes, with NumPy broadcasting.
template <class Op, class... Args>
class Map : public expression_tag {
  static_assert(sizeof...(Args) >= 1 && sizeof...(Args) <= 3, "sinter: element-wise ops take 1 to 3 operands");

 public:
  using value_type = typename std::tuple_element_t<0, std::tuple<Args...>>::value_type;
  explicit Map(Op op, Args... args)
      : op_(op), args_(std::move(args)...),
        shape_(std::apply([](const auto&... a) { return broadcast_operands(Op::name, {&a.shape()...}); }, args_)) {}
  const Shape& shape() const { return shape_; }
  void collect(std::vector<const std::shared_ptr<TensorImpl>*>& out) const {
    std::apply([&](const auto&... a) { (a.collect(out), ...); }, args_);
  }
  auto plan(PlanBuilder& b) const {
    return std::apply([&](const auto&... a) { return MapPlan<Op, decltype(a.plan(b))...>{op_, a.plan(b)...}; }, args_);
  }
  const Op& op() const { return op_; }

 private:
  Op op_;
  std::tuple<Args...> args_;
  Shape shape_;
};

template <class E>
using plan_t = decltype(std::declval<const E&>().plan(std::declval<PlanBuilder&>()));

}  // namespace sinter::expr
