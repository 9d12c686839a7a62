#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the side-by-side comparisons against libtorch and runs them with glibc's default malloc and with freed
# memory reused (the GLIBC_TUNABLES setting of ../shared/perf/ANCHORS.md), the training steps beside libtorch and
# the built-in SGEMM beside OpenBLAS. Prints RESULT lines, keeps them in build/bench/compare_results.txt and
# rewrites the generated section of docs/benchmarks.md (machine, date, commit, tables, roofline fractions).
# Usage: bash bench/compare/run.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/deps.sh bench
threads=${1:-2}
# OpenBLAS reads the CPU model to pick its kernels; on VMs that report a generic "Intel Xeon Processor" it falls back
# to a pre-AVX2 kernel (32 GFLOP/s where the machine does 150). Name the core from the instruction set instead, even
# over an inherited setting: an environment that sets Haswell on an AVX-512 machine (as one of ours did) holds
# OpenBLAS to its AVX2 kernels, 105 GFLOP/s where its SkylakeX kernels do 200, and the peer must run at its best.
# SINTER_BENCH_OPENBLAS_CORETYPE picks another core on purpose.
coretype=${SINTER_BENCH_OPENBLAS_CORETYPE:-}
if [ -z "$coretype" ]; then
  if grep -qw avx512f /proc/cpuinfo; then coretype=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then coretype=Haswell; fi
fi
if [ -n "$coretype" ]; then
  [ -n "${OPENBLAS_CORETYPE:-}" ] && [ "$OPENBLAS_CORETYPE" != "$coretype" ] &&
    echo "bench: OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE from the environment replaced by $coretype" >&2
  export OPENBLAS_CORETYPE=$coretype
fi
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DSINTER_BUILD_BENCH=ON -DSINTER_BUILD_TESTS=OFF \
  -DSINTER_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/bench -j"$(nproc)" --target eltwise_vs_libtorch training_vs_libtorch gemm_vs_openblas \
  gemm_vs_openblas_portable
results=build/bench/compare_results.txt
{
echo "# $(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), threads=$threads, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}"
echo "# glibc default malloc"
./build/bench/bench/eltwise_vs_libtorch "$threads" | sed 's/^RESULT eltwise\.torch\./RESULT eltwise.torch_default./; s/ratio_torch_over/ratio_torch_default_over/'
echo "# freed memory reused (GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736)"
GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
  ./build/bench/bench/eltwise_vs_libtorch "$threads" | sed 's/^RESULT eltwise\.torch\./RESULT eltwise.torch_cachedmalloc./; s/ratio_torch_over/ratio_torch_cachedmalloc_over/'
# libtorch's GEMMs go to OpenBLAS; its pthread build fights libtorch's OpenMP pool on 2 cores, so (as in
# ../shared/perf) the fair setting is the OpenMP build of the same OpenBLAS, picked per process.
omp_lib=$(dpkg -L libopenblas0-openmp 2>/dev/null | grep -m1 '/libblas.so.3$' || true)
omp_blas=${omp_lib:+$(dirname "$omp_lib")}  # empty (not ".") when the OpenMP build is missing
echo "# training steps, freed memory reused, libtorch on ${omp_blas:+OpenMP }OpenBLAS"
LD_LIBRARY_PATH=${omp_blas}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
  GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736 \
  ./build/bench/bench/training_vs_libtorch "$threads"
echo "# built-in SGEMM beside ${omp_blas:+OpenMP }OpenBLAS, 1 thread and $threads threads"
for t in $(echo 1 "$threads" | tr ' ' '\n' | sort -un); do
  LD_LIBRARY_PATH=${omp_blas}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ./build/bench/bench/gemm_vs_openblas "$t"
done
echo "# the same built without -march (GEMM kernels picked at run time), $threads threads"
LD_LIBRARY_PATH=${omp_blas}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} ./build/bench/bench/gemm_vs_openblas_portable "$threads" |
  grep -v '^RESULT peak'

} | tee "$results"
# The commit measured; changes other than this document's generated section are flagged.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- . ':(exclude)docs/benchmarks.md' 2>/dev/null || commit="$commit with local changes"
python3 bench/compare/report.py "$results" docs/benchmarks.md "$commit" "$threads"
