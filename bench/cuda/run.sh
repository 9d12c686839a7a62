#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 5's GPU benchmarks in one command: device_bench (sinter, built by nvcc), then the same workloads in PyTorch
# eager on the same GPU (torch_eager.py), then the table (report.py). Needs a machine with an NVIDIA GPU; run it from
# the repository's root. Usage: bash bench/cuda/run.sh [device_bench] [results-file]
#   device_bench: the binary (default build/gpu/bench/device_bench: cmake -B build/gpu -DSINTER_BUILD_BENCH=ON ...)
#   SINTER_COMMIT: the commit measured, where the tree has no .git (a copy on another machine)
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/gpu/bench/device_bench}
results=${2:-$(dirname "$bin")/device_results.txt}
[ -x "$bin" ] || { echo "bench/cuda/run.sh: $bin not built (cmake --build <build-dir> --target device_bench)"; exit 1; }
commit=${SINTER_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
echo "# $(date -u +%F) $gpu, commit $commit" | tee "$results"
"$bin" 2>&1 | tee -a "$results"
status=${PIPESTATUS[0]}
python3 bench/cuda/torch_eager.py 2>&1 | tee -a "$results"
torch_status=${PIPESTATUS[0]}
echo "# exit status: device_bench $status, torch_eager.py $torch_status" | tee -a "$results"
echo
python3 bench/cuda/report.py "$results"
exit "$status"
