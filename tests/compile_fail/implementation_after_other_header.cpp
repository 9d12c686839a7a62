// SPDX-License-Identifier: Apache-2.0
// Must not compile: the implementation file must come first, or the headers before it were read without the
// compiled-mode definitions it has to emit.
#define SINTER_COMPILED 1
#include <sinter/config.hpp>
#include <sinter/implementation.hpp>

int main() {}
