#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the test suite with AddressSanitizer, LeakSanitizer and UndefinedBehaviorSanitizer (-O1) and runs it.
# Not part of CI (it roughly doubles the build time); run it before a release or after touching memory handling.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build/sanitize -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DSINTER_BUILD_EXAMPLES=OFF "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer"
cmake --build build/sanitize -j"$(nproc)"
# Header, install and compile-fail entries rebuild other trees and say nothing about memory safety.
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/sanitize -j"$(nproc)" --output-on-failure -E 'headers|install|compile_fail|docs'
