// SPDX-License-Identifier: Apache-2.0
// The user-facing element-wise vocabulary: operators and named functions over tensors, expressions and numbers.
// Each returns a lazy node; nothing runs until the statement ends (see docs/design/fusion.md).
#pragma once

#include <limits>
#include <type_traits>

#include <sinter/expr/node.hpp>
#include <sinter/expr/ops.hpp>

namespace sinter::expr {

template <class X>
struct is_tensor : std::false_type {};
template <class T>
struct is_tensor<TensorOf<T>> : std::true_type {};

/// A tensor or an expression node.
template <class X>
concept NodeLike = Expression<X> || is_tensor<std::remove_cvref_t<X>>::value;
/// Anything an element-wise op accepts: a tensor, an expression, or an arithmetic number.
template <class X>
concept Operand = NodeLike<X> || std::is_arithmetic_v<std::remove_cvref_t<X>>;

namespace detail {
template <class X>
struct element_of {
  using type = void;  // numbers adopt the tensors' type
};
template <class T>
struct element_of<TensorOf<T>> {
  using type = T;
};
template <Expression E>
struct element_of<E> {
  using type = typename E::value_type;
};

template <class... X>
struct common_element;
template <>
struct common_element<> {
  using type = void;
};
template <class X, class... Rest>
struct common_element<X, Rest...> {
  using first = typename element_of<std::remove_cvref_t<X>>::type;
  using rest = typename common_element<Rest...>::type;
  static_assert(std::is_void_v<first> || std::is_void_v<rest> || std::is_same_v<first, rest>,
                "sinter: one expression mixes float and double tensors; convert one side with .to<T>() first");
  using type = std::conditional_t<std::is_void_v<first>, rest, first>;
};

template <class T, class X>
auto as_node(const X& x) {
  if constexpr (is_tensor<X>::value)
    return Leaf<T>(x);
  else if constexpr (Expression<X>)
    return x;
  else
    return Scalar<T>(static_cast<T>(x));
}
}  // namespace detail

/// Builds the node for op applied to the operands, converting tensors to leaves and numbers to scalars.
template <class Op, class... X>
auto make_map(Op op, const X&... xs) {
  using T = typename detail::common_element<X...>::type;
  static_assert(!std::is_void_v<T>, "sinter: an element-wise op needs at least one tensor or expression operand");
  static_assert(std::is_void_v<T> || is_element_v<T>,
                "sinter: element-wise expressions are over float or double; convert an int64 tensor with .to<float>()");
  return Map<Op, decltype(detail::as_node<T>(xs))...>(op, detail::as_node<T>(xs)...);
}

// ---- operators --------------------------------------------------------------------------------------------------
#define SINTER_BINARY_OPERATOR(sym, OpType)                 \
  template <Operand A, Operand B>                           \
    requires(NodeLike<A> || NodeLike<B>)                    \
  auto operator sym(const A& a, const B& b) {               \
    return make_map(ops::OpType{}, a, b);                   \
  }
SINTER_BINARY_OPERATOR(+, Add)
SINTER_BINARY_OPERATOR(-, Sub)
SINTER_BINARY_OPERATOR(*, Mul)
SINTER_BINARY_OPERATOR(/, Div)
SINTER_BINARY_OPERATOR(<, Less)
SINTER_BINARY_OPERATOR(<=, LessEqual)
SINTER_BINARY_OPERATOR(>, Greater)
SINTER_BINARY_OPERATOR(>=, GreaterEqual)
SINTER_BINARY_OPERATOR(==, Equal)
SINTER_BINARY_OPERATOR(!=, NotEqual)
#undef SINTER_BINARY_OPERATOR

template <NodeLike A>
auto operator-(const A& a) {
  return make_map(ops::Neg{}, a);
}

// ---- named functions (PyTorch names) ------------------------------------------------------------------------------
#define SINTER_UNARY_FUNCTION(fn, OpType) \
  template <NodeLike A>                   \
  auto fn(const A& a) {                   \
    return make_map(ops::OpType{}, a);    \
  }
SINTER_UNARY_FUNCTION(exp, Exp)
SINTER_UNARY_FUNCTION(log, Log)
SINTER_UNARY_FUNCTION(log1p, Log1p)
SINTER_UNARY_FUNCTION(sqrt, Sqrt)
SINTER_UNARY_FUNCTION(rsqrt, Rsqrt)
SINTER_UNARY_FUNCTION(abs, Abs)
SINTER_UNARY_FUNCTION(sin, Sin)
SINTER_UNARY_FUNCTION(cos, Cos)
SINTER_UNARY_FUNCTION(tanh, Tanh)
SINTER_UNARY_FUNCTION(sigmoid, Sigmoid)
SINTER_UNARY_FUNCTION(relu, Relu)
SINTER_UNARY_FUNCTION(silu, Silu)
#undef SINTER_UNARY_FUNCTION

#define SINTER_BINARY_FUNCTION(fn, OpType)  \
  template <Operand A, Operand B>           \
    requires(NodeLike<A> || NodeLike<B>)    \
  auto fn(const A& a, const B& b) {         \
    return make_map(ops::OpType{}, a, b);   \
  }
SINTER_BINARY_FUNCTION(minimum, Minimum)
SINTER_BINARY_FUNCTION(maximum, Maximum)
SINTER_BINARY_FUNCTION(lt, Less)
SINTER_BINARY_FUNCTION(le, LessEqual)
SINTER_BINARY_FUNCTION(gt, Greater)
SINTER_BINARY_FUNCTION(ge, GreaterEqual)
SINTER_BINARY_FUNCTION(eq, Equal)
SINTER_BINARY_FUNCTION(ne, NotEqual)
#undef SINTER_BINARY_FUNCTION

/// a^b element-wise. With a number as the exponent (`pow(x, 2)`), the common powers are computed exactly, as in
/// PyTorch (ops::PowScalar); with a tensor or expression exponent every element goes through pow.
template <NodeLike A, class B>
  requires std::is_arithmetic_v<B>
auto pow(const A& a, B b) {
  return make_map(ops::PowScalar{static_cast<double>(b)}, a);
}
template <Operand A, NodeLike B>
auto pow(const A& a, const B& b) {
  return make_map(ops::Pow{}, a, b);
}

template <NodeLike A>
auto leaky_relu(const A& a, double negative_slope = 0.01) {
  return make_map(ops::LeakyRelu{negative_slope}, a);
}
template <NodeLike A>
auto elu(const A& a, double alpha = 1.0) {
  return make_map(ops::Elu{alpha}, a);
}
/// GELU with the exact normal CDF (approximate = "none").
template <NodeLike A>
auto gelu(const A& a) {
  return make_map(ops::GeluErf{}, a);
}
/// GELU's tanh approximation (PyTorch's approximate = "tanh").
template <NodeLike A>
auto gelu_tanh(const A& a) {
  return make_map(ops::GeluTanh{}, a);
}
template <NodeLike A>
auto softplus(const A& a, double beta = 1.0, double threshold = 20.0) {
  return make_map(ops::Softplus{beta, threshold}, a);
}
/// Clamps into [min, max]; pass +-infinity to leave one side open.
template <NodeLike A>
auto clamp(const A& a, double min, double max = std::numeric_limits<double>::infinity()) {
  return make_map(ops::Clamp{min, max}, a);
}
/// cond ? a : b element-wise (cond is nonzero where true; masks come from comparisons).
template <Operand C, Operand A, Operand B>
  requires(NodeLike<C> || NodeLike<A> || NodeLike<B>)
auto where(const C& cond, const A& a, const B& b) {
  return make_map(ops::Where{}, cond, a, b);
}

}  // namespace sinter::expr

namespace sinter {
using expr::operator+;
using expr::operator-;
using expr::operator*;
using expr::operator/;
using expr::operator<;
using expr::operator<=;
using expr::operator>;
using expr::operator>=;
using expr::operator==;
using expr::operator!=;
using expr::abs;
using expr::clamp;
using expr::cos;
using expr::elu;
using expr::eq;
using expr::exp;
using expr::ge;
using expr::gelu;
using expr::gelu_tanh;
using expr::gt;
using expr::le;
using expr::leaky_relu;
using expr::log;
using expr::log1p;
using expr::lt;
using expr::maximum;
using expr::minimum;
using expr::ne;
using expr::pow;
using expr::relu;
using expr::rsqrt;
using expr::sigmoid;
using expr::silu;
using expr::sin;
using expr::softplus;
using expr::sqrt;
using expr::tanh;
using expr::where;
}  // namespace sinter
