// SPDX-License-Identifier: Apache-2.0
// Catch2's main for the CUDA tests: without a GPU they are skipped (exit code 77, ctest's SKIP_RETURN_CODE).
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cuda_runtime.h>

#include <cstdio>

int main(int argc, char** argv) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    std::printf("no CUDA device: the CUDA tests are skipped\n");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
