// SPDX-License-Identifier: Apache-2.0
// matmul with PyTorch's cases: dot (1-D . 1-D), matrix-vector, vector-matrix, matrix product, and batched products
// with broadcast batch dims. A barrier: expression operands are materialised first. An element-wise epilogue can
// ride on the GEMM (matmul(a, b, epilogue)), applied to each block of the product as it is finished.
#pragma once

#include <concepts>
#include <memory>
#include <type_traits>
#include <vector>

#include <sinter/ops/statement.hpp>

namespace sinter {
namespace detail {

/// An operand seen as a batch of matrices: promoted to rank >= 2 and broadcast to the output's batch dims.
struct MatrixBatch {
  const TensorImpl* t;
  Shape batch_strides;  // broadcast to the output's batch shape (0 where broadcast)
  std::int64_t rows, cols, rs, cs;
};

struct MatmulGeometry {
  Shape batch;       // broadcast batch shape
  Shape out_shape;   // final result shape (promoted dims removed)
  std::int64_t M, N, K;
  Shape a_shape, a_strides, b_shape, b_strides;  // promoted operands (rank >= 2)
};

inline MatmulGeometry matmul_geometry(const TensorImpl& a, const TensorImpl& b) {
  SINTER_CHECK(a.shape.size() >= 1 && b.shape.size() >= 1, "matmul: both arguments need at least 1 dimension, got ",
               a.shape, " and ", b.shape);
  MatmulGeometry g;
  g.a_shape = a.shape, g.a_strides = a.strides, g.b_shape = b.shape, g.b_strides = b.strides;
  const bool a_vec = a.shape.size() == 1, b_vec = b.shape.size() == 1;
  if (a_vec) g.a_shape.insert(0, 1), g.a_strides.insert(0, 0);
  if (b_vec) g.b_shape.push_back(1), g.b_strides.push_back(0);
  const int ra = g.a_shape.size(), rb = g.b_shape.size();
  g.M = g.a_shape[ra - 2], g.K = g.a_shape[ra - 1], g.N = g.b_shape[rb - 1];
  SINTER_CHECK(g.b_shape[rb - 2] == g.K, "matmul: shapes ", a.shape, " and ", b.shape,
               " cannot be multiplied (", g.M, "x", g.K, " and ", g.b_shape[rb - 2], "x", g.N, ")");
  const Shape ab(g.a_shape.begin(), g.a_shape.end() - 2), bb(g.b_shape.begin(), g.b_shape.end() - 2);
  g.batch = broadcast_shapes(ab, bb, "matmul");
  g.out_shape = g.batch;
  if (!a_vec) g.out_shape.push_back(g.M);
  if (!b_vec) g.out_shape.push_back(g.N);
  return g;
}

inline MatrixBatch as_batch(const TensorImpl& t, const Shape& shape, const Shape& strides, const Shape& batch) {
  const int r = shape.size();
  const Shape bs(shape.begin(), shape.end() - 2), bst(strides.begin(), strides.end() - 2);
  return MatrixBatch{&t, broadcast_strides(bs, bst, batch), shape[r - 2], shape[r - 1], strides[r - 2], strides[r - 1]};
}

/// For each batch index of `batch`: C[b] (+)= A[b] . B[b]; C is contiguous [batch..., M, N] unless its batch strides
/// say otherwise (zero strides sum the products into one matrix).
template <class T>
void batched_gemm(const Shape& batch, const MatrixBatch& A, bool ta, const MatrixBatch& B, bool tb, T* C,
                  const Shape& c_batch_strides, std::int64_t M, std::int64_t N, std::int64_t K, bool accumulate) {
  const std::int64_t nb = numel_of(batch);
  const T* pa = static_cast<const T*>(A.t->data());
  const T* pb = static_cast<const T*>(B.t->data());
  std::int64_t idx[kMaxRank] = {};
  for (std::int64_t i = 0; i < nb; ++i) {
    std::int64_t oa = 0, ob = 0, oc = 0;
    for (int d = 0; d < batch.size(); ++d) oa += idx[d] * A.batch_strides[d], ob += idx[d] * B.batch_strides[d],
                                           oc += idx[d] * c_batch_strides[d];
    // Zero batch strides in C fold several products into one matrix: every product after the first adds.
    const bool acc = accumulate;
    launch_gemm<T>(A.t->device(), M, N, K, pa + oa, ta ? A.cs : A.rs, ta ? A.rs : A.cs, pb + ob, tb ? B.cs : B.rs,
                   tb ? B.rs : B.cs, C + oc, N, acc);
    for (int d = batch.size() - 1; d >= 0; --d) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
}

template <class T>
class MatmulBackward final : public Node {
 public:
  const char* name() const noexcept override { return "MatmulBackward"; }
  void apply(const TensorImpl& grad_out, std::vector<GradTarget>& targets) override {
    SINTER_CHECK(a_ && b_, "backward(): MatmulBackward's saved tensors were freed; pass retain_graph=true");
    const auto g = matmul_geometry(*a_, *b_);
    // The gradient seen as [batch..., M, N].
    Shape gs = g.batch, gst;
    gs.push_back(g.M), gs.push_back(g.N);
    gst = contiguous_strides(gs);
    const MatrixBatch G = as_batch(grad_out, gs, gst, g.batch);
    const MatrixBatch A = as_batch(*a_, g.a_shape, g.a_strides, g.batch);
    const MatrixBatch B = as_batch(*b_, g.b_shape, g.b_strides, g.batch);
    auto run = [&](const GradTarget& t, const Shape& pshape, bool for_a) {
      if (!t.buffer) return;
      const Shape pst = contiguous_strides(pshape);
      const Shape cb = broadcast_strides(Shape(pshape.begin(), pshape.end() - 2), Shape(pst.begin(), pst.end() - 2),
                                         g.batch);
      bool folded = false;
      for (int d = 0; d < g.batch.size(); ++d) folded = folded || (cb[d] == 0 && g.batch[d] > 1);
      if (folded && !t.accumulate) fill(*t.buffer, 0.0);
      T* c = static_cast<T*>(t.buffer->data());
      if (for_a)  // dA = G . B^T
        batched_gemm<T>(g.batch, G, false, B, true, c, cb, g.M, g.K, g.N, t.accumulate || folded);
      else  // dB = A^T . G
        batched_gemm<T>(g.batch, A, true, G, false, c, cb, g.K, g.N, g.M, t.accumulate || folded);
    };
    run(targets[0], g.a_shape, true);
    // matmul(x, x) has one input: its second product adds to the first.
    run(inputs.size() > 1 ? targets[1] : GradTarget{targets[0].buffer, true}, g.b_shape, false);
  }
  void release_saved() override { a_.reset(), b_.reset(); }
  std::shared_ptr<TensorImpl> a_, b_;
};

}  // namespace detail

namespace detail {
/// Makes out the product's tape node when a or b needs a gradient.
template <class T>
void record_matmul(TensorImpl& out, const TensorOf<T>& a, const TensorOf<T>& b, const SourceLocation& location) {
  if (!is_grad_enabled() || !(a.impl()->needs_grad() || b.impl()->needs_grad())) return;
  auto node = std::make_shared<MatmulBackward<T>>();
  node->location = location;
  node->a_ = a.impl(), node->b_ = b.impl();
  node->inputs.push_back(a.impl());
  if (a.impl() != b.impl()) node->inputs.push_back(b.impl());
  out.grad_fn = std::move(node);
}

/// Writes the product of a and b (geometry g) into out, contiguous.
template <class T>
void run_matmul(const TensorImpl& ai, const TensorImpl& bi, const MatmulGeometry& g, TensorImpl& out) {
  const auto A_ = as_batch(ai, g.a_shape, g.a_strides, g.batch);
  const auto B_ = as_batch(bi, g.b_shape, g.b_strides, g.batch);
  Shape cs = g.batch;
  cs.push_back(g.M), cs.push_back(g.N);
  const Shape cst = contiguous_strides(cs);
  batched_gemm<T>(g.batch, A_, false, B_, false, static_cast<T*>(out.data()), Shape(cst.begin(), cst.end() - 2), g.M,
                  g.N, g.K, false);
}

// The products' instances, X applied to each: extern in compiled mode (config.hpp), made by implementation.hpp.
#define SINTER_MATMUL_INSTANCES(X, T)                                                                                \
  X(class MatmulBackward<T>)                                                                                         \
  X(void record_matmul<T>(TensorImpl&, const TensorOf<T>&, const TensorOf<T>&, const SourceLocation&))              \
  X(void run_matmul<T>(const TensorImpl&, const TensorImpl&, const MatmulGeometry&, TensorImpl&))
SINTER_MATMUL_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_MATMUL_INSTANCES(SINTER_EXTERN_TEMPLATE, double)
}  // namespace detail

/// Matrix product with PyTorch's rules for 1-D, 2-D and batched operands. Example: `Tensor y = matmul(x, w.t());`
template <expr::NodeLike A, expr::NodeLike B>
auto matmul(const A& a_in, const B& b_in, const SourceLocation& location = SourceLocation::current()) {
  using T = typename expr::detail::common_element<A, B>::type;
  const TensorOf<T> a = eval(a_in, location), b = eval(b_in, location);
  SINTER_CHECK(a.device() == b.device(), "matmul: expected both tensors on the same device, but found ", a.device(),
               " and ", b.device(), "; move one with .to(device)");
  const auto g = detail::matmul_geometry(*a.impl(), *b.impl());
  auto out = TensorImpl::empty(g.out_shape, dtype_of<T>(), a.device());
  detail::run_matmul<T>(*a.impl(), *b.impl(), g, *out);
  detail::check_forward_anomaly(*out, {a.impl().get(), b.impl().get()}, "matmul", location);
  detail::record_matmul<T>(*out, a, b, location);
  return TensorOf<T>(std::move(out));
}

/// matmul(a, b) followed by an element-wise epilogue over the product p, fused into the GEMM: each block of the
/// product goes through the epilogue as soon as it is final, while it is in the cache of the core that computed it,
/// so `relu(p + bias)` reads the product there and writes its output once (in place of the product when no gradient
/// is recorded). Example: `Tensor y = sinter::matmul(x, w, [&](const Tensor& p) { return sinter::relu(p + b); });`
///
/// The result is `eval(epilogue(matmul(a, b)))`, gradients included (with gradients recorded the product is kept
/// too, since its backward reads it). The epilogue must only build an expression of p; it may be called twice. It
/// runs fused for 2-D operands on the CPU when its result has the product's shape and reads p element for element;
/// otherwise (vectors, batches, a GPU, p.t() or a broadcast of p, an epilogue that launched a kernel, anomaly mode)
/// the product and the epilogue run as two statements, with the same result.
template <expr::NodeLike A, expr::NodeLike B, class F>
  requires std::invocable<F&, const TensorOf<typename expr::detail::common_element<A, B>::type>&>
auto matmul(const A& a_in, const B& b_in, F&& epilogue, const SourceLocation& location = SourceLocation::current()) {
  using T = typename expr::detail::common_element<A, B>::type;
  using E = std::remove_cvref_t<std::invoke_result_t<F&, const TensorOf<T>&>>;
  static_assert(Expression<E>,
                "sinter: a matmul epilogue returns an unevaluated expression of the product, such as "
                "`[&](const Tensor& p) { return relu(p + b); }`; a tensor would be computed before the product is");
  const TensorOf<T> a = eval(a_in, location), b = eval(b_in, location);
  SINTER_CHECK(a.device() == b.device(), "matmul: expected both tensors on the same device, but found ", a.device(),
               " and ", b.device(), "; move one with .to(device)");
  const TensorImpl &ai = *a.impl(), &bi = *b.impl();
  const auto g = detail::matmul_geometry(ai, bi);
  auto prod = TensorImpl::empty(g.out_shape, dtype_of<T>(), a.device());
  detail::record_matmul<T>(*prod, a, b, location);
  const TensorOf<T> p(prod);
  auto unfused = [&] {
    detail::run_matmul<T>(ai, bi, g, *prod);
    detail::check_forward_anomaly(*prod, {&ai, &bi}, "matmul", location);
    return eval(epilogue(p), location);
  };
  if (!a.device().is_cpu() || ai.shape.size() != 2 || bi.shape.size() != 2 || is_anomaly_enabled()) return unfused();
  const std::size_t kernels = counters().kernels;
  const E e = epilogue(p);
  const auto leaves = detail::leaves_of(e);
  bool fusable = counters().kernels == kernels && e.shape() == prod->shape;  // a launch may have read p too early
  bool reads_product = false;
  for (auto* h : leaves) {
    const TensorImpl& l = **h;
    reads_product = reads_product || l.storage == prod->storage;
    fusable = fusable && l.device().is_cpu() && detail::reads_in_step(l, *prod);
  }
  fusable = fusable && reads_product;
  if (!fusable) return unfused();
  // Without a gradient the epilogue overwrites the product element for element; with one, both are kept.
  const bool keep_product = detail::any_needs_grad(leaves);
  auto out = keep_product ? TensorImpl::empty(prod->shape, dtype_of<T>(), a.device()) : prod;
  const expr::IterationSpace space =
      detail::statement_space(leaves, prod->shape, out->shape, out->strides, /*coalesce=*/false);
  expr::PlanBuilder builder(space);
  using Tile = cpu::TileStatement<T, expr::plan_t<E>>;
  const Tile tile{e.plan(builder), builder.extra(0), static_cast<T*>(out->data())};
  cpu::gemm<T>(g.M, g.N, g.K, static_cast<const T*>(ai.data()), ai.strides[0], ai.strides[1],
               static_cast<const T*>(bi.data()), bi.strides[0], bi.strides[1], static_cast<T*>(prod->data()), g.N,
               false, cpu::TileEpilogue{&Tile::apply, &tile});
  if (keep_product) detail::attach_node(*out, detail::expression_node<T>(e), leaves, location);
  return TensorOf<T>(std::move(out));
}

}  // namespace sinter
