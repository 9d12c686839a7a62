// SPDX-License-Identifier: Apache-2.0
// A packed, cache-blocked GEMM with a register-tiled micro-kernel (gemm_kernels.hpp, for the instruction set picked
// when the program runs): C (+)= A . B for any strides of A and B (so transposes are free), float or double. Blocks of B and A are packed into panels that stream through the
// micro-kernel; tiles of C are spread over threads. The performance issue tunes the block sizes. Programs linked with
// sinter::blas (SINTER_USE_CBLAS) send large GEMMs whose operands have a unit stride to the system CBLAS instead.
#pragma once

#include <algorithm>
#include <climits>
#include <type_traits>
#include <cstdint>
#include <vector>

#if defined(SINTER_USE_CBLAS)  // set by the sinter::blas target
#include <cblas.h>
#endif

#include <sinter/backend/cpu/parallel.hpp>
#include <sinter/backend/cpu/gemm_kernels.hpp>
#include <sinter/backend/cpu/simd.hpp>
#include <sinter/core/counters.hpp>

namespace sinter::cpu {

/// Work a GEMM applies to each block of C (rows [i0, i1), columns [j0, j1)) as soon as the block is final: a fused
/// element-wise epilogue (cpu::TileStatement), run by the thread that computed the block while it is in its cache.
/// A function pointer, so the GEMM is compiled once whatever the epilogue's expression.
struct TileEpilogue {
  void (*fn)(const void* ctx, std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) = nullptr;
  const void* ctx = nullptr;
  void operator()(std::int64_t i0, std::int64_t i1, std::int64_t j0, std::int64_t j1) const {
    if (fn) fn(ctx, i0, i1, j0, j1);
  }
};

/// Cache blocking: a KC-deep panel of A (all rows) and of B (up to NC columns) are packed at a time.
inline constexpr std::int64_t kGemmKC = 256;
inline constexpr std::int64_t kGemmNC = 1024;

/// C (+)= A . B^T with A (M x K, row stride lda) and Bt (N x K, row stride ldb) both contiguous along k: the form of
/// Linear's forward, x . W^T. Packing such a B means transposing it, which costs as much as the arithmetic when M is
/// small; dot products read both operands as they are. Threads take disjoint column ranges of C.
template <class T>
void gemm_dot(const GemmKernels<T>& kern, std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t lda,
              const T* Bt, std::int64_t ldb, T* C, std::int64_t ldc, bool accumulate, int nthreads,
              const TileEpilogue& epilogue) {
  constexpr std::int64_t RN = kDotCols;
  const std::int64_t RM = kern.dot_rows, nblocks = (N + RN - 1) / RN;
  // Every band of RM rows reads all of the thread's rows of Bt: in chunks of columns that stay in L2 (256 KiB), so
  // a Bt larger than L2 is read from memory once, not once per band (conv2d's weight gradient: 576 rows of 4 KiB
  // each, 11 bands).
  const std::int64_t chunk =
      std::max<std::int64_t>(RN, (std::int64_t{1} << 18) / (K * static_cast<std::int64_t>(sizeof(T))) / RN * RN);
  parallel(nthreads, [&](int tid, int nth) {
    const std::int64_t j0 = nblocks * tid / nth * RN, j1 = std::min(N, nblocks * (tid + 1) / nth * RN);
    for (std::int64_t c0 = j0; c0 < j1; c0 += chunk) {
      const std::int64_t c1 = std::min(j1, c0 + chunk);
      for (std::int64_t i = 0; i < M; i += RM) {
        const std::int64_t rm = std::min(RM, M - i);
        kern.dot(static_cast<int>(rm), K, A + i * lda, lda, Bt + c0 * ldb, ldb, C + i * ldc + c0, ldc, c1 - c0,
                 accumulate);
        epilogue(i, i + rm, c0, c1);  // these columns of the band are final
      }
    }
  });
}

#if defined(SINTER_USE_CBLAS)
/// How CBLAS can read an operand with element (r, c) at p[r * rs + c * cs]: row-major as stored (NoTrans) or as the
/// transpose of a row-major matrix (Trans), with its leading dimension; ok is false when neither stride is 1.
struct CblasOperand {
  bool ok = false;
  CBLAS_TRANSPOSE trans = CblasNoTrans;
  std::int64_t ld = 0;
};
inline CblasOperand cblas_operand(std::int64_t rows, std::int64_t cols, std::int64_t rs, std::int64_t cs) {
  if (cs == 1 && rs >= std::max<std::int64_t>(cols, 1) && rs <= INT_MAX) return {true, CblasNoTrans, rs};
  if (rs == 1 && cs >= std::max<std::int64_t>(rows, 1) && cs <= INT_MAX) return {true, CblasTrans, cs};
  return {};
}

/// Whether gemm() sends this problem to the system CBLAS: large enough to pay for the call (the same size at which
/// the built-in GEMM starts threads), every extent an int, and strides CBLAS can describe.
template <class T>
bool uses_cblas(std::int64_t M, std::int64_t N, std::int64_t K, std::int64_t rsa, std::int64_t csa, std::int64_t rsb,
                std::int64_t csb, std::int64_t ldc) {
  return M * N * K >= (std::int64_t{1} << 18) && M <= INT_MAX && N <= INT_MAX && K <= INT_MAX && ldc <= INT_MAX &&
         ldc >= N && cblas_operand(M, K, rsa, csa).ok && cblas_operand(K, N, rsb, csb).ok;
}
#endif

/// Whether rows this many bytes apart fall in different L1 sets, so a panel of B read in place (kGemmKC rows of two
/// vectors each) stays in L1: an odd number of whole cache lines. At a multiple of 4 KiB every row maps to the same
/// sets (conv2d's 576 x 1024 column matrix read in place: 0.63 ms, packed 0.56 ms, in place at 1040 floats 0.41 ms).
inline bool rows_spread_over_l1(std::size_t row_bytes) { return row_bytes % 64 == 0 && (row_bytes / 64) % 2 == 1; }

/// Packs mr <= MR rows of A (element (r, k) at a[r * rsa + k * csa]) over kc steps into a panel of MR values per k,
/// zeros past row mr: the layout the micro-kernel broadcasts from.
template <class T, int MR>
void pack_a_panel(T* dst, const T* a, std::int64_t rsa, std::int64_t csa, std::int64_t kc, int mr) {
  if (rsa == 1) {  // A transposed in memory (a weight gradient's x^T): its panel's rows are adjacent
    for (std::int64_t k = 0; k < kc; ++k)
      for (int r = 0; r < MR; ++r) dst[k * MR + r] = r < mr ? a[k * csa + r] : T(0);
    return;
  }
  if (csa == 1 && mr == MR) {
    // Rows contiguous along k: k outer, so the panel is written in order. Row by row instead (each store MR values
    // after the last), it was most of the packing's 5% of perf's samples in bench/compare/gemm_vs_openblas.
    const T* rows[MR];
    SINTER_UNROLL
    for (int r = 0; r < MR; ++r) rows[r] = a + r * rsa;
    for (std::int64_t k = 0; k < kc; ++k) {
      SINTER_UNROLL
      for (int r = 0; r < MR; ++r) dst[k * MR + r] = rows[r][k];
    }
    return;
  }
  for (int r = 0; r < MR; ++r) {
    if (r >= mr) {
      for (std::int64_t k = 0; k < kc; ++k) dst[k * MR + r] = T(0);
      continue;
    }
    const T* src = a + r * rsa;
    for (std::int64_t k = 0; k < kc; ++k) dst[k * MR + r] = src[k * csa];
  }
}

/// C[M x N] (row-major, leading dim ldc) = (accumulate ? C : 0) + A[M x K] . B[K x N], where element (i, k) of A is
/// A[i * rsa + k * csa] and element (k, j) of B is B[k * rsb + j * csb]. One kernel.
/// gemm on a given number of threads, not counted as a kernel: for kernels that run many small products inside
/// their own parallel loop (conv2d, one image per iteration).
template <class T>
void gemm_on(int nthreads, std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t rsa,
             std::int64_t csa, const T* Bm, std::int64_t rsb, std::int64_t csb, T* C, std::int64_t ldc, bool accumulate,
             const TileEpilogue& epilogue = {}) {
  const GemmKernels<T>& kern = gemm_kernels<T>();
  const std::int64_t MR = kern.tile_rows;
  const std::int64_t NR = 2 * std::int64_t{kern.W};
  if (M == 0 || N == 0) return;
  if (K == 0) {
    if (!accumulate)
      for (std::int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, T(0));
    epilogue(0, M, 0, N);
    return;
  }
#if defined(SINTER_USE_CBLAS)
  if (uses_cblas<T>(M, N, K, rsa, csa, rsb, csb, ldc)) {
    const CblasOperand a = cblas_operand(M, K, rsa, csa), b = cblas_operand(K, N, rsb, csb);
    const auto m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
    const T beta = accumulate ? T(1) : T(0);
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, a.trans, b.trans, m, n, k, 1.0f, A, static_cast<int>(a.ld), Bm, static_cast<int>(b.ld),
                  beta, C, static_cast<int>(ldc));
    else
      cblas_dgemm(CblasRowMajor, a.trans, b.trans, m, n, k, 1.0, A, static_cast<int>(a.ld), Bm, static_cast<int>(b.ld),
                  beta, C, static_cast<int>(ldc));
    // CBLAS offers no hook per block: the epilogue follows over row bands, one per thread.
    if (epilogue.fn)
      parallel(nthreads, [&](int tid, int nth) { epilogue(M * tid / nth, M * (tid + 1) / nth, 0, N); });
    return;
  }
#endif
  // A . B^T with few rows of A or a long k: dot products beat packing (a transpose of B) for Linear's forward
  // (bench/compare/gemm_vs_openblas: 64x256x784 at 1.2x/1.4x OpenBLAS with 1/2 threads, 0.7x/0.5x packed).
  if (csa == 1 && rsb == 1 && K >= 32 && M <= 256 && (M <= 64 || K >= 512))
    return gemm_dot<T>(kern, M, N, K, A, rsa, Bm, csb, C, ldc, accumulate, nthreads, epilogue);
  thread_local std::vector<T, xsimd::aligned_allocator<T, 64>> bpack, apack_shared;
  // k in equal blocks of at most kGemmKC (rounded up to 8): K = 576 as 3 x 192, not 256 + 256 + 64, whose last block
  // would load and store its tiles of C for a quarter of the arithmetic.
  const std::int64_t kblocks = (K + kGemmKC - 1) / kGemmKC;
  const std::int64_t kc_step = ((K + kblocks - 1) / kblocks + 7) / 8 * 8;
  const std::int64_t mpanels = (M + MR - 1) / MR;
  // With few rows of A each B panel is used only a few times, so packing it would cost as much as the arithmetic:
  // full panels of a row-major B are then read in place and only a partial last panel is packed. Up to 16 panels of A
  // (conv2d's 64 output channels) that still pays when the rows of B lie far enough apart in L1 (conv2d pads its
  // column matrix so that they do).
  const bool direct_b =
      csb == 1 && (mpanels <= 4 || (mpanels <= 16 && rows_spread_over_l1(static_cast<std::size_t>(rsb) * sizeof(T))));
  // Blocks of k outside blocks of columns: A[:, pc:pc+kc] is packed once and serves every block of columns.
  for (std::int64_t pc = 0; pc < K; pc += kc_step) {
    const std::int64_t kc = std::min(kc_step, K - pc);
    const bool acc = accumulate || pc > 0, last_k = pc + kc >= K;
    apack_shared.resize(static_cast<std::size_t>(mpanels * kc * MR));
    for (std::int64_t jc = 0; jc < N; jc += kGemmNC) {
      const std::int64_t nc = std::min(kGemmNC, N - jc);
      const std::int64_t npanels = (nc + NR - 1) / NR;
      const bool pack_a = jc == 0;
      // Pack B[pc:pc+kc, jc:jc+nc] into NR-wide panels and, for the first block of columns, all of A[:, pc:pc+kc]
      // into MR-high panels (so every thread can take any tile), zero-padded; both packings are split over the
      // threads.
      bpack.resize(static_cast<std::size_t>(npanels * kc * NR));
      T* const bp_out = bpack.data();
      T* const ap_out = apack_shared.data();
      parallel(nthreads, [&](int tid, int nth) {
        for (std::int64_t p = npanels * tid / nth; p < npanels * (tid + 1) / nth; ++p) {
          T* dst = bp_out + p * kc * NR;
          const std::int64_t j0 = jc + p * NR, nr = std::min<std::int64_t>(NR, N - j0);
          if (direct_b && nr == NR) continue;
          if (csb == 1) {
            for (std::int64_t k = 0; k < kc; ++k) {
              const T* src = Bm + (pc + k) * rsb + j0;
              std::copy_n(src, nr, dst + k * NR);
              std::fill(dst + k * NR + nr, dst + (k + 1) * NR, T(0));
            }
          } else {  // B is transposed in memory: walk each column of the panel along k, 16 rows of the panel at a
                    // time, so the rows being filled stay in L1 (x . W^T, Linear's forward, packs this way)
            for (std::int64_t k0 = 0; k0 < kc; k0 += 16) {
              const std::int64_t k1 = std::min<std::int64_t>(kc, k0 + 16);
              for (std::int64_t j = 0; j < NR; ++j) {
                if (j >= nr) {
                  for (std::int64_t k = k0; k < k1; ++k) dst[k * NR + j] = T(0);
                  continue;
                }
                const T* src = Bm + pc * rsb + (j0 + j) * csb;
                for (std::int64_t k = k0; k < k1; ++k) dst[k * NR + j] = src[k * rsb];
              }
            }
          }
        }
        for (std::int64_t p = mpanels * tid / nth; pack_a && p < mpanels * (tid + 1) / nth; ++p) {
          const std::int64_t i0 = p * MR;
          const int mr = static_cast<int>(std::min<std::int64_t>(MR, M - i0));
          // the two tile heights there are (gemm_kernels.inc asserts it)
          const auto pack = MR == 12 ? pack_a_panel<T, 12> : pack_a_panel<T, 6>;
          pack(ap_out + p * kc * MR, A + i0 * rsa + pc * csa, rsa, csa, kc, mr);
        }
      });
      const std::int64_t tiles = mpanels * npanels;
      const T* ap_all = apack_shared.data();
      const T* bp_all = bpack.data();
      // Tiles in panel-of-A-major order, so a panel of A stays in L1 while panels of B stream from L2; with more
      // panels of B than of A (a short, wide C such as the MLP's input gradient 64 x 784) panel-of-B-major, so each
      // thread keeps to the panels of B it packed (64x784x256 with 2 threads: 149 -> 179 GFLOP/s).
      const bool b_major = npanels > mpanels;
      parallel(nthreads, [&](int tid, int nth) {
        const std::int64_t t0 = tiles * tid / nth, t1 = tiles * (tid + 1) / nth;
        // The epilogue takes this thread's consecutive tiles along one panel at once (up to 1024 columns or a
        // panel's rows, still in L1/L2): per micro-tile its call and row setup cost more than the traffic it saves.
        std::int64_t run = -1, r0 = 0, r1 = 0, c0 = 0, c1 = 0;
        auto flush = [&] {
          if (run >= 0) epilogue(r0, r1, c0, c1);
          run = -1;
        };
        for (std::int64_t t = t0; t < t1; ++t) {
          const std::int64_t ip = b_major ? t % mpanels : t / npanels, jp = b_major ? t / mpanels : t % npanels;
          const std::int64_t i0 = ip * MR, j0 = jc + jp * NR;
          const bool in_place = direct_b && N - j0 >= NR;
          const std::int64_t mr = std::min<std::int64_t>(MR, M - i0), nr = std::min<std::int64_t>(NR, N - j0);
          const auto tile = mr <= MR / 2 ? kern.tile_half : kern.tile;  // a low edge panel: the half-height kernel
          tile(kc, ap_all + ip * kc * MR, in_place ? Bm + pc * rsb + j0 : bp_all + jp * kc * NR, in_place ? rsb : NR,
               C + i0 * ldc + j0, ldc, static_cast<int>(mr), static_cast<int>(nr), acc);
          if (last_k && epilogue.fn) {  // the tile is final
            const std::int64_t major = b_major ? jp : ip;
            if (major != run) flush(), run = major, r0 = i0, c0 = j0;
            r1 = i0 + mr, c1 = j0 + nr;
          }
        }
        flush();
      });
    }
  }
}

/// C (+)= A . B for any strides of A and B: one kernel, on as many threads as the product's size pays for.
template <class T>
void gemm(std::int64_t M, std::int64_t N, std::int64_t K, const T* A, std::int64_t rsa, std::int64_t csa, const T* Bm,
          std::int64_t rsb, std::int64_t csb, T* C, std::int64_t ldc, bool accumulate,
          const TileEpilogue& epilogue = {}) {
  detail::count_kernel(kCPU);
  gemm_on<T>(threads_for(2 * M * N * K, 1 << 18), M, N, K, A, rsa, csa, Bm, rsb, csb, C, ldc, accumulate, epilogue);
}

// The GEMM's instances, X applied to each: extern in compiled mode (config.hpp), instantiated by implementation.hpp.
#define SINTER_GEMM_INSTANCES(X, T)                                                                                  \
  X(void gemm_on<T>(int, std::int64_t, std::int64_t, std::int64_t, const T*, std::int64_t, std::int64_t, const T*, \
                    std::int64_t, std::int64_t, T*, std::int64_t, bool, const TileEpilogue&))
SINTER_GEMM_INSTANCES(SINTER_EXTERN_TEMPLATE, float)
SINTER_GEMM_INSTANCES(SINTER_EXTERN_TEMPLATE, double)

}  // namespace sinter::cpu
