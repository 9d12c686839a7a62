// SPDX-License-Identifier: Apache-2.0
// Training metrics: classification accuracy and a running mean.
#pragma once

#include <cstdint>

#include <sinter/core/tensor.hpp>

namespace sinter::util {

/// Weighted running mean (e.g. of the loss over an epoch).
class RunningMean {
 public:
  void update(double value, std::int64_t weight = 1) {
    sum_ += value * static_cast<double>(weight);
    count_ += weight;
  }
  double value() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }
  std::int64_t count() const noexcept { return count_; }
  void reset() { sum_ = 0, count_ = 0; }

 private:
  double sum_ = 0;
  std::int64_t count_ = 0;
};

/// Fraction of rows whose largest logit is at the target class.
class Accuracy {
 public:
  template <class T>
  void update(const TensorOf<T>& logits, const TensorOf<std::int64_t>& target) {
    SINTER_CHECK(logits.dim() == 2 && target.dim() == 1 && target.size(0) == logits.size(0),
                 "Accuracy: expected logits [N, C] and targets [N], got ", logits.shape(), " and ", target.shape());
    const auto l = logits.to_vector();
    const auto t = target.to_vector();
    const std::int64_t C = logits.size(1);
    for (std::int64_t i = 0; i < logits.size(0); ++i) {
      std::int64_t best = 0;
      for (std::int64_t j = 1; j < C; ++j)
        if (l[static_cast<std::size_t>(i * C + j)] > l[static_cast<std::size_t>(i * C + best)]) best = j;
      correct_ += best == t[static_cast<std::size_t>(i)];
    }
    total_ += logits.size(0);
  }
  double value() const { return total_ ? static_cast<double>(correct_) / static_cast<double>(total_) : 0.0; }
  std::int64_t correct() const noexcept { return correct_; }
  std::int64_t total() const noexcept { return total_; }
  void reset() { correct_ = 0, total_ = 0; }

 private:
  std::int64_t correct_ = 0, total_ = 0;
};

}  // namespace sinter::util
