// SPDX-License-Identifier: Apache-2.0
// The element-type loops' shared machinery (backend/cpu/elementwise.hpp) that the statement tests do not see
// directly: where the folding writer puts each thread's partials, that combining them is the plain sum, and how a
// backward kernel's chunk of adjoints lands in every kind of gradient destination.
#include <algorithm>
#include <cstdint>
#include <vector>

#include <support/reference.hpp>

namespace {

/// Each thread's partial buffer of a fold starts on its own cache line and ends before the next thread's line: a
/// broadcast bias's few sums sharing a line with the next thread's made 2-thread backwards slower than 1-thread ones.
template <class T>
void check_partials_apart() {
  using Writer = sinter::cpu::FoldingWriter<T, sinter::expr::ReduceKind::Sum>;
  sinter::OperandGeometry geo;  // a destination read as one row: row_offset is 0
  geo.inner = 1;
  const std::int64_t idx[1] = {0};
  for (std::int64_t size : {1, 3, 10, 16, 17, 32, 33, 100})
    for (int nt : {1, 2, 3, 4}) {
      INFO("size " << size << ", threads " << nt << (sizeof(T) == 8 ? ", double" : ", float"));
      Writer w(geo, size, nt);
      for (int t = 0; t < nt; ++t) w.begin_thread(t);
      for (int t = 0; t < nt; ++t) {
        const auto start = reinterpret_cast<std::uintptr_t>(w.row(t, idx).p);
        CHECK(start % 64 == 0);
        if (t + 1 < nt) {
          const auto last = reinterpret_cast<std::uintptr_t>(w.row(t, idx).p + size - 1);
          const auto next = reinterpret_cast<std::uintptr_t>(w.row(t + 1, idx).p);
          CHECK(last / 64 < next / 64);
        }
      }
      // thread t adds t + 1 to every element: the combined sum is nt (nt + 1) / 2, then accumulated onto 0.5
      for (int t = 0; t < nt; ++t) {
        auto r = w.row(t, idx);
        for (std::int64_t j = 0; j < size; ++j) Writer::add(r, j, T(t + 1));
      }
      std::vector<T> dst(static_cast<std::size_t>(size), T(0.5));
      w.combine_into(dst.data(), true, nt);
      for (T v : dst) CHECK(v == T(0.5) + T(nt * (nt + 1) / 2));
    }
}

/// write_gradients with a chunk of `count` batches, the last of n_last lanes, into each kind of destination: a plain
/// row written (an input two leaves read: their adjoints summed), a plain row added to, a strided row added to (no
/// statement makes one today: gradient buffers are contiguous) and a fold into one sum.
template <class T>
void check_gradient_chunk(int count, int n_last) {
  using V = sinter::cpu::vec<T>;
  using Writer = sinter::cpu::FoldingWriter<T, sinter::expr::ReduceKind::Sum>;
  constexpr int W = static_cast<int>(V::size);
  INFO(count << " batches, the last of " << n_last << " lanes" << (sizeof(T) == 8 ? ", double" : ", float"));
  const std::vector<int> slot_of_leaf = {0, 1, 0, 2, 3};  // leaves 0 and 2 read input 0
  constexpr int kLeaves = 5;
  const sinter::cpu::LeavesOfInputs leaves(slot_of_leaf, 4);
  const auto value = [](int b, int l, int lane) { return T(100 * b + 10 * l + lane); };
  std::vector<V> adj;
  for (int b = 0; b < count; ++b)
    for (int l = 0; l < kLeaves; ++l) {
      alignas(64) T lanes[W];
      for (int k = 0; k < W; ++k) lanes[k] = value(b, l, k);
      adj.push_back(V::load_aligned(lanes));
    }
  const std::int64_t j = W, len = j + std::int64_t(count) * W + W;  // lanes before and after the chunk stay
  std::vector<T> plain(static_cast<std::size_t>(len), T(-1)), added(plain.size(), T(1));
  std::vector<T> strided(plain.size() * 3, T(2));
  std::vector<sinter::expr::GradDestination<T>> d(4);
  d[0].data = plain.data();
  d[0].geo.inner = 1;
  d[1].data = added.data();
  d[1].geo.inner = 1;
  d[1].accumulate = true;
  d[2].data = strided.data();
  d[2].geo.inner = 3;
  d[2].accumulate = true;
  T sum = 0;
  d[3].data = &sum;
  d[3].folded = true;  // geo.inner 0: every lane into one sum
  Writer fold(d[3].geo, 1, 1);
  fold.begin_thread(0);
  const std::int64_t idx[1] = {0};
  std::vector<typename Writer::Row> frows(4);
  frows[3] = fold.row(0, idx);
  T* rows[4] = {plain.data(), added.data(), strided.data(), nullptr};
  sinter::cpu::write_gradients<T>(d.data(), 4, leaves, kLeaves, rows, frows.data(), j, adj.data(), count, n_last);
  Writer::end_row(frows[3]);
  fold.combine_into(&sum, false, 1);
  T want_sum = 0;
  for (std::int64_t i = 0; i < len; ++i) {
    const std::int64_t b = (i - j) / W, k = (i - j) % W;
    const bool written = i >= j && b < count && (b + 1 < count || k < n_last);
    const int bi = static_cast<int>(b), ki = static_cast<int>(k);
    CHECK(plain[static_cast<std::size_t>(i)] == (written ? value(bi, 0, ki) + value(bi, 2, ki) : T(-1)));
    CHECK(added[static_cast<std::size_t>(i)] == (written ? T(1) + value(bi, 1, ki) : T(1)));
    CHECK(strided[static_cast<std::size_t>(i * 3)] == (written ? T(2) + value(bi, 3, ki) : T(2)));
    CHECK(strided[static_cast<std::size_t>(i * 3 + 1)] == T(2));
    if (written) want_sum += value(bi, 4, ki);
  }
  CHECK(sum == want_sum);
}

}  // namespace

TEST_CASE("a chunk of adjoints is written, added or folded into each gradient, the last batch only in part",
          "[backend][backward]") {
  constexpr int Wf = static_cast<int>(sinter::cpu::vec<float>::size);
  constexpr int Wd = static_cast<int>(sinter::cpu::vec<double>::size);
  for (int count : {1, 2, 8})
    for (int n_last : {1, Wf / 2 + 1, Wf}) check_gradient_chunk<float>(count, std::min(n_last, Wf));
  for (int count : {1, 3})
    for (int n_last : {1, Wd}) check_gradient_chunk<double>(count, n_last);
}

TEST_CASE("a fold's per-thread partials lie on separate cache lines and combine to the sum", "[backend][fold]") {
  check_partials_apart<float>();
  check_partials_apart<double>();
}
