// SPDX-License-Identifier: Apache-2.0
// Writing a file so that no reader ever sees it half-written: write a temporary file next to it, then rename.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <sinter/core/error.hpp>

namespace sinter::io::detail {

/// Calls write(stream) on `path`.sinter-tmp and renames it to `path`; on any failure the temporary file is removed,
/// `path` is left as it was, and a sinter::Error names `op`.
template <class Write>
void write_atomically(const std::string& path, const char* op, Write&& write) {
  const std::string tmp = path + ".sinter-tmp";
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    SINTER_CHECK(out.good(), op, ": cannot open '", tmp, "' for writing; check that the folder exists and is writable");
    write(out);
    out.flush();
    SINTER_CHECK(out.good(), op, ": writing '", tmp, "' failed (disk full?); '", path, "' was not changed");
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    sinter::detail::fail(op, ": cannot rename '", tmp, "' to '", path, "': ", ec.message());
  }
}

}  // namespace sinter::io::detail
