// SPDX-License-Identifier: Apache-2.0
// Element-wise ops as plain structs: the forward function and its derivative side by side, so fusion and
// autograd share one definition. Each works for a scalar T, an xsimd batch and CUDA device code (V is any of them).
// grad(g, y, x...) returns the adjoint of every operand given the output adjoint g and the output value y.
#pragma once

#include <sinter/config.hpp>
#include <sinter/expr/math.hpp>

namespace sinter::expr {

/// Adjoints of an N-operand op.
template <class V, int N>
struct Grads {
  V d[N];
};

namespace ops {

// ---- arithmetic -----------------------------------------------------------------------------------------------
struct Add {
  static constexpr const char* name = "add";
  template <class V> SINTER_HD V operator()(V a, V b) const { return a + b; }
  template <class V> SINTER_HD Grads<V, 2> grad(V g, V, V, V) const { return {{g, g}}; }
};
struct Sub {
  static constexpr const char* name = "sub";
  template <class V> SINTER_HD V operator()(V a, V b) const { return a - b; }
  template <class V> SINTER_HD Grads<V, 2> grad(V g, V, V, V) const { return {{g, -g}}; }
};
struct Mul {
  static constexpr const char* name = "mul";
  template <class V> SINTER_HD V operator()(V a, V b) const { return a * b; }
  template <class V> SINTER_HD Grads<V, 2> grad(V g, V, V a, V b) const { return {{g * b, g * a}}; }
};
struct Div {
  static constexpr const char* name = "div";
  template <class V> SINTER_HD V operator()(V a, V b) const { return a / b; }
  template <class V> SINTER_HD Grads<V, 2> grad(V g, V, V a, V b) const {
    const V gb = g / b;
    return {{gb, -gb * a / b}};
  }
};
struct Neg {
  static constexpr const char* name = "neg";
  template <class V> SINTER_HD V operator()(V a) const { return -a; }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V) const { return {{-g}}; }
};
/// a^b. The derivatives follow PyTorch at the edges: d/da is 0 where b == 0, d/db is 0 where a == 0 and b >= 0.
struct Pow {
  static constexpr const char* name = "pow";
  template <class V> SINTER_HD V operator()(V a, V b) const { return Math<V>::pow(a, b); }
  template <class V> SINTER_HD Grads<V, 2> grad(V g, V y, V a, V b) const {
    using M = Math<V>;
    const V zero(0.0);
    const V da = M::select(M::equal(b, zero), zero, g * b * M::pow(a, b - V(1.0)));
    const V db = M::select(M::both(M::equal(a, zero), M::greater_eq(b, zero)), zero, g * y * M::log(a));
    return {{da, db}};
  }
};

/// x^e for a number e, computed as PyTorch does: e = 0, 1, 2, 3, 0.5, -0.5, -1, -2 by multiplication, sqrt and
/// division (exact where pow rounds, and several times faster), any other e by pow. d/dx is 0 where e == 0.
struct PowScalar {
  static constexpr const char* name = "pow";
  double e;
  template <class V> SINTER_HD static V raise(V x, double e) {
    using M = Math<V>;
    if (e == 0) return V(1.0);
    if (e == 1) return x;
    if (e == 2) return x * x;
    if (e == 3) return x * x * x;
    if (e == 0.5) return M::sqrt(x);
    if (e == -0.5) return V(1.0) / M::sqrt(x);
    if (e == -1) return V(1.0) / x;
    if (e == -2) return V(1.0) / (x * x);
    return M::pow(x, V(e));
  }
  template <class V> SINTER_HD V operator()(V x) const { return raise(x, e); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const {
    if (e == 0) return {{V(0.0)}};
    return {{g * V(e) * raise(x, e - 1)}};
  }
};

// ---- math -----------------------------------------------------------------------------------------------------
struct Exp {
  static constexpr const char* name = "exp";
  template <class V> SINTER_HD V operator()(V x) const { return Math<V>::exp(x); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V y, V) const { return {{g * y}}; }
};
struct Log {
  static constexpr const char* name = "log";
  template <class V> SINTER_HD V operator()(V x) const { return Math<V>::log(x); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const { return {{g / x}}; }
};
struct Log1p {
  static constexpr const char* name = "log1p";
  template <class V> SINTER_HD V operator()(V x) const { return Math<V>::log1p(x); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const { return {{g / (x + V(1.0))}}; }
};
struct Sqrt {
  static constexpr const char* name = "sqrt";
  template <class V> SINTER_HD V operator()(V x) const { return Math<V>::sqrt(x); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V y, V) const { return {{g / (V(2.0) * y)}}; }
};
struct Rsqrt {
  static constexpr const char* name = "rsqrt";
  template <class V> SINTER_HD V operator()(V x) const { return V(1.0) / Math<V>::sqrt(x); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V y, V) const { return {{V(-0.5) * g * y * y * y}}; }
};
/// |x|; the derivative is sign(x), 0 at 0 as in PyTorch.
struct Abs {
  static constexpr const char* name = "abs";
  template <class V> SINTER_HD V operator()(V x) const { return Math<V>::abs(x); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const {
    using M = Math<V>;
    const V zero(0.0);
    return {{M::select(M::greater(x, zero), g, M::select(M::less(x, zero), -g, zero))}};
  }
};
struct Sin {
  static constexpr const char* name = "sin";
  template <class V> SINTER_HD V operator()(V x) const { return Math<V>::sin(x); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const { return {{g * Math<V>::cos(x)}}; }
};
struct Cos {
  static constexpr const char* name = "cos";
  template <class V> SINTER_HD V operator()(V x) const { return Math<V>::cos(x); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const { return {{-g * Math<V>::sin(x)}}; }
};
struct Tanh {
  static constexpr const char* name = "tanh";
  template <class V> SINTER_HD V operator()(V x) const { return Math<V>::tanh(x); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V y, V) const { return {{g * (V(1.0) - y * y)}}; }
};

// ---- activations ----------------------------------------------------------------------------------------------
struct Sigmoid {
  static constexpr const char* name = "sigmoid";
  template <class V> SINTER_HD V operator()(V x) const { return V(1.0) / (V(1.0) + Math<V>::exp(-x)); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V y, V) const { return {{g * y * (V(1.0) - y)}}; }
};
/// max(x, 0); the derivative at 0 is 0, as in PyTorch.
struct Relu {
  static constexpr const char* name = "relu";
  template <class V> SINTER_HD V operator()(V x) const {
    using M = Math<V>;
    return M::select(M::greater(x, V(0.0)), x, V(0.0));
  }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const {
    using M = Math<V>;
    return {{M::select(M::greater(x, V(0.0)), g, V(0.0))}};
  }
};
struct LeakyRelu {
  static constexpr const char* name = "leaky_relu";
  double slope = 0.01;
  template <class V> SINTER_HD V operator()(V x) const {
    using M = Math<V>;
    return M::select(M::greater(x, V(0.0)), x, V(slope) * x);
  }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const {
    using M = Math<V>;
    return {{M::select(M::greater(x, V(0.0)), g, V(slope) * g)}};
  }
};
struct Elu {
  static constexpr const char* name = "elu";
  double alpha = 1.0;
  template <class V> SINTER_HD V operator()(V x) const {
    using M = Math<V>;
    return M::select(M::greater(x, V(0.0)), x, V(alpha) * (M::exp(x) - V(1.0)));
  }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V y, V x) const {
    using M = Math<V>;
    return {{M::select(M::greater(x, V(0.0)), g, g * (y + V(alpha)))}};
  }
};
/// x * Phi(x) with the exact normal CDF (PyTorch's approximate="none").
struct GeluErf {
  static constexpr const char* name = "gelu";
  template <class V> SINTER_HD V operator()(V x) const {
    return V(0.5) * x * (V(1.0) + Math<V>::erf(x * V(0.70710678118654752440)));
  }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const {
    using M = Math<V>;
    const V cdf = V(0.5) * (V(1.0) + M::erf(x * V(0.70710678118654752440)));
    const V pdf = V(0.39894228040143267794) * M::exp(V(-0.5) * x * x);
    return {{g * (cdf + x * pdf)}};
  }
};
/// The tanh approximation (PyTorch's approximate="tanh").
struct GeluTanh {
  static constexpr const char* name = "gelu_tanh";
  template <class V> SINTER_HD V operator()(V x) const {
    const V k(0.79788456080286535588), c(0.044715);
    return V(0.5) * x * (V(1.0) + Math<V>::tanh(k * (x + c * x * x * x)));
  }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const {
    const V k(0.79788456080286535588), c(0.044715);
    const V t = Math<V>::tanh(k * (x + c * x * x * x));
    const V dinner = k * (V(1.0) + V(3.0) * c * x * x);
    return {{g * (V(0.5) * (V(1.0) + t) + V(0.5) * x * (V(1.0) - t * t) * dinner)}};
  }
};
struct Silu {
  static constexpr const char* name = "silu";
  template <class V> SINTER_HD V operator()(V x) const { return x / (V(1.0) + Math<V>::exp(-x)); }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const {
    const V s = V(1.0) / (V(1.0) + Math<V>::exp(-x));
    return {{g * s * (V(1.0) + x * (V(1.0) - s))}};
  }
};
/// log(1 + exp(beta x)) / beta, linear above `threshold` (PyTorch's defaults: beta 1, threshold 20).
struct Softplus {
  static constexpr const char* name = "softplus";
  double beta = 1.0, threshold = 20.0;
  template <class V> SINTER_HD V operator()(V x) const {
    using M = Math<V>;
    const V bx = V(beta) * x;
    return M::select(M::greater(bx, V(threshold)), x, M::log1p(M::exp(bx)) / V(beta));
  }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const {
    using M = Math<V>;
    const V bx = V(beta) * x;
    return {{M::select(M::greater(bx, V(threshold)), g, g / (V(1.0) + M::exp(-bx)))}};
  }
};
/// Clamps to [lo, hi]; the gradient passes where lo <= x <= hi, as in PyTorch.
struct Clamp {
  static constexpr const char* name = "clamp";
  double lo, hi;
  template <class V> SINTER_HD V operator()(V x) const {
    using M = Math<V>;
    return M::min(M::max(x, V(lo)), V(hi));
  }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V x) const {
    using M = Math<V>;
    return {{M::select(M::both(M::greater_eq(x, V(lo)), M::less_eq(x, V(hi))), g, V(0.0))}};
  }
};
/// Element-wise maximum; at ties each side gets half the gradient (PyTorch since 1.7).
struct Maximum {
  static constexpr const char* name = "maximum";
  template <class V> SINTER_HD V operator()(V a, V b) const { return Math<V>::max(a, b); }
  template <class V> SINTER_HD Grads<V, 2> grad(V g, V, V a, V b) const {
    using M = Math<V>;
    const V half = V(0.5) * g, zero(0.0);
    const V ga = M::select(M::greater(a, b), g, M::select(M::equal(a, b), half, zero));
    const V gb = M::select(M::less(a, b), g, M::select(M::equal(a, b), half, zero));
    return {{ga, gb}};
  }
};
struct Minimum {
  static constexpr const char* name = "minimum";
  template <class V> SINTER_HD V operator()(V a, V b) const { return Math<V>::min(a, b); }
  template <class V> SINTER_HD Grads<V, 2> grad(V g, V, V a, V b) const {
    using M = Math<V>;
    const V half = V(0.5) * g, zero(0.0);
    const V ga = M::select(M::less(a, b), g, M::select(M::equal(a, b), half, zero));
    const V gb = M::select(M::greater(a, b), g, M::select(M::equal(a, b), half, zero));
    return {{ga, gb}};
  }
};
/// where(cond, a, b): a where cond is nonzero, else b. cond gets no gradient.
struct Where {
  static constexpr const char* name = "where";
  template <class V> SINTER_HD V operator()(V c, V a, V b) const {
    using M = Math<V>;
    return M::select(M::not_equal(c, V(0.0)), a, b);
  }
  template <class V> SINTER_HD Grads<V, 3> grad(V g, V, V c, V, V) const {
    using M = Math<V>;
    const auto m = M::not_equal(c, V(0.0));
    return {{V(0.0), M::select(m, g, V(0.0)), M::select(m, V(0.0), g)}};
  }
};

// ---- comparisons: masks of 1 and 0 in the operands' element type, no gradient ---------------------------------------
template <int Kind>
struct Compare {
  static constexpr const char* name = Kind == 0 ? "lt" : Kind == 1 ? "le" : Kind == 2 ? "gt" : Kind == 3 ? "ge" : Kind == 4 ? "eq" : "ne";
  template <class V> SINTER_HD V operator()(V a, V b) const {
    using M = Math<V>;
    if constexpr (Kind == 0) return M::select(M::less(a, b), V(1.0), V(0.0));
    else if constexpr (Kind == 1) return M::select(M::less_eq(a, b), V(1.0), V(0.0));
    else if constexpr (Kind == 2) return M::select(M::greater(a, b), V(1.0), V(0.0));
    else if constexpr (Kind == 3) return M::select(M::greater_eq(a, b), V(1.0), V(0.0));
    else if constexpr (Kind == 4) return M::select(M::equal(a, b), V(1.0), V(0.0));
    else return M::select(M::not_equal(a, b), V(1.0), V(0.0));
  }
  template <class V> SINTER_HD Grads<V, 2> grad(V, V, V, V) const { return {{V(0.0), V(0.0)}}; }
};
using Less = Compare<0>;
using LessEqual = Compare<1>;
using Greater = Compare<2>;
using GreaterEqual = Compare<3>;
using Equal = Compare<4>;
using NotEqual = Compare<5>;

/// The identity: lets a bare tensor be a statement (copy_, clone).
struct Identity {
  static constexpr const char* name = "copy";
  template <class V> SINTER_HD V operator()(V x) const { return x; }
  template <class V> SINTER_HD Grads<V, 1> grad(V g, V, V) const { return {{g}}; }
};

}  // namespace ops
}  // namespace sinter::expr
