// SPDX-License-Identifier: Apache-2.0
// Rows shorter than a SIMD batch, packed into batches that span rows (backend/cpu/short_rows.hpp): forward and
// backward against the definition in double, for every short length, row counts that leave partial blocks and
// split rows between threads, operands and destinations of any strides, and the exact kernel counts.
#include <support/reference.hpp>

namespace st = sinter;

namespace {

/// y = tanh(x * b + a), x [rows, len], b [len] (a bias: its gradient sums over rows), a [rows, 1] (its gradient sums
/// over each row), forward then backward twice (the second accumulates), against the definition.
template <class T>
void check_bias_statement(std::int64_t rows, std::int64_t len) {
  INFO("rows " << rows << ", len " << len << (sizeof(T) == 8 ? ", double" : ", float"));
  using TT = st::TensorOf<T>;
  TT x = st::randn<T>({rows, len}).requires_grad_(), b = st::randn<T>({len}).requires_grad_(),
     a = st::randn<T>({rows, 1}).requires_grad_(), g = st::randn<T>({rows, len});
  const auto xv = x.to_vector(), bv = b.to_vector(), av = a.to_vector(), gv = g.to_vector();
  auto y_at = [&](std::int64_t i) { return std::tanh(double(xv[i]) * bv[i % len] + av[i / len]); };
  const double tol = sizeof(T) == 8 ? 1e-10 : 1e-5;
  st::reset_counters();
  TT y = st::tanh(x * b + a);
  CHECK(st::counters().kernels == 1);
  testing::check_values(y, y_at, tol, tol);
  for (int pass = 1; pass <= 2; ++pass) {
    st::reset_counters();
    y.backward(g, true);
    CHECK(st::counters().kernels == 1);  // one kernel writes all three gradients, folds included
    std::vector<double> gb(static_cast<std::size_t>(len), 0.0), ga(static_cast<std::size_t>(rows), 0.0);
    for (std::int64_t i = 0; i < rows * len; ++i) {
      const double d = gv[i] * (1 - y_at(i) * y_at(i));
      gb[i % len] += d * xv[i];
      ga[i / len] += d;
    }
    testing::check_values(x.grad(), [&](std::int64_t i) { return pass * gv[i] * (1 - y_at(i) * y_at(i)) * bv[i % len]; },
                          tol, tol);
    // A sum over thousands of float rows: the reference is exact, the kernel sums in float.
    const double fold_tol = sizeof(T) == 8 ? 1e-9 : 2e-4;
    testing::check_values(b.grad(), [&](std::int64_t i) { return pass * gb[i]; }, fold_tol, fold_tol);
    testing::check_values(a.grad(), [&](std::int64_t i) { return pass * ga[i]; }, fold_tol, fold_tol);
  }
}

}  // namespace

TEST_CASE("packed short rows agree with the definition forward and backward", "[backend][short_rows]") {
  st::manual_seed(11);
  // Lengths 2-17, 20, 24 and 31-33 cover every length packed for batches of 4 and 8 lanes (up to 7 and 15), the
  // packed lengths of 16 lanes (up to 31) on both sides of one batch, and the first ones that are not packed; 1, 3
  // and 37 rows leave a partial block; 7001 rows of 10 (70010 elements) split between two threads inside a row both
  // ways.
  std::vector<std::int64_t> lengths;
  for (std::int64_t len = 2; len <= 17; ++len) lengths.push_back(len);
  for (std::int64_t len : {20, 24, 31, 32, 33}) lengths.push_back(len);
  for (int threads : {1, 2}) {
    st::set_num_threads(threads);
    INFO("threads " << threads);
    for (std::int64_t len : lengths)
      for (std::int64_t rows : {1, 3, 37, 301}) {
        check_bias_statement<float>(rows, len);
        check_bias_statement<double>(rows, len);
      }
    check_bias_statement<float>(7001, 10);
    check_bias_statement<double>(7001, 5);
  }
  st::set_num_threads(0);
}

TEST_CASE("packed short rows read and write operands of any strides", "[backend][short_rows]") {
  st::manual_seed(12);
  for (std::int64_t len : {3, 10, 15}) {
    for (std::int64_t rows : {5, 999}) {
      INFO("rows " << rows << ", len " << len);
      // xt: the transpose of a [len, rows] tensor (row stride 1, column stride rows): gathered lane by lane.
      st::Tensor xt = st::randn({len, rows}).t(), b = st::randn({len});
      const auto xv = xt.contiguous().to_vector(), bv = b.to_vector();
      testing::check_values(st::Tensor(st::exp(xt) * b),
                            [&](std::int64_t i) { return std::exp(double(xv[i])) * bv[i % len]; });
      // A destination of the same strides: z's transpose, added to in place.
      st::Tensor z = st::ones({len, rows});
      st::Tensor zt = z.t();
      {
        st::NoGradGuard no_grad;
        zt += xt * b;
      }
      testing::check_values(zt, [&](std::int64_t i) { return 1 + double(xv[i]) * bv[i % len]; });
      // A column [rows, 1] read near its end (its last batches cannot load a whole window) and a bias read through
      // a stride of 2 (every other element of a [2 * len] tensor).
      st::Tensor c = st::randn({rows, 1}), wide = st::randn({2 * len});
      st::Tensor every_other = wide.slice(0, 0, 2 * len, 2);
      const auto cv = c.to_vector(), wv = wide.to_vector();
      testing::check_values(st::Tensor(xt * every_other - c), [&](std::int64_t i) {
        return double(xv[i]) * wv[2 * (i % len)] - cv[i / len];
      });
    }
  }
}
