#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Quick start 1: build and train the Fashion-MNIST CNN on the CPU (about 6 minutes on 2 cores), print the test
# accuracy and save a safetensors checkpoint. Extra arguments go to the example (for instance --epochs 2 --threads 1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
echo "+ cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSINTER_BUILD_TESTS=OFF"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DSINTER_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
echo "+ cmake --build build/release --target fashion_mnist_cnn -j$(nproc)"
cmake --build build/release --target fashion_mnist_cnn -j"$(nproc)"
echo "+ build/release/examples/fashion_mnist_cnn $*"
exec build/release/examples/fashion_mnist_cnn "$@"
