// SPDX-License-Identifier: Apache-2.0
// The single source of sinter's version: CMake parses these three lines.
#pragma once

#define SINTER_VERSION_MAJOR 0
#define SINTER_VERSION_MINOR 1
#define SINTER_VERSION_PATCH 0

#define SINTER_VERSION_STRING "0.1.0"
