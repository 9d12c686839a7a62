// SPDX-License-Identifier: Apache-2.0
// The CPU example's model and loop, compiled by nvcc and trained on the GPU: the only difference is this header
// (and --device cuda, the default here). Build target: fashion_mnist_cnn_cuda (needs nvcc; runs where a GPU is).
#include <sinter/cuda.hpp>

#define SINTER_EXAMPLE_DEVICE "cuda"
#include "fashion_mnist_cnn.cpp"
