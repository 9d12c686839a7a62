#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start 1: build and train the Fashion-MNIST example on the CPU. Extra arguments go to the example
# (for instance --epochs 2 --threads 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
echo "+ cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSINTER_BUILD_TESTS=OFF"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSINTER_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
echo "+ cmake --build build/release --target fashion_mnist_mlp -j$(nproc)"
cmake --build build/release --target fashion_mnist_mlp -j"$(nproc)"
echo "+ build/release/examples/fashion_mnist_mlp $*"
exec build/release/examples/fashion_mnist_mlp "$@"
