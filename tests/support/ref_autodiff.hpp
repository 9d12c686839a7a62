// SPDX-License-Identifier: Apache-2.0
// An unfused, op-by-op reference for element-wise statements: each op materialises its result in double and records
// its own textbook derivative on a tape, with NumPy broadcasting done index by index. It shares no code with sinter's
// ops or evaluators, so a statement written once as a generic lambda can be run through both and compared
// (tests/expr/random/ are generated that way by scripts/gen_random_expressions.py).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

namespace refad {

using Dims = std::vector<std::int64_t>;

inline std::int64_t count(const Dims& d) {
  std::int64_t n = 1;
  for (auto v : d) n *= v;
  return n;
}

/// One materialised value of a statement: its shape, values and (after backward) the adjoint.
struct Value {
  Dims shape;
  std::vector<double> v, g;
};
using Ptr = std::shared_ptr<Value>;

/// The tape: every op appends its backward step; backward() runs them newest first.
struct Tape {
  std::vector<std::function<void()>> steps;
  static Tape& current() {
    static thread_local Tape t;
    return t;
  }
};

/// A reference tensor; numbers in expressions become constants with shape [].
class Var {
 public:
  Var() = default;
  Var(Dims shape, std::vector<double> values) : p_(std::make_shared<Value>()) {
    if (count(shape) != static_cast<std::int64_t>(values.size())) throw std::invalid_argument("refad: size mismatch");
    p_->shape = std::move(shape);
    p_->v = std::move(values);
    p_->g.assign(p_->v.size(), 0.0);
  }
  Var(double c) : Var(Dims{}, {c}) {}  // NOLINT: numbers mix with Vars as in sinter's expressions
  const Dims& shape() const { return p_->shape; }
  const std::vector<double>& values() const { return p_->v; }
  const std::vector<double>& grad() const { return p_->g; }
  Value& value() const { return *p_; }

 private:
  Ptr p_;
};

/// Output shape of broadcasting, and for each output element the element of each operand it reads.
struct Broadcast {
  Dims out;
  std::vector<std::vector<std::int64_t>> index;  // index[k][i]: operand k's element for output element i

  explicit Broadcast(const std::vector<const Dims*>& ins) {
    std::size_t r = 0;
    for (auto* s : ins) r = std::max(r, s->size());
    out.assign(r, 1);
    for (auto* s : ins)
      for (std::size_t d = 0; d < s->size(); ++d) {
        const std::int64_t v = (*s)[d];
        std::int64_t& o = out[r - s->size() + d];
        if (v == o || v == 1) continue;
        if (o != 1) throw std::invalid_argument("refad: shapes do not broadcast");
        o = v;
      }
    const std::int64_t n = count(out);
    for (auto* s : ins) {
      std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) {
        std::int64_t rest = i, at = 0, stride = 1;
        for (std::size_t d = r; d-- > 0;) {
          const std::int64_t c = rest % out[d];
          rest /= out[d];
          const std::int64_t sd = static_cast<std::int64_t>(d) - static_cast<std::int64_t>(r - s->size());
          if (sd < 0) continue;
          const std::int64_t size = (*s)[static_cast<std::size_t>(sd)];
          if (size != 1) at += c * stride;
          stride *= size;
        }
        idx[static_cast<std::size_t>(i)] = at;
      }
      index.push_back(std::move(idx));
    }
  }
};

/// y = f(x) element by element; df(x, y) is dy/dx.
inline Var unary(const Var& x, const std::function<double(double)>& f,
                 const std::function<double(double, double)>& df) {
  std::vector<double> out(x.values().size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = f(x.values()[i]);
  Var y(x.shape(), std::move(out));
  Value& X = x.value();
  Value& Y = y.value();
  Tape::current().steps.push_back([&X, &Y, df, keep = std::make_pair(x, y)] {
    for (std::size_t i = 0; i < Y.v.size(); ++i) X.g[i] += Y.g[i] * df(X.v[i], Y.v[i]);
  });
  return y;
}

/// z = f(a, b) with broadcasting; da(a, b, z) and db(a, b, z) are the partial derivatives.
using Partial2 = std::function<double(double, double, double)>;
inline Var binary(const Var& a, const Var& b, const std::function<double(double, double)>& f, const Partial2& da,
                  const Partial2& db) {
  const Broadcast bc({&a.shape(), &b.shape()});
  std::vector<double> out(bc.index[0].size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = f(a.values()[bc.index[0][i]], b.values()[bc.index[1][i]]);
  Var z(bc.out, std::move(out));
  Value& A = a.value();
  Value& B = b.value();
  Value& Z = z.value();
  Tape::current().steps.push_back([&A, &B, &Z, bc, da, db, keep = std::make_tuple(a, b, z)] {
    for (std::size_t i = 0; i < Z.v.size(); ++i) {
      const auto ia = bc.index[0][i], ib = bc.index[1][i];
      A.g[ia] += Z.g[i] * da(A.v[ia], B.v[ib], Z.v[i]);
      B.g[ib] += Z.g[i] * db(A.v[ia], B.v[ib], Z.v[i]);
    }
  });
  return z;
}

/// Runs the tape backward from y with cotangent g, then clears it.
inline void backward(const Var& y, const std::vector<double>& g) {
  Value& Y = y.value();
  for (std::size_t i = 0; i < g.size(); ++i) Y.g[i] += g[i];
  auto& steps = Tape::current().steps;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) (*it)();
  steps.clear();
}
inline void clear_tape() { Tape::current().steps.clear(); }

// ---- arithmetic ------------------------------------------------------------------------------------------------------
inline Var operator+(const Var& a, const Var& b) {
  return binary(a, b, [](double x, double y) { return x + y; }, [](double, double, double) { return 1.0; },
                [](double, double, double) { return 1.0; });
}
inline Var operator-(const Var& a, const Var& b) {
  return binary(a, b, [](double x, double y) { return x - y; }, [](double, double, double) { return 1.0; },
                [](double, double, double) { return -1.0; });
}
inline Var operator*(const Var& a, const Var& b) {
  return binary(a, b, [](double x, double y) { return x * y; }, [](double, double y, double) { return y; },
                [](double x, double, double) { return x; });
}
inline Var operator/(const Var& a, const Var& b) {
  return binary(a, b, [](double x, double y) { return x / y; }, [](double, double y, double) { return 1.0 / y; },
                [](double x, double y, double) { return -x / (y * y); });
}
inline Var operator-(const Var& a) {
  return unary(a, [](double x) { return -x; }, [](double, double) { return -1.0; });
}
/// PyTorch's edge rules: d/da is 0 where b == 0; d/db is 0 where a == 0 and b >= 0.
inline Var pow(const Var& a, const Var& b) {
  return binary(a, b, [](double x, double y) { return std::pow(x, y); },
                [](double x, double y, double) { return y == 0 ? 0.0 : y * std::pow(x, y - 1); },
                [](double x, double y, double z) { return (x == 0 && y >= 0) ? 0.0 : z * std::log(x); });
}
/// Ties give each side half, as PyTorch's maximum and minimum do.
inline Var maximum(const Var& a, const Var& b) {
  return binary(a, b, [](double x, double y) { return std::max(x, y); },
                [](double x, double y, double) { return x > y ? 1.0 : x == y ? 0.5 : 0.0; },
                [](double x, double y, double) { return y > x ? 1.0 : x == y ? 0.5 : 0.0; });
}
inline Var minimum(const Var& a, const Var& b) {
  return binary(a, b, [](double x, double y) { return std::min(x, y); },
                [](double x, double y, double) { return x < y ? 1.0 : x == y ? 0.5 : 0.0; },
                [](double x, double y, double) { return y < x ? 1.0 : x == y ? 0.5 : 0.0; });
}

// ---- comparisons: masks, no gradient -------------------------------------------------------------------------------
inline Var compare(const Var& a, const Var& b, bool (*pred)(double, double)) {
  auto zero = [](double, double, double) { return 0.0; };
  return binary(a, b, [pred](double x, double y) { return pred(x, y) ? 1.0 : 0.0; }, zero, zero);
}
inline Var operator<(const Var& a, const Var& b) { return compare(a, b, [](double x, double y) { return x < y; }); }
inline Var operator<=(const Var& a, const Var& b) { return compare(a, b, [](double x, double y) { return x <= y; }); }
inline Var operator>(const Var& a, const Var& b) { return compare(a, b, [](double x, double y) { return x > y; }); }
inline Var operator>=(const Var& a, const Var& b) { return compare(a, b, [](double x, double y) { return x >= y; }); }
inline Var operator==(const Var& a, const Var& b) { return compare(a, b, [](double x, double y) { return x == y; }); }
inline Var operator!=(const Var& a, const Var& b) { return compare(a, b, [](double x, double y) { return x != y; }); }
inline Var lt(const Var& a, const Var& b) { return a < b; }
inline Var le(const Var& a, const Var& b) { return a <= b; }
inline Var gt(const Var& a, const Var& b) { return a > b; }
inline Var ge(const Var& a, const Var& b) { return a >= b; }
inline Var eq(const Var& a, const Var& b) { return a == b; }
inline Var ne(const Var& a, const Var& b) { return a != b; }

/// cond ? a : b with all three broadcast; cond gets no gradient.
inline Var where(const Var& c, const Var& a, const Var& b) {
  const Broadcast bc({&c.shape(), &a.shape(), &b.shape()});
  std::vector<double> out(bc.index[0].size());
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = c.values()[bc.index[0][i]] != 0 ? a.values()[bc.index[1][i]] : b.values()[bc.index[2][i]];
  Var z(bc.out, std::move(out));
  Value& C = c.value();
  Value& A = a.value();
  Value& B = b.value();
  Value& Z = z.value();
  Tape::current().steps.push_back([&C, &A, &B, &Z, bc, keep = std::make_tuple(c, a, b, z)] {
    for (std::size_t i = 0; i < Z.v.size(); ++i) {
      if (C.v[bc.index[0][i]] != 0) A.g[bc.index[1][i]] += Z.g[i];
      else B.g[bc.index[2][i]] += Z.g[i];
    }
  });
  return z;
}

// ---- math and activations --------------------------------------------------------------------------------------------
inline Var exp(const Var& x) {
  return unary(x, [](double v) { return std::exp(v); }, [](double, double y) { return y; });
}
inline Var log(const Var& x) {
  return unary(x, [](double v) { return std::log(v); }, [](double v, double) { return 1.0 / v; });
}
inline Var log1p(const Var& x) {
  return unary(x, [](double v) { return std::log1p(v); }, [](double v, double) { return 1.0 / (1.0 + v); });
}
inline Var sqrt(const Var& x) {
  return unary(x, [](double v) { return std::sqrt(v); }, [](double v, double) { return 0.5 / std::sqrt(v); });
}
inline Var rsqrt(const Var& x) {
  return unary(x, [](double v) { return 1.0 / std::sqrt(v); }, [](double v, double) { return -0.5 * std::pow(v, -1.5); });
}
inline Var abs(const Var& x) {
  return unary(x, [](double v) { return std::fabs(v); },
               [](double v, double) { return v > 0 ? 1.0 : v < 0 ? -1.0 : 0.0; });
}
inline Var sin(const Var& x) {
  return unary(x, [](double v) { return std::sin(v); }, [](double v, double) { return std::cos(v); });
}
inline Var cos(const Var& x) {
  return unary(x, [](double v) { return std::cos(v); }, [](double v, double) { return -std::sin(v); });
}
inline Var tanh(const Var& x) {
  return unary(x, [](double v) { return std::tanh(v); },
               [](double v, double) { return 1.0 / (std::cosh(v) * std::cosh(v)); });
}
inline Var sigmoid(const Var& x) {
  return unary(x, [](double v) { return v >= 0 ? 1.0 / (1.0 + std::exp(-v)) : std::exp(v) / (1.0 + std::exp(v)); },
               [](double, double y) { return y * (1.0 - y); });
}
inline Var relu(const Var& x) {
  return unary(x, [](double v) { return v > 0 ? v : 0.0; }, [](double v, double) { return v > 0 ? 1.0 : 0.0; });
}
inline Var leaky_relu(const Var& x, double slope = 0.01) {
  return unary(x, [slope](double v) { return v > 0 ? v : slope * v; },
               [slope](double v, double) { return v > 0 ? 1.0 : slope; });
}
inline Var elu(const Var& x, double alpha = 1.0) {
  return unary(x, [alpha](double v) { return v > 0 ? v : alpha * std::expm1(v); },
               [alpha](double v, double) { return v > 0 ? 1.0 : alpha * std::exp(v); });
}
inline Var gelu(const Var& x) {
  const double pi = 3.14159265358979323846;
  return unary(x, [](double v) { return 0.5 * v * std::erfc(-v / std::sqrt(2.0)); },
               [pi](double v, double) {
                 return 0.5 * std::erfc(-v / std::sqrt(2.0)) + v * std::exp(-0.5 * v * v) / std::sqrt(2.0 * pi);
               });
}
inline Var gelu_tanh(const Var& x) {
  const double pi = 3.14159265358979323846;
  const double k = std::sqrt(2.0 / pi), c = 0.044715;
  return unary(x, [=](double v) { return 0.5 * v * (1.0 + std::tanh(k * (v + c * v * v * v))); },
               [=](double v, double) {
                 const double u = k * (v + c * v * v * v), sech2 = 1.0 / (std::cosh(u) * std::cosh(u));
                 return 0.5 * (1.0 + std::tanh(u)) + 0.5 * v * sech2 * k * (1.0 + 3.0 * c * v * v);
               });
}
inline Var silu(const Var& x) {
  return unary(x, [](double v) { return v / (1.0 + std::exp(-v)); },
               [](double v, double) {
                 const double s = 1.0 / (1.0 + std::exp(-v));
                 return s + v * s * (1.0 - s);
               });
}
inline Var softplus(const Var& x, double beta = 1.0, double threshold = 20.0) {
  return unary(x, [=](double v) { return beta * v > threshold ? v : std::log1p(std::exp(beta * v)) / beta; },
               [=](double v, double) { return beta * v > threshold ? 1.0 : 1.0 / (1.0 + std::exp(-beta * v)); });
}
/// The gradient passes where lo <= x <= hi, as in PyTorch.
inline Var clamp(const Var& x, double lo, double hi) {
  return unary(x, [=](double v) { return std::min(std::max(v, lo), hi); },
               [=](double v, double) { return (v >= lo && v <= hi) ? 1.0 : 0.0; });
}

}  // namespace refad
