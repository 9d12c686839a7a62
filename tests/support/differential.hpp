// SPDX-License-Identifier: Apache-2.0
// Differential check of one element-wise statement: the same generic lambda runs through sinter (one fused kernel
// each way, asserted) and through the op-by-op double reference of ref_autodiff.hpp; values and every leaf's gradient
// must agree. Leaves may be non-contiguous views (transposed, strided, offset) and may repeat in the formula.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <sinter/sinter.hpp>
#include <support/ref_autodiff.hpp>
#include <support/reference.hpp>

namespace testing {

/// How a leaf's memory is laid out: the values are the same, only the strides and offset differ.
enum class Layout { Contiguous, Transposed, Strided, Offset };

struct LeafSpec {
  sinter::Shape shape;
  Layout layout = Layout::Contiguous;
};

/// Numbers uniform in [lo, hi], rounded to float so the float and double runs see the same inputs.
inline std::vector<double> draw(std::mt19937_64& rng, std::int64_t n, double lo, double hi) {
  std::vector<double> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = static_cast<float>(lo + (hi - lo) * (static_cast<double>(rng() >> 11) * 0x1.0p-53));
  return v;
}

/// A leaf with the given values (row-major over spec.shape) in the given layout; it requires grad.
template <class T>
sinter::TensorOf<T> make_leaf(const LeafSpec& spec, const std::vector<double>& values) {
  namespace st = sinter;
  const std::vector<T> tv(values.begin(), values.end());
  const st::TensorOf<T> dense = st::from_vector<T>(tv, spec.shape);
  const int r = spec.shape.size();
  st::Shape base_shape = spec.shape;
  st::TensorOf<T> view;
  switch (spec.layout) {
    case Layout::Contiguous:
      view = dense.clone();
      break;
    case Layout::Transposed:  // the last two dims swapped in memory
      std::swap(base_shape[r - 1], base_shape[r - 2]);
      view = st::zeros<T>(base_shape).transpose(-1, -2);
      break;
    case Layout::Strided:  // every other element of a row twice as long
      base_shape[r - 1] *= 2;
      view = st::zeros<T>(base_shape).slice(-1, 0, base_shape[r - 1], 2);
      break;
    case Layout::Offset:  // starts one row into its storage
      base_shape[0] += 1;
      view = st::zeros<T>(base_shape).slice(0, 1);
      break;
  }
  if (spec.layout != Layout::Contiguous) view.copy_(dense);
  return view.requires_grad_();
}

/// |got - want| within a tolerance relative to the element and to the tensor's largest magnitude.
inline bool close(double got, double want, double scale, bool single) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  const double rel = single ? 2e-3 : 1e-9, abs_scale = single ? 2e-4 : 1e-10, floor = single ? 1e-5 : 1e-12;
  return std::fabs(got - want) <= rel * std::fabs(want) + abs_scale * scale + floor;
}

template <class T>
void compare(const char* what, const sinter::TensorOf<T>& got, const refad::Dims& shape, const std::vector<double>& want) {
  REQUIRE(got.shape() == sinter::Shape(shape));
  double scale = 0;
  for (double w : want)
    if (std::isfinite(w)) scale = std::max(scale, std::fabs(w));
  int bad = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const double have = at(got, got.shape(), i), w = want[static_cast<std::size_t>(i)];
    if (close(have, w, scale, sizeof(T) == 4)) continue;
    if (++bad <= 3) FAIL_CHECK(what << " element " << i << " of " << got.shape() << ": sinter " << have
                                    << ", reference " << w);
  }
  CHECK(bad == 0);
}

/// Runs f through sinter in element type T and through the double reference; leaves come from specs, drawn from seed.
template <class T, class F>
void check_statement(F f, const std::vector<LeafSpec>& specs, std::uint64_t seed) {
  namespace st = sinter;
  std::mt19937_64 rng(seed);
  std::vector<std::vector<double>> values;
  for (const auto& s : specs) values.push_back(draw(rng, st::numel_of(s.shape), -2.0, 2.0));

  std::vector<st::TensorOf<T>> leaves;
  std::vector<refad::Var> refs;
  for (std::size_t k = 0; k < specs.size(); ++k) {
    leaves.push_back(make_leaf<T>(specs[k], values[k]));
    refs.emplace_back(refad::Dims(specs[k].shape.begin(), specs[k].shape.end()), values[k]);
  }

  refad::clear_tape();
  const refad::Var want = [&] {
    if constexpr (requires { f(refs[0]); }) return f(refs[0]);
    else if constexpr (requires { f(refs[0], refs[1]); }) return f(refs[0], refs[1]);
    else if constexpr (requires { f(refs[0], refs[1], refs[2]); }) return f(refs[0], refs[1], refs[2]);
    else return f(refs[0], refs[1], refs[2], refs[3]);
  }();

  st::reset_counters();
  const st::TensorOf<T> y = [&] {
    if constexpr (requires { f(leaves[0]); }) return st::TensorOf<T>(f(leaves[0]));
    else if constexpr (requires { f(leaves[0], leaves[1]); }) return st::TensorOf<T>(f(leaves[0], leaves[1]));
    else if constexpr (requires { f(leaves[0], leaves[1], leaves[2]); })
      return st::TensorOf<T>(f(leaves[0], leaves[1], leaves[2]));
    else return st::TensorOf<T>(f(leaves[0], leaves[1], leaves[2], leaves[3]));
  }();
  CHECK(st::counters().kernels == 1);
  CHECK(st::counters().allocations == 1);
  compare("forward", y, want.shape(), want.values());

  const auto cot = draw(rng, static_cast<std::int64_t>(want.values().size()), -1.0, 1.0);
  const std::vector<T> cot_t(cot.begin(), cot.end());
  const auto g = st::from_vector<T>(cot_t, y.shape());
  refad::backward(want, cot);
  st::reset_counters();
  y.backward(g);
  CHECK(st::counters().kernels == 1);  // one kernel writes every leaf's gradient, broadcast ones included
  for (std::size_t k = 0; k < leaves.size(); ++k) {
    INFO("gradient of leaf x" << k << " of shape " << specs[k].shape);
    REQUIRE(leaves[k].grad().defined());
    compare("backward", leaves[k].grad(), refs[k].shape(), refs[k].grad());
  }
}

}  // namespace testing
