// SPDX-License-Identifier: Apache-2.0
// The umbrella header: core, expressions, autograd, the CPU backend and the ops. Heavier or optional pieces are
// included on demand (xtensor interop, file formats, CUDA), so a plain model translation unit compiles fast.
#pragma once

#include <sinter/version.hpp>
#include <sinter/core/factory.hpp>
#include <sinter/core/tensor.hpp>
#include <sinter/expr/functions.hpp>
#include <sinter/autograd/backward.hpp>
#include <sinter/autograd/function.hpp>
#include <sinter/autograd/gradcheck.hpp>
#include <sinter/ops/statement.hpp>
#include <sinter/ops/reduce.hpp>
#include <sinter/ops/softmax.hpp>
#include <sinter/ops/matmul.hpp>
#include <sinter/ops/index.hpp>
