// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <string>
#include <utility>

/// The first and last loss of `steps` training steps of a small conv net with the named optimiser.
std::pair<double, double> train_small_net(const std::string& optimizer, int steps);

/// Saves a small conv net (with BatchNorm2d) as safetensors at `path`, loads it into another one, and says whether
/// every parameter and buffer came back equal.
bool checkpoint_round_trip(const std::string& path);
