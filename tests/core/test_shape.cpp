// SPDX-License-Identifier: Apache-2.0
#include <catch2/catch.hpp>
#include <sinter/core/shape.hpp>

using sinter::Shape;

TEST_CASE("broadcast_shapes follows NumPy's rules", "[core][shape]") {
  CHECK(sinter::broadcast_shapes({3, 1, 4}, {5, 4}, "add") == Shape{3, 5, 4});
  CHECK(sinter::broadcast_shapes({}, {2, 3}, "add") == Shape{2, 3});
  CHECK(sinter::broadcast_shapes({0, 1}, {1, 3}, "add") == Shape{0, 3});
}

TEST_CASE("a broadcasting mismatch names the op and both shapes", "[core][shape][error]") {
  CHECK_THROWS_WITH(sinter::broadcast_shapes({2, 3}, {4}, "mul"),
                    Catch::Contains("sinter: mul: the size of tensor a (3) must match the size of tensor b (4)") &&
                        Catch::Contains("[2, 3] and [4]"));
}

TEST_CASE("contiguous strides and broadcast strides", "[core][shape]") {
  CHECK(sinter::contiguous_strides({2, 3, 4}) == Shape{12, 4, 1});
  CHECK(sinter::broadcast_strides({3, 1}, {1, 1}, {2, 3, 5}) == Shape{0, 1, 0});
  CHECK(sinter::numel_of({}) == 1);
  CHECK(sinter::numel_of({2, 0}) == 0);
}

TEST_CASE("dims wrap like Python and out-of-range dims are errors", "[core][shape][error]") {
  CHECK(sinter::normalize_dim(-1, 3, "sum") == 2);
  CHECK_THROWS_WITH(sinter::normalize_dim(3, 3, "sum"),
                    Catch::StartsWith("sinter: sum: dimension out of range (expected to be in range of [-3, 2], but got 3)"));
  CHECK_THROWS_WITH(Shape::filled(9, 1), Catch::Contains("rank 9"));
}
