// SPDX-License-Identifier: Apache-2.0
// sinter's built-in SGEMM (backend/cpu/gemm.hpp) and the system CBLAS (OpenBLAS) on the same operands, alternating
// in one process: square sizes and the skinny shapes of MLP training with their backward transposes. Prints GFLOP/s
// and the sinter/OpenBLAS ratio per shape. Usage: gemm_vs_openblas [threads] (run.sh picks OpenBLAS's OpenMP build,
// so both libraries use the same thread pool size). Built twice: with -march=native (keys gemm.*) and without -march
// (SINTER_BENCH_PORTABLE, keys gemm_portable.*), where the GEMM finds the CPU's wider kernels at run time.
#include <cblas.h>
#include <omp.h>

#include <cstdlib>
#include <string>
#include <vector>

#include <sinter/sinter.hpp>

#include "../peaks.hpp"
#include "timing.hpp"

namespace {
#if defined(SINTER_BENCH_PORTABLE)
constexpr const char* kKeyPrefix = "gemm_portable.";
#else
constexpr const char* kKeyPrefix = "gemm.";
#endif

struct Shape {
  const char* name;
  int M, N, K;
  bool ta, tb;  // A is K x M in memory (read transposed); B is N x K in memory
  int ldb = 0;  // B's row stride when it is not its width (conv2d's column matrix: column_stride)
};
}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  sinter::set_num_threads(threads);
  omp_set_num_threads(threads);
  bench::result(("peak.fma.t" + std::to_string(threads)).c_str(), bench::fma_peak_gflops(threads), "GFLOP/s");
  const std::vector<Shape> shapes = {
      {"square_256", 256, 256, 256, false, false},    {"square_512", 512, 512, 512, false, false},
      {"square_1024", 1024, 1024, 1024, false, false}, {"square_2048", 2048, 2048, 2048, false, false},
      {"mlp_fwd_64x256x784", 64, 256, 784, false, true},  // x . W^T of Linear(784, 256) at batch 64
      {"mlp_dx_64x784x256", 64, 784, 256, false, false},  // dy . W
      {"mlp_dw_256x784x64", 256, 784, 64, true, false},   // dy^T . x
      {"mlp_fwd_256x256x784", 256, 256, 784, false, true},  // the same layer at batch 256
      {"mlp_fwd_64x128x256", 64, 128, 256, false, true},    // Linear(256, 128) at batch 64
      {"mlp_fwd_256x128x256", 256, 128, 256, false, true},
      {"mlp_dw_128x256x256", 128, 256, 256, true, false},
      // one 32x32 image of a 3x3 64 -> 64 convolution (conv2d's CPU path): W . cols with the columns' rows 1040
      // floats apart, the weight gradient gout . cols^T, the column gradient W^T . gout
      {"conv3x3_fwd_64x1024x576", 64, 1024, 576, false, false, 1040},
      {"conv3x3_dw_64x576x1024", 64, 576, 1024, false, true, 1040},
      {"conv3x3_dcols_576x1024x64", 576, 1024, 64, true, false},
  };
  sinter::manual_seed(1);
  for (const auto& s : shapes) {
    // sinter's tensors are 64-byte aligned; both libraries get the same three buffers.
    const int ldb = s.ldb ? s.ldb : (s.tb ? s.K : s.N);
    const sinter::Tensor at = sinter::randn({std::int64_t{s.M} * s.K});
    const sinter::Tensor bt = sinter::randn({std::int64_t{s.tb ? s.N : s.K} * ldb});
    sinter::Tensor ct = sinter::zeros({std::int64_t{s.M} * s.N});
    const float *a = at.data(), *b = bt.data();
    float* c = ct.data();
    const std::int64_t rsa = s.ta ? 1 : s.K, csa = s.ta ? s.M : 1, rsb = s.tb ? 1 : ldb, csb = s.tb ? ldb : 1;
    const double ours = bench::median_seconds([&] {
      sinter::cpu::gemm<float>(s.M, s.N, s.K, a, rsa, csa, b, rsb, csb, c, s.N, false);
    });
    const double theirs = bench::median_seconds([&] {
      cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans, s.tb ? CblasTrans : CblasNoTrans, s.M, s.N, s.K,
                  1.0f, a, s.ta ? s.M : s.K, b, ldb, 0.0f, c, s.N);
    });
    const double flop = 2.0 * s.M * s.N * s.K;
    const std::string key = std::string(kKeyPrefix) + s.name + ".t" + std::to_string(threads);
    bench::result((key + ".sinter").c_str(), flop / ours * 1e-9, "GFLOP/s");
    bench::result((key + ".openblas").c_str(), flop / theirs * 1e-9, "GFLOP/s");
    bench::result((key + ".ratio_sinter_over_openblas").c_str(), theirs / ours, "x");
  }
}
