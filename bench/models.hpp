// SPDX-License-Identifier: Apache-2.0
// The two training workloads every benchmark uses: the 784-256-128-10 MLP and LeNet-5 (Fashion-MNIST shapes), with
// their FLOPs per training step (forward GEMMs/convolutions and the two backward products, 3x the forward).
#pragma once

#include <cstdint>

#include <sinter/nn.hpp>

namespace bench {

inline sinter::nn::Sequential mlp() {
  namespace nn = sinter::nn;
  return nn::Sequential(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 128), nn::ReLU(), nn::Linear(128, 10));
}

inline sinter::nn::Sequential lenet5() {
  namespace nn = sinter::nn;
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 6, 5).padding(2)), nn::ReLU(), nn::MaxPool2d(2),
                        nn::Conv2d(nn::Conv2dOptions(6, 16, 5)), nn::ReLU(), nn::MaxPool2d(2), nn::Flatten(),
                        nn::Linear(400, 120), nn::ReLU(), nn::Linear(120, 84), nn::ReLU(), nn::Linear(84, 10));
}

/// Multiply-add FLOPs of one training step (forward, input gradient, weight gradient) per sample.
inline double mlp_step_flops_per_sample() { return 3.0 * 2.0 * (784.0 * 256 + 256.0 * 128 + 128.0 * 10); }
inline double lenet5_step_flops_per_sample() {
  const double conv1 = 28.0 * 28 * 6 * 25, conv2 = 10.0 * 10 * 16 * 150;
  return 3.0 * 2.0 * (conv1 + conv2 + 400.0 * 120 + 120.0 * 84 + 84.0 * 10);
}

}  // namespace bench
