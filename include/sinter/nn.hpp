// SPDX-License-Identifier: Apache-2.0
// sinter::nn: modules, layers, initialisers and functional ops (torch::nn).
#pragma once

#include <sinter/nn/activation.hpp>
#include <sinter/nn/container.hpp>
#include <sinter/nn/conv.hpp>
#include <sinter/nn/embedding.hpp>
#include <sinter/nn/functional.hpp>
#include <sinter/nn/init.hpp>
#include <sinter/nn/linear.hpp>
#include <sinter/nn/module.hpp>
#include <sinter/nn/normalization.hpp>
#include <sinter/nn/pooling.hpp>
