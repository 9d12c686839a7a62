// SPDX-License-Identifier: Apache-2.0
// Compiled mode's one implementation file (docs/compiled_mode.md): include this from exactly one .cpp of a program
// whose files are all compiled with SINTER_COMPILED defined, and with the same flags; it compiles the machinery the
// other files only declare. CMake does both with sinter_compiled_mode(<target>).
#pragma once

#ifndef SINTER_COMPILED
#error "sinter: <sinter/implementation.hpp> belongs to compiled mode: define SINTER_COMPILED for every file \
of the program (CMake: sinter_compiled_mode(<target>)), or remove this include to use sinter header-only"
#endif
#ifdef SINTER_HEADER_SEEN
#error "sinter: include <sinter/implementation.hpp> before any other sinter header in this file (it must see \
every definition)"
#endif
#define SINTER_IMPLEMENTATION 1

#include <sinter/data.hpp>
#include <sinter/io/safetensors.hpp>
#include <sinter/nn.hpp>
#include <sinter/optim.hpp>
#include <sinter/sinter.hpp>
#include <sinter/util/metrics.hpp>
#include <sinter/util/progress_bar.hpp>

// The instantiations that SINTER_EXTERN_TEMPLATE declares extern elsewhere, here after every member's definition
// (an explicit instantiation covers only the members defined before it).
#define SINTER_INSTANTIATE(...) template __VA_ARGS__;
namespace sinter {
SINTER_TENSOR_INSTANCES(SINTER_INSTANTIATE)
SINTER_FUNCTION_INSTANCES(SINTER_INSTANTIATE)
}  // namespace sinter
namespace sinter::detail {
SINTER_ALLOCATOR_INSTANCES(SINTER_INSTANTIATE)
}  // namespace sinter::detail
namespace sinter::cpu {
SINTER_CPU_LOOP_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_CPU_LOOP_INSTANCES(SINTER_INSTANTIATE, double)
SINTER_GEMM_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_GEMM_INSTANCES(SINTER_INSTANTIATE, double)
}  // namespace sinter::cpu
namespace sinter::detail {
SINTER_MATMUL_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_MATMUL_INSTANCES(SINTER_INSTANTIATE, double)
SINTER_SOFTMAX_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_SOFTMAX_INSTANCES(SINTER_INSTANTIATE, double)
SINTER_STATEMENT_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_STATEMENT_INSTANCES(SINTER_INSTANTIATE, double)
}  // namespace sinter::detail
namespace sinter::nn::functional {
SINTER_LINEAR_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_LINEAR_INSTANCES(SINTER_INSTANTIATE, double)
SINTER_CONV_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_CONV_INSTANCES(SINTER_INSTANTIATE, double)
SINTER_POOL_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_POOL_INSTANCES(SINTER_INSTANTIATE, double)
SINTER_NORM_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_NORM_INSTANCES(SINTER_INSTANTIATE, double)
}  // namespace sinter::nn::functional
namespace sinter::nn::functional::detail {
SINTER_LOSS_INSTANCES(SINTER_INSTANTIATE, float)
SINTER_LOSS_INSTANCES(SINTER_INSTANTIATE, double)
}  // namespace sinter::nn::functional::detail
namespace sinter::optim {
SINTER_SGD_INSTANCES(SINTER_INSTANTIATE)
SINTER_ADAM_INSTANCES(SINTER_INSTANTIATE)
SINTER_RMSPROP_INSTANCES(SINTER_INSTANTIATE)
}  // namespace sinter::optim
