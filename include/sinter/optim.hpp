// SPDX-License-Identifier: Apache-2.0
// sinter::optim: optimisers, learning-rate schedules and gradient clipping (torch::optim).
#pragma once

#include <sinter/ops/reduce.hpp>
#include <sinter/optim/adam.hpp>
#include <sinter/optim/clip_grad.hpp>
#include <sinter/optim/optimizer.hpp>
#include <sinter/optim/rmsprop.hpp>
#include <sinter/optim/scheduler.hpp>
#include <sinter/optim/sgd.hpp>
