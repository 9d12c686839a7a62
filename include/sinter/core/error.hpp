// SPDX-License-Identifier: Apache-2.0
// sinter::Error and the check macro: every runtime error message starts with "sinter:".
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace sinter {

/// The one exception type sinter throws for bad input; what() starts with "sinter: ".
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Parts>
[[noreturn]] inline void fail(const Parts&... parts) {
  std::ostringstream os;
  os << "sinter: ";
  (os << ... << parts);
  throw Error(os.str());
}
}  // namespace detail
}  // namespace sinter

/// Throws sinter::Error("sinter: " + parts...) unless cond holds. Parts are streamed, so shapes print.
#define SINTER_CHECK(cond, ...)                  \
  do {                                           \
    if (!(cond)) ::sinter::detail::fail(__VA_ARGS__); \
  } while (0)
