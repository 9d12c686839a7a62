// SPDX-License-Identifier: Apache-2.0
// Must not compile: a file compiled by nvcc in compiled mode (SINTER_COMPILED), which does not cover device code yet.
#include <sinter/cuda.hpp>
#include <sinter/sinter.hpp>

int main() {}
