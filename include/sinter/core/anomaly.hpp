// SPDX-License-Identifier: Apache-2.0
// Anomaly detection (PyTorch's detect_anomaly): while a DetectAnomalyGuard is alive on a thread, every statement's
// result and every gradient a backward node writes is scanned for NaN and inf, and the first one an op produces (its
// inputs had none) throws an error that names the op and the source line of the statement. Off by default: then each statement pays one thread-local
// read. Scanning a device tensor copies it to the host (one extra kernel per check, so counters differ in this mode).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <sinter/core/source_location.hpp>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sinter/core/strided.hpp>
#include <sinter/core/tensor_impl.hpp>

namespace sinter {

namespace detail {
inline bool& anomaly_mode_flag() noexcept {
  thread_local bool enabled = false;
  return enabled;
}
}  // namespace detail

/// True while a DetectAnomalyGuard is alive on this thread.
inline bool is_anomaly_enabled() noexcept { return detail::anomaly_mode_flag(); }
inline void set_anomaly_enabled(bool on) noexcept { detail::anomaly_mode_flag() = on; }

/// Checks every result and gradient for NaN/inf for its lifetime on this thread (torch::autograd::DetectAnomalyGuard).
/// Example: `{ sinter::DetectAnomalyGuard anomaly; loss.backward(); }` throws at the first non-finite value.
class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() noexcept : prev_(is_anomaly_enabled()) { set_anomaly_enabled(true); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;
  ~DetectAnomalyGuard() { set_anomaly_enabled(prev_); }

 private:
  bool prev_;
};

namespace detail {

/// "file.cpp:42 (in function f)", or "an unknown line" when no location was captured.
inline std::string describe(const SourceLocation& location) {
  if (location.line() == 0) return "an unknown line";
  std::ostringstream os;
  os << location.file_name() << ":" << location.line() << " (in " << location.function_name() << ")";
  return os.str();
}

/// Where the first NaN and the first inf of a tensor are (contiguous order; -1: none).
struct NonFinite {
  std::int64_t nan = -1, inf = -1;
  bool any() const noexcept { return nan >= 0 || inf >= 0; }
};

/// Scans t on the host (a copy for device or strided tensors). Integer tensors never hold NaN or inf.
[[gnu::noinline]] inline NonFinite scan_non_finite(const TensorImpl& t) {
  if (t.dtype != DType::Float32 && t.dtype != DType::Float64) return {};
  const TensorImpl* host = &t;
  std::shared_ptr<TensorImpl> copy;
  if (!t.device().is_cpu() || !t.is_contiguous()) {
    copy = TensorImpl::empty(t.shape, t.dtype, kCPU);
    copy_into(*copy, t, false);
    host = copy.get();
  }
  const std::int64_t n = host->numel();
  auto scan = [n](const auto* p) {
    NonFinite r;
    for (std::int64_t i = 0; i < n && (r.nan < 0 || r.inf < 0); ++i) {
      if (std::isnan(p[i]) && r.nan < 0) r.nan = i;
      if (std::isinf(p[i]) && r.inf < 0) r.inf = i;
    }
    return r;
  };
  return t.dtype == DType::Float32 ? scan(static_cast<const float*>(host->data()))
                                   : scan(static_cast<const double*>(host->data()));
}

/// What `out` holds that its inputs did not: a NaN where no input had one, or an inf where every input was finite.
/// Values that merely pass through (a -inf attention mask, a NaN from a file) are not an anomaly of this op.
/// Returns the element and its kind ("nan", "inf"), or -1.
[[gnu::noinline]] inline std::pair<std::int64_t, const char*> new_non_finite(
    const TensorImpl& out, std::span<const TensorImpl* const> inputs) {
  const NonFinite o = scan_non_finite(out);
  if (!o.any()) return {-1, ""};
  NonFinite in;
  for (const TensorImpl* t : inputs) {
    if (!t) continue;
    const NonFinite s = scan_non_finite(*t);
    in.nan = std::max(in.nan, s.nan);
    in.inf = std::max(in.inf, s.inf);
  }
  if (o.nan >= 0 && in.nan < 0) return {o.nan, "nan"};
  if (o.inf >= 0 && !in.any()) return {o.inf, "inf"};
  return {-1, ""};
}

/// In anomaly mode, throws if the result of a forward op holds a NaN or inf that its inputs did not.
inline void check_forward_anomaly(const TensorImpl& out, std::span<const TensorImpl* const> inputs, const char* op,
                                  const SourceLocation& location = SourceLocation()) {
  if (!is_anomaly_enabled()) return;
  const auto [i, kind] = new_non_finite(out, inputs);
  if (i < 0) return;
  fail("anomaly detected: ", op, " produced ", kind, " (element ", i, " of its result of shape ", out.shape,
       ") from finite inputs in the statement at ", describe(location),
       "; check that statement's inputs and domains (log of a negative number, 0/0, overflow of exp)");
}

/// The same for a barrier op: `check_forward_anomaly(*out, {x.impl().get()}, "softmax")` (unused inputs may be null).
inline void check_forward_anomaly(const TensorImpl& out, std::initializer_list<const TensorImpl*> inputs, const char* op,
                                  const SourceLocation& location = SourceLocation()) {
  check_forward_anomaly(out, std::span<const TensorImpl* const>(inputs.begin(), inputs.size()), op, location);
}

/// In anomaly mode, throws if a backward node wrote a NaN or inf into the gradient of input k from a grad_out
/// without one.
inline void check_backward_anomaly(const Node& node, const TensorImpl& grad_out, std::size_t k, const TensorImpl& grad) {
  if (!is_anomaly_enabled()) return;
  const TensorImpl* in[] = {&grad_out};
  const auto [i, kind] = new_non_finite(grad, in);
  if (i < 0) return;
  fail("anomaly detected: ", node.name(), " returned ", kind, " in the gradient of its input ", k, " (element ", i,
       " of shape ", grad.shape, "); the forward statement was at ", describe(node.location),
       "; its derivative is not finite there (sqrt or log at 0, pow of 0 to a negative power, division by 0)");
}

}  // namespace detail
}  // namespace sinter
