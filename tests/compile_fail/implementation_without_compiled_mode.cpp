// SPDX-License-Identifier: Apache-2.0
// Must not compile: the implementation file of compiled mode in a program built header-only.
#include <sinter/implementation.hpp>

int main() {}
