// SPDX-License-Identifier: Apache-2.0
// The element-type loops' shared machinery (backend/cpu/elementwise.hpp) that the statement tests do not see
// directly: where the folding writer puts each thread's partials, and that combining them is the plain sum.
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

}  // namespace

TEST_CASE("a fold's per-thread partials lie on separate cache lines and combine to the sum", "[backend][fold]") {
  check_partials_apart<float>();
  check_partials_apart<double>();
}
