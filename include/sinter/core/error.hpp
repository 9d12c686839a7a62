// SPDX-License-Identifier: Apache-2.0
// sinter::Error and the check macro: every runtime error message starts with "sinter:".
#pragma once

#include <cstddef>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace sinter {

/// The one exception type sinter throws for bad input; what() starts with "sinter: ".
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {

/// One part of an error message, its type erased: a pointer to it and the function that streams its type. Each
/// check then compiles to an array of these and one call (compile time: the stream code was per check).
struct MessagePart {
  const void* value;
  void (*put)(std::ostream& os, const void* value);
};

template <class P>
void put_part(std::ostream& os, const void* value) {
  os << *static_cast<const P*>(value);
}

[[noreturn, gnu::noinline, gnu::cold]] inline void fail_parts(const MessagePart* parts, std::size_t n) {
  std::ostringstream os;
  os << "sinter: ";
  for (std::size_t k = 0; k < n; ++k) parts[k].put(os, parts[k].value);
  throw Error(os.str());
}

inline void put_chars(std::ostream& os, const void* value) { os << static_cast<const char*>(value); }

using Manipulator = std::ios_base& (*)(std::ios_base&);
inline void put_manipulator(std::ostream& os, const void* value) {
  os << reinterpret_cast<Manipulator>(const_cast<void*>(value));
}

/// A part by address; a string literal (a char array) by its first character; std::hex and the like by value.
template <class P>
MessagePart message_part(const P& p) {
  if constexpr (std::is_array_v<P>) return {p, &put_chars};
  else if constexpr (std::is_function_v<P>) return {reinterpret_cast<const void*>(&p), &put_manipulator};
  else return {&p, &put_part<P>};
}

template <class... Parts>
[[noreturn, gnu::noinline, gnu::cold]] void fail(const Parts&... parts) {
  const MessagePart list[] = {message_part(parts)...};
  fail_parts(list, sizeof...(Parts));
}

}  // namespace detail
}  // namespace sinter

/// Throws sinter::Error("sinter: " + parts...) unless cond holds. Parts are streamed, so shapes print.
#define SINTER_CHECK(cond, ...)                  \
  do {                                           \
    if (!(cond)) ::sinter::detail::fail(__VA_ARGS__); \
  } while (0)
