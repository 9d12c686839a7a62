// SPDX-License-Identifier: Apache-2.0
// Statements: where an expression meets memory. materialize() runs the fused forward kernel into a new tensor and
// records one tape node; that node's backward recomputes the expression and writes every input gradient in one
// kernel. The same machinery serves reductions, whose backward is the same sweep with a broadcast seed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <sinter/backend/dispatch.hpp>
#include <sinter/core/anomaly.hpp>
#include <sinter/core/factory.hpp>
#include <sinter/expr/functions.hpp>

namespace sinter::detail {

using LeafHandles = std::vector<const std::shared_ptr<TensorImpl>*>;

template <class E>
LeafHandles leaves_of(const E& e) {
  LeafHandles h;
  e.collect(h);
  return h;
}

/// The one device every operand of a statement lives on; mixing devices is an error that names both.
inline Device statement_device(const LeafHandles& leaves, const char* op) {
  SINTER_CHECK(!leaves.empty(), op, ": a statement needs at least one tensor operand");
  const Device d = (*leaves[0])->device();
  for (auto* h : leaves)
    SINTER_CHECK((*h)->device() == d, op, ": expected all tensors to be on the same device, but found at least two "
                                         "devices, ", d, " and ", (*h)->device(), "; move one with .to(device)");
  return d;
}

/// In anomaly mode, throws if a statement's result holds a NaN or inf that its operands did not.
[[gnu::noinline, gnu::cold]] inline void scan_statement(const TensorImpl& out, const LeafHandles& leaves, const char* op,
                                                        const SourceLocation& location) {
  std::vector<const TensorImpl*> in;
  for (auto* h : leaves) in.push_back(h->get());
  check_forward_anomaly(out, in, op, location);
}
inline void check_statement_anomaly(const TensorImpl& out, const LeafHandles& leaves, const char* op,
                                    const SourceLocation& location) {
  if (is_anomaly_enabled()) [[unlikely]] scan_statement(out, leaves, op, location);  // off: one thread-local read
}

inline bool any_needs_grad(const LeafHandles& leaves) {
  if (!is_grad_enabled()) return false;
  for (auto* h : leaves)
    if ((*h)->needs_grad()) return true;
  return false;
}

/// Inputs of a node: the leaves' tensors, each once, in first-use order (the order PlanBuilder gives slots).
inline std::vector<std::shared_ptr<TensorImpl>> unique_inputs(const LeafHandles& leaves) {
  std::vector<std::shared_ptr<TensorImpl>> in;
  for (auto* h : leaves) {
    bool seen = false;
    for (auto& x : in) seen = seen || x.get() == h->get();
    if (!seen) in.push_back(*h);
  }
  return in;
}

/// The iteration space of a statement over `shape`: every leaf's strides broadcast to it, then `extra` operands
/// (a destination, seeds, gradient buffers) as (shape, strides) pairs. Out of line and per statement kind, not per
/// expression: what depends on the expression's type is only its plan and its kernel (compile time). coalesce =
/// false keeps the dims as they are (a GEMM epilogue addresses rows and columns).
[[gnu::noinline]] inline expr::IterationSpace statement_space(const LeafHandles& leaves, const Shape& shape,
                                                              const std::vector<std::pair<const Shape*, Shape>>& extra,
                                                              bool coalesce = true) {
  std::vector<Shape> st;
  st.reserve(leaves.size() + extra.size());
  for (auto* h : leaves) st.push_back(broadcast_strides((*h)->shape, (*h)->strides, shape));
  for (const auto& [s, strides] : extra) st.push_back(broadcast_strides(*s, strides, shape));
  return expr::IterationSpace(shape, st, coalesce);
}

/// True when leaf l may be read while dst is written in the same pass: it is not dst's memory, or it reads dst's
/// elements one for one (same offset, same strides once broadcast to dst's shape).
inline bool reads_in_step(const TensorImpl& l, const TensorImpl& dst) {
  return l.storage != dst.storage || (l.offset == dst.offset && broadcast_strides(l.shape, l.strides, dst.shape) ==
                                                                    broadcast_strides(dst.shape, dst.strides, dst.shape));
}

/// dst (+)= e, dst already of e's broadcast shape, on dst's device.
template <class T, class E>
void run_forward(const E& e, const LeafHandles& leaves, const TensorImpl& dst, bool add) {
  const expr::IterationSpace space = statement_space(leaves, dst.shape, {{&dst.shape, dst.strides}});
  expr::PlanBuilder b(space);
  const auto plan = e.plan(b);
  launch_forward<T>(dst.device(), space, plan, b.extra(0), static_cast<T*>(dst.data()), add);
}

/// What a fused backward needs besides the expression's plan: its space (leaves, then seed operands, then one
/// contiguous gradient buffer per input), the seed operands as leaf plans and one destination per input.
template <class T>
struct BackwardFrame {
  expr::IterationSpace space;
  std::vector<expr::LeafPlan<T>> seeds;
  std::vector<expr::GradDestination<T>> dests;
};

template <class T>
[[gnu::noinline]] BackwardFrame<T> backward_frame(const LeafHandles& leaves, const Shape& shape,
                                                  const std::vector<const TensorImpl*>& seed_operands,
                                                  const std::vector<std::shared_ptr<TensorImpl>>& inputs,
                                                  std::vector<GradTarget>& targets) {
  std::vector<std::pair<const Shape*, Shape>> extra;
  for (auto* s : seed_operands) extra.emplace_back(&s->shape, s->strides);
  for (const auto& in : inputs) extra.emplace_back(&in->shape, contiguous_strides(in->shape));
  BackwardFrame<T> f{statement_space(leaves, shape, extra), {}, {}};
  const std::size_t first = leaves.size();
  for (std::size_t k = 0; k < seed_operands.size(); ++k) {
    const T* p = static_cast<const T*>(seed_operands[k]->data());
    f.seeds.push_back(expr::LeafPlan<T>{p, p, f.space.ops[first + k]});
  }
  f.dests.resize(inputs.size());
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    auto& t = targets[k];
    if (!t.buffer) continue;
    auto& d = f.dests[k];
    d.data = static_cast<T*>(t.buffer->data());
    d.geo = f.space.ops[first + seed_operands.size() + k];
    d.size = t.buffer->numel();
    d.accumulate = t.accumulate;
    d.folded = numel_of(inputs[k]->shape) != numel_of(shape);
    t.buffer->storage->bump_version();
  }
  return f;
}

/// Runs the fused backward of `e` over `shape`: seed operands come after the leaves, then one destination per input.
template <class T, class E, class MakeSeed>
void run_fused_backward(const E& e, const Shape& shape, const std::vector<const TensorImpl*>& seed_operands,
                        MakeSeed make_seed, const std::vector<std::shared_ptr<TensorImpl>>& inputs,
                        std::vector<GradTarget>& targets) {
  const auto leaves = leaves_of(e);
  auto f = backward_frame<T>(leaves, shape, seed_operands, inputs, targets);
  expr::PlanBuilder b(f.space);
  const auto plan = e.plan(b);
  launch_backward<T>((*leaves[0])->device(), f.space, plan, make_seed(f.seeds), b.slot_of_leaf(), f.dests);
}

/// The root op's name, for messages: "mul" for `a * x`, "copy" for a bare tensor.
template <class E>
const char* op_name() {
  if constexpr (requires(const E& x) { x.op(); }) return std::remove_cvref_t<decltype(std::declval<const E&>().op())>::name;
  else return "copy";
}

/// "LeakyReluBackward" for an expression whose root op is leaky_relu; computed once per expression type.
template <class E>
const char* backward_name() {
  static const std::string name = [] {
    const std::string n = op_name<E>();
    std::string out;
    bool up = true;  // "leaky_relu" -> "LeakyRelu", as PyTorch names its nodes
    for (char c : n) {
      if (c == '_') up = true;
      else out += up ? static_cast<char>(c - 'a' + 'A') : c, up = false;
    }
    return out + "Backward";
  }();
  return name.c_str();
}

/// The tape node of an element-wise statement: keeps the expression (its tensors by handle) and replays it.
template <class T, class E>
class ExprBackward final : public Node {
 public:
  explicit ExprBackward(const E& e) : expr_(e) {}
  const char* name() const noexcept override { return backward_name<E>(); }
  void apply(const TensorImpl& grad_out, std::vector<GradTarget>& targets) override {
    run_fused_backward<T>(
        *expr_, expr_->shape(), {&grad_out},
        [](const std::vector<expr::LeafPlan<T>>& s) { return expr::GradSeed<T>{s[0], T(1)}; }, inputs, targets);
  }
  void release_saved() override { expr_.reset(); }

 private:
  std::optional<E> expr_;
};

/// Makes `node` the grad_fn of a statement's result, with the statement's inputs and source line.
[[gnu::noinline]] inline void attach_node(TensorImpl& out, std::shared_ptr<Node> node, const LeafHandles& leaves,
                                          const SourceLocation& location) {
  node->inputs = unique_inputs(leaves);
  node->location = location;
  out.grad_fn = std::move(node);
}

template <class T, class E>
std::shared_ptr<TensorImpl> materialize(const E& e, const SourceLocation& location) {
  const auto leaves = leaves_of(e);
  auto out = TensorImpl::empty(e.shape(), dtype_of<T>(), statement_device(leaves, "expression"));
  run_forward<T>(e, leaves, *out, false);
  check_statement_anomaly(*out, leaves, op_name<E>(), location);
  if (any_needs_grad(leaves)) attach_node(*out, std::make_shared<ExprBackward<T, E>>(e), leaves, location);
  return out;
}

template <class T, class E>
void assign_into(const TensorImpl& dst, const E& e, bool add, const SourceLocation& location) {
  const auto leaves = leaves_of(e);
  const Device dev = statement_device(leaves, "copy_");
  SINTER_CHECK(dev == dst.device(), "copy_: the destination is on ", dst.device(), " but the expression is on ", dev,
               "; move one with .to(device)");
  const Shape b = broadcast_shapes(dst.shape, e.shape(), "copy_");
  SINTER_CHECK(b == dst.shape, "copy_: an expression of shape ", e.shape(), " cannot be written into a tensor of shape ",
               dst.shape);
  SINTER_CHECK(!(is_grad_enabled() && (dst.needs_grad() || any_needs_grad(leaves))),
               "in-place write into a tensor while gradients are recorded; wrap it in sinter::NoGradGuard (as "
               "optimisers do) or write out of place, y = expression");
  // Reading memory that is being written is safe only element for element: same offset, same strides.
  bool overlap = false;
  for (auto* h : leaves) overlap = overlap || !reads_in_step(**h, dst);
  if (overlap) {
    auto tmp = TensorImpl::empty(dst.shape, dst.dtype, dev);
    run_forward<T>(e, leaves, *tmp, false);
    copy_into(dst, *tmp, add);
  } else {
    run_forward<T>(e, leaves, dst, add);
  }
  check_statement_anomaly(dst, leaves, op_name<E>(), location);
  dst.storage->bump_version();
}

}  // namespace sinter::detail

namespace sinter {

/// Materialises an expression (or returns the tensor itself): `auto t = sinter::eval(a * x + b);`.
template <expr::NodeLike X>
auto eval(const X& x, const SourceLocation& location = SourceLocation::current()) {
  if constexpr (expr::is_tensor<X>::value) return x;
  else return TensorOf<typename X::value_type>(x, location);
}

// In-place arithmetic, as PyTorch's x += y: one kernel into x's memory; only outside recorded graphs.
#define SINTER_COMPOUND_ASSIGN(sym, op)                          \
  template <class T, expr::Operand E>                            \
  TensorOf<T>& operator sym(TensorOf<T>& x, const E& e) {        \
    return x.copy_(x op e, SourceLocation());             \
  }
SINTER_COMPOUND_ASSIGN(+=, +)
SINTER_COMPOUND_ASSIGN(-=, -)
SINTER_COMPOUND_ASSIGN(*=, *)
SINTER_COMPOUND_ASSIGN(/=, /)
#undef SINTER_COMPOUND_ASSIGN

}  // namespace sinter
