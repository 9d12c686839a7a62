// SPDX-License-Identifier: Apache-2.0
// A terminal progress bar on stderr: percent, steps per second, ETA and a running loss. Silent when stderr is not a
// terminal (CI logs, pipes), so logs stay clean.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace sinter::util {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::int64_t total, bool enabled = isatty(STDERR_FILENO) != 0)
      : label_(std::move(label)), total_(std::max<std::int64_t>(total, 1)), enabled_(enabled),
        start_(std::chrono::steady_clock::now()), last_(start_) {}
  /// One more step done; redraws at most ten times a second.
  void advance(double loss) {
    ++done_;
    loss_ = loss;
    const auto now = std::chrono::steady_clock::now();
    if (done_ < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    draw(now);
  }
  /// Ends the line (once).
  void finish() {
    if (enabled_ && !finished_) std::fputc('\n', stderr);
    finished_ = true;
  }
  ~ProgressBar() { finish(); }
  /// The line that would be drawn now (tested without a terminal).
  std::string line() const { return render(std::chrono::steady_clock::now()); }

 private:
  std::string render(std::chrono::steady_clock::time_point now) const {
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
    const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0;
    const int width = 24, filled = static_cast<int>(width * done_ / total_);
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s [%s%s] %3d%% %lld/%lld %.1f it/s eta %.0fs loss %.4f", label_.c_str(),
                  std::string(static_cast<std::size_t>(filled), '#').c_str(),
                  std::string(static_cast<std::size_t>(width - filled), ' ').c_str(),
                  static_cast<int>(100 * done_ / total_), static_cast<long long>(done_),
                  static_cast<long long>(total_), rate, eta, loss_);
    return buf;
  }
  void draw(std::chrono::steady_clock::time_point now) {
    if (!enabled_) return;
    std::fprintf(stderr, "\r%s", render(now).c_str());
    std::fflush(stderr);
  }

  std::string label_;
  std::int64_t total_, done_ = 0;
  bool enabled_, finished_ = false;
  double loss_ = 0;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace sinter::util
