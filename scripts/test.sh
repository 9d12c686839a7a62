#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start 2: configure, build and run every test with ctest; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
jobs=$(nproc)
echo "+ cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Release"
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Release "${launcher[@]}"
echo "+ cmake --build build/test -j$jobs"
cmake --build build/test -j"$jobs"
echo "+ ctest --test-dir build/test -j$jobs --output-on-failure"
ctest --test-dir build/test -j"$jobs" --output-on-failure
# The core, autograd, nn and data tests again under ASan, LSan and UBSan (preset asan; any report fails the run).
# The whole suite under sanitizers is scripts/sanitize.sh (it would double the CI time).
echo "+ cmake --preset asan && cmake --build --preset asan -j$jobs && ctest --preset asan -j$jobs"
cmake --preset asan "${launcher[@]}"
cmake --build --preset asan -j"$jobs"
ctest --preset asan -j"$jobs"
