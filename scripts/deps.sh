#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages sinter's build and examples need, only those that are missing.
# `deps.sh test` adds what the test suite compares against, numpy (.npy files), libtorch (the peer) and ONNX's test data,
# clang with its libFuzzer runtime for the fuzz tests, and OpenBLAS for sinter::blas.
set -euo pipefail
need=(cmake g++ make libxsimd-dev libxtensor-dev catch2 zlib1g-dev dataset-fashion-mnist)
case "${1:-}" in test | bench) need+=(python3-numpy libtorch-dev libonnx-testdata clang-14 libclang-rt-14-dev libopenblas-dev) ;; esac
# `deps.sh bench` adds Google Benchmark and the OpenMP build of OpenBLAS (the fair setting for libtorch, bench/compare).
if [ "${1:-}" = bench ]; then need+=(libbenchmark-dev libopenblas0-openmp); fi
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "sinter: installing missing Debian packages: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
