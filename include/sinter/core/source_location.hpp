// SPDX-License-Identifier: Apache-2.0
// SourceLocation: where a statement was written, for anomaly messages. SourceLocation needs a compiler builtin
// that clang 14 lacks (its <source_location> is empty with libstdc++), so sinter uses the older builtins that g++,
// clang and nvcc all have. As a default argument, current() names the caller's line, as SourceLocation does.
#pragma once

namespace sinter {

class SourceLocation {
 public:
  constexpr SourceLocation() noexcept = default;
  static constexpr SourceLocation current(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE(),
                                          const char* function = __builtin_FUNCTION()) noexcept {
    SourceLocation s;
    s.file_ = file, s.line_ = line, s.function_ = function;
    return s;
  }
  constexpr const char* file_name() const noexcept { return file_; }
  constexpr unsigned line() const noexcept { return line_; }  // 0: unknown
  constexpr const char* function_name() const noexcept { return function_; }

 private:
  const char* file_ = "";
  unsigned line_ = 0;
  const char* function_ = "";
};

}  // namespace sinter
