// SPDX-License-Identifier: Apache-2.0
// Grad mode: whether statements record tape nodes. Per thread, like PyTorch's.
#pragma once

namespace sinter {

namespace detail {
inline bool& grad_mode_flag() noexcept {
  thread_local bool enabled = true;
  return enabled;
}
}  // namespace detail

/// True unless a NoGradGuard is alive on this thread.
inline bool is_grad_enabled() noexcept { return detail::grad_mode_flag(); }
inline void set_grad_enabled(bool on) noexcept { detail::grad_mode_flag() = on; }

/// Disables recording for its lifetime on this thread (PyTorch's torch::NoGradGuard).
/// Example: `{ sinter::NoGradGuard g; w -= 0.1 * w.grad(); }`
class NoGradGuard {
 public:
  NoGradGuard() noexcept : prev_(is_grad_enabled()) { set_grad_enabled(false); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;
  ~NoGradGuard() { set_grad_enabled(prev_); }

 private:
  bool prev_;
};

}  // namespace sinter
