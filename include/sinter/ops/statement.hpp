// SPDX-License-Identifier: Apache-2.0
// Statements: where an expression meets memory. materialize() runs the fused forward kernel into a new tensor and
// records one tape node; that node's backward recomputes the expression and writes every input gradient in one
// kernel. The same machinery serves reductions, whose backward is the same sweep with a broadcast seed.
#pragma once

#include <array>
#include <memory>
#include <optional>
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
Device statement_device(const LeafHandles& leaves, const char* op);

/// In anomaly mode, throws if a statement's result holds a NaN or inf that its operands did not.
void scan_statement(const TensorImpl& out, const LeafHandles& leaves, const char* op,
                    const SourceLocation& location);
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
std::vector<std::shared_ptr<TensorImpl>> unique_inputs(const LeafHandles& leaves);

/// The iteration space of a statement over `shape`: every leaf's strides broadcast to it, then `extra` operands
/// (a destination, seeds, gradient buffers) as (shape, strides) pairs. Out of line and per statement kind, not per
/// expression: what depends on the expression's type is only its plan and its kernel (compile time). coalesce =
/// false keeps the dims as they are (a GEMM epilogue addresses rows and columns).
expr::IterationSpace statement_space(const LeafHandles& leaves, const Shape& shape,
                                     const std::vector<std::pair<const Shape*, Shape>>& extra, bool coalesce = true);

/// The space of a statement over `shape` with one more operand (its destination): what every forward and
/// reduction asks for, out of line so that the list is not built in each expression's code.
expr::IterationSpace statement_space(const LeafHandles& leaves, const Shape& shape, const Shape& dst_shape,
                                     const Shape& dst_strides, bool coalesce = true);

/// True when leaf l may be read while dst is written in the same pass: it is not dst's memory, or it reads dst's
/// elements one for one (same offset, same strides once broadcast to dst's shape).
inline bool reads_in_step(const TensorImpl& l, const TensorImpl& dst) {
  return l.storage != dst.storage || (l.offset == dst.offset && broadcast_strides(l.shape, l.strides, dst.shape) ==
                                                                    broadcast_strides(dst.shape, dst.strides, dst.shape));
}

/// dst (+)= e, dst already of e's broadcast shape, on dst's device.
template <class T, class E>
void run_forward(const E& e, const LeafHandles& leaves, const TensorImpl& dst, bool add) {
  const expr::IterationSpace space = statement_space(leaves, dst.shape, dst.shape, dst.strides);
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
#define SINTER_STATEMENT_INSTANCES(X, T)                                                                             \
  X(BackwardFrame<T> backward_frame<T>(const LeafHandles&, const Shape&, const std::vector<const TensorImpl*>&,      \
                                       const std::vector<std::shared_ptr<TensorImpl>>&, std::vector<GradTarget>&))
SINTER_STATEMENT_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_STATEMENT_INSTANCES(SINTER_EXTERN_TEMPLATE, double)

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
constexpr const char* op_name() {
  if constexpr (requires(const E& x) { x.op(); }) return std::remove_cvref_t<decltype(std::declval<const E&>().op())>::name;
  else return "copy";
}

/// "LeakyReluBackward" for an expression whose root op is leaky_relu, as PyTorch names its nodes. Computed by the
/// compiler: a constant per expression type, no code.
template <class E>
inline constexpr auto kBackwardName = [] {
  std::array<char, 64> out{};
  std::size_t k = 0;
  bool up = true;
  for (const char* c = op_name<E>(); *c; ++c) {
    if (*c == '_') up = true;
    else out[k++] = up && *c >= 'a' && *c <= 'z' ? static_cast<char>(*c - 'a' + 'A') : *c, up = false;
  }
  for (const char* c = "Backward"; *c; ++c) out[k++] = *c;
  return out;
}();

/// The tape node of a fused statement, element-wise or a reduction of one: it keeps the expression (its tensors by
/// handle) and replays the expression's fused backward. The expression's type is erased: a copy lives on the heap
/// with the one function that needs its type (replay), so every statement shares this class, its vtable and its
/// shared_ptr control block, and a program instantiates per expression only its plan, kernels and replay (compile
/// time: the per-type node was a fifth of an expression's code).
class StatementNode final : public Node {
 public:
  using Replay = void (*)(const void* kept, const std::vector<const TensorImpl*>& seeds,
                          const std::vector<std::shared_ptr<TensorImpl>>& inputs, std::vector<GradTarget>& targets);
  using Kept = std::unique_ptr<void, void (*)(void*)>;

  StatementNode(const char* name, Kept kept, Replay replay, std::optional<Shape> seed_shape = std::nullopt,
                std::vector<std::shared_ptr<TensorImpl>> saved = {})
      : name_(name), kept_(std::move(kept)), replay_(replay), seed_shape_(std::move(seed_shape)),
        saved_(std::move(saved)) {}
  const char* name() const noexcept override { return name_; }
  /// The seed operands: the incoming gradient (viewed with keepdim's shape for a reduction, so it broadcasts over
  /// the reduced dims), then the tensors the reduction saved.
  void apply(const TensorImpl& grad_out, std::vector<GradTarget>& targets) override;
  void release_saved() override {
    kept_.reset();
    saved_.clear();
  }

 private:
  const char* name_;
  Kept kept_;
  Replay replay_;
  std::optional<Shape> seed_shape_;
  std::vector<std::shared_ptr<TensorImpl>> saved_;
};

/// What a statement node keeps: the expression and how its root adjoint is made from the seed operands.
template <class E, class MakeSeed>
struct KeptStatement {
  E e;
  MakeSeed make_seed;
};

template <class T, class K>
void replay_statement(const void* kept, const std::vector<const TensorImpl*>& seeds,
                      const std::vector<std::shared_ptr<TensorImpl>>& inputs, std::vector<GradTarget>& targets) {
  const K& k = *static_cast<const K*>(kept);
  run_fused_backward<T>(k.e, k.e.shape(), seeds, k.make_seed, inputs, targets);
}

/// A tape node for statement `e`, whose backward seeds its root with make_seed(seed operands' plans).
template <class T, class E, class MakeSeed>
std::shared_ptr<Node> statement_node(const char* name, const E& e, MakeSeed make_seed,
                                     std::optional<Shape> seed_shape = std::nullopt,
                                     std::vector<std::shared_ptr<TensorImpl>> saved = {}) {
  using K = KeptStatement<E, MakeSeed>;
  StatementNode::Kept kept(new K{e, make_seed}, [](void* p) { delete static_cast<K*>(p); });
  return std::make_shared<StatementNode>(name, std::move(kept), &replay_statement<T, K>, std::move(seed_shape),
                                         std::move(saved));
}

/// The root adjoint of an element-wise statement (scale 1), of sum (1) and of mean (1/n): the incoming gradient,
/// times the scale.
template <class T>
struct ScaledGradSeed {
  T scale;
  expr::GradSeed<T> operator()(const std::vector<expr::LeafPlan<T>>& s) const { return expr::GradSeed<T>{s[0], scale}; }
};

/// The tape node of an element-wise statement.
template <class T, class E>
std::shared_ptr<Node> expression_node(const E& e) {
  return statement_node<T>(kBackwardName<E>.data(), e, ScaledGradSeed<T>{T(1)});
}

/// Makes `node` the grad_fn of a statement's result, with the statement's inputs and source line.
void attach_node(TensorImpl& out, std::shared_ptr<Node> node, const LeafHandles& leaves,
                 const SourceLocation& location);

template <class T, class E>
std::shared_ptr<TensorImpl> materialize(const E& e, const SourceLocation& location) {
  const auto leaves = leaves_of(e);
  auto out = TensorImpl::empty(e.shape(), dtype_of<T>(), statement_device(leaves, "expression"));
  run_forward<T>(e, leaves, *out, false);
  check_statement_anomaly(*out, leaves, op_name<E>(), location);
  if (any_needs_grad(leaves)) attach_node(*out, expression_node<T>(e), leaves, location);
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

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED Device statement_device(const LeafHandles& leaves, const char* op) {
  SINTER_CHECK(!leaves.empty(), op, ": a statement needs at least one tensor operand");
  const Device d = (*leaves[0])->device();
  for (auto* h : leaves)
    SINTER_CHECK((*h)->device() == d, op, ": expected all tensors to be on the same device, but found at least two "
                                         "devices, ", d, " and ", (*h)->device(), "; move one with .to(device)");
  return d;
}

[[gnu::noinline, gnu::cold]] SINTER_SHARED void scan_statement(const TensorImpl& out, const LeafHandles& leaves,
                                                               const char* op, const SourceLocation& location) {
  std::vector<const TensorImpl*> in;
  for (auto* h : leaves) in.push_back(h->get());
  check_forward_anomaly(out, in, op, location);
}

SINTER_SHARED std::vector<std::shared_ptr<TensorImpl>> unique_inputs(const LeafHandles& leaves) {
  std::vector<std::shared_ptr<TensorImpl>> in;
  for (auto* h : leaves) {
    bool seen = false;
    for (auto& x : in) seen = seen || x.get() == h->get();
    if (!seen) in.push_back(*h);
  }
  return in;
}

[[gnu::noinline]] SINTER_SHARED expr::IterationSpace statement_space(
    const LeafHandles& leaves, const Shape& shape, const std::vector<std::pair<const Shape*, Shape>>& extra,
    bool coalesce) {
  std::vector<Shape> st;
  st.reserve(leaves.size() + extra.size());
  for (auto* h : leaves) st.push_back(broadcast_strides((*h)->shape, (*h)->strides, shape));
  for (const auto& [s, strides] : extra) st.push_back(broadcast_strides(*s, strides, shape));
  return expr::IterationSpace(shape, st, coalesce);
}

[[gnu::noinline]] SINTER_SHARED expr::IterationSpace statement_space(const LeafHandles& leaves, const Shape& shape,
                                                                     const Shape& dst_shape, const Shape& dst_strides,
                                                                     bool coalesce) {
  return statement_space(leaves, shape, {{&dst_shape, dst_strides}}, coalesce);
}

[[gnu::noinline]] SINTER_SHARED void attach_node(TensorImpl& out, std::shared_ptr<Node> node, const LeafHandles& leaves,
                                                 const SourceLocation& location) {
  node->inputs = unique_inputs(leaves);
  node->location = location;
  out.grad_fn = std::move(node);
}

SINTER_SHARED void StatementNode::apply(const TensorImpl& grad_out, std::vector<GradTarget>& targets) {
  TensorImpl g = grad_out;
  if (seed_shape_) {
    g.shape = *seed_shape_;
    g.strides = contiguous_strides(*seed_shape_);
  }
  std::vector<const TensorImpl*> seeds{&g};
  for (auto& s : saved_) seeds.push_back(s.get());
  replay_(kept_.get(), seeds, inputs, targets);
}
#endif  // SINTER_DEFINE_SHARED

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
