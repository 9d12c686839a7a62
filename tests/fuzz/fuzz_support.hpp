// SPDX-License-Identifier: Apache-2.0
// What every fuzz target shares: a sinter::Error is the expected answer to a bad file; any other exception, a crash,
// a sanitizer report, a leak or an allocation above libFuzzer's -malloc_limit_mb is a bug.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include <sinter/core/error.hpp>

namespace fuzz {

/// Runs f; returns normally for success or a sinter::Error, aborts (a finding) for anything else.
template <class F>
void expect_only_sinter_errors(F&& f) {
  try {
    f();
  } catch (const sinter::Error& e) {
    if (std::string(e.what()).rfind("sinter: ", 0) != 0) {
      std::fprintf(stderr, "error without the sinter: prefix: %s\n", e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "a parser threw a non-sinter exception: %s\n", e.what());
    std::abort();
  }
}

/// The input as a file, for readers that take a path (one file per process, rewritten each run).
inline std::string as_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("sinter_fuzz_" + std::to_string(::getpid()) + suffix)).string();
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                static_cast<std::streamsize>(size));
  return path;
}

}  // namespace fuzz
