#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 5's checks on a machine with an NVIDIA GPU, prepared on a machine without one so that the GPU's time goes to
# running, not compiling.
#   bash scripts/gpu_check.sh prepare   (here: nvcc builds the CUDA test, the GPU example and device_bench for sm_90
#                                        into build/gpu; copies them, the Fashion-MNIST files, the headers a rebuild
#                                        would need and the commit into .carry/, about 50 MiB, ignored by git)
#   bash scripts/gpu_check.sh run       (on the GPU machine, from a copy of the tree with .carry/: the CUDA test suite,
#                                        the example for one epoch, bench/cuda/run.sh beside PyTorch eager, then
#                                        compute-sanitizer memcheck over the test suite; logs to $OUT or build/gpu_check)
# Each step gets what is left of a 540-second budget, so the whole run fits one 10-minute device call. Where the
# carried binaries do not start there (other system libraries), nvcc rebuilds them from the carried headers first.
set -uo pipefail
cd "$(dirname "$0")/.."
carry=.carry
arch=${SINTER_GPU_ARCH:-90}

prepare() {
  set -e
  export PATH=$PATH:/usr/local/cuda/bin
  cmake -S . -B build/gpu -DCMAKE_BUILD_TYPE=Release -DSINTER_BUILD_BENCH=ON -DSINTER_BUILD_TESTS=ON \
    -DSINTER_BUILD_EXAMPLES=ON -DSINTER_REQUIRE_CUDA=ON -DSINTER_CUDA_ARCHITECTURES="$arch" >/dev/null
  cmake --build build/gpu -j"$(nproc)" --target test_backend_thrust_cuda fashion_mnist_cnn_cuda device_bench
  rm -rf "$carry" && mkdir -p "$carry/bin" "$carry/include" "$carry/fashion-mnist"
  cp build/gpu/tests/test_backend_thrust_cuda build/gpu/examples/fashion_mnist_cnn_cuda build/gpu/bench/device_bench \
    "$carry/bin/"
  strip --strip-debug "$carry"/bin/*
  cp -r /usr/include/xsimd "$carry/include/"
  mkdir -p "$carry/include/catch2" && cp /usr/include/catch2/catch.hpp "$carry/include/catch2/"
  cp /usr/share/datasets/fashion-mnist/*.gz "$carry/fashion-mnist/"
  git rev-parse --short HEAD > "$carry/commit"
  git diff --quiet HEAD 2>/dev/null || echo "$(cat "$carry/commit") with local changes" > "$carry/commit"
  du -sh "$carry"
  echo "gpu_check: prepared; on the GPU machine run: bash scripts/gpu_check.sh run (carry .carry)"
}

run() {
  local out=${OUT:-build/gpu_check} start=$SECONDS budget=540
  mkdir -p "$out"
  export PATH=$PATH:/usr/local/cuda/bin
  local summary=$out/summary.txt bin=$carry/bin
  : > "$summary"
  note() { echo "$*" | tee -a "$summary"; }
  left() { local l=$((budget - (SECONDS - start))); echo $((l < $1 ? (l > 5 ? l : 5) : $1)); }
  note "# gpu_check $(date -u '+%F %T') UTC, commit $(cat $carry/commit 2>/dev/null || echo unknown)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >> "$summary" 2>&1
  nvcc --version 2>&1 | tail -2 >> "$summary"
  # cuBLAS and the CUDA runtime where the toolkit or PyTorch's wheels keep them, for the carried binaries
  local d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
           $(python3 -c 'import os, nvidia.cublas as c; print(os.path.join(list(c.__path__)[0], "lib"))' 2>/dev/null); do
    [ -d "$d" ] && LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  done
  export LD_LIBRARY_PATH
  if [ ! -x "$bin/test_backend_thrust_cuda" ] || ldd "$bin"/* 2>&1 | grep -q 'not found'; then
    note "carried binaries missing or not loadable here: $(ldd "$bin"/* 2>&1 | grep 'not found' | sort -u | tr '\n' ' ')"
    note "rebuilding them with nvcc"
    mkdir -p build/gpu_rebuild && bin=build/gpu_rebuild
    local flags=(-std=c++20 --expt-relaxed-constexpr -O2 -arch=sm_$arch -Iinclude -Ibench -Itests -I"$carry/include"
                 -Xcompiler -fopenmp)
    nvcc "${flags[@]}" bench/cuda/device_bench.cu -lcublas -o "$bin/device_bench" > "$bin/bench.log" 2>&1 &
    nvcc "${flags[@]}" -Iexamples examples/fashion_mnist_cnn.cu -lcublas -lz -o "$bin/fashion_mnist_cnn_cuda" \
      > "$bin/example.log" 2>&1 &
    nvcc "${flags[@]}" tests/backend/test_thrust_cuda.cu tests/backend/plain_tu.cpp tests/support/cuda_main.cpp \
      -lcublas -o "$bin/test_backend_thrust_cuda" > "$bin/test.log" 2>&1
    wait
    cat "$bin"/*.log | grep -v 'warning #\|^ *^\?$\|Remark' > "$out/rebuild.txt"
    note "rebuild done at $((SECONDS - start)) s"
  fi
  note "## CUDA test suite"
  timeout "$(left 150)" "$bin/test_backend_thrust_cuda" > "$out/tests.txt" 2>&1
  note "exit $?: $(grep -E 'test cases|All tests passed' "$out/tests.txt" | tail -1)"
  note "## examples/fashion_mnist_cnn.cu, one epoch"
  timeout "$(left 120)" "$bin/fashion_mnist_cnn_cuda" --epochs 1 --data "$carry/fashion-mnist" \
    --checkpoint /tmp/gpu_check_cnn.safetensors > "$out/example.txt" 2>&1
  note "exit $?: $(grep -E 'final|epoch' "$out/example.txt" | tail -2 | tr '\n' ' ')"
  note "## bench/cuda/run.sh (device_bench, then PyTorch eager)"
  SINTER_COMMIT=$(cat $carry/commit 2>/dev/null) timeout "$(left 200)" \
    bash bench/cuda/run.sh "$bin/device_bench" "$out/bench.txt" > "$out/bench_table.md" 2>&1
  note "exit $?"
  sed -n '/^| workload/,$p' "$out/bench_table.md" >> "$summary"
  note "## compute-sanitizer memcheck over the CUDA test suite"
  timeout "$(left 300)" compute-sanitizer --tool memcheck "$bin/test_backend_thrust_cuda" > "$out/memcheck.txt" 2>&1
  note "exit $?: $(grep -E 'ERROR SUMMARY|not supported|test cases' "$out/memcheck.txt" | tail -2 | tr '\n' ' ')"
  note "# done in $((SECONDS - start)) s"
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: bash scripts/gpu_check.sh prepare|run"; exit 2 ;;
esac
