// SPDX-License-Identifier: Apache-2.0
// Datasets held in memory as tensors: TensorDataset (examples along dim 0 plus int64 targets) and the
// MNIST / Fashion-MNIST readers on top of the IDX files.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <sinter/core/factory.hpp>
#include <sinter/data/idx.hpp>

namespace sinter::data {

/// One batch (or example): inputs and class targets.
struct Example {
  Tensor data;
  LongTensor target;
};

/// Examples stacked along dim 0 with one int64 target each (torch::data::datasets::TensorDataset).
class TensorDataset {
 public:
  TensorDataset(Tensor data, LongTensor targets);
  std::int64_t size() const { return data_.size(0); }
  const Tensor& data() const noexcept { return data_; }
  const LongTensor& targets() const noexcept { return targets_; }
  /// Copies the examples at `indices` into a new batch (one memcpy per example, no autograd).
  Example batch(const std::int64_t* indices, std::int64_t n) const;

 private:
  Tensor data_;
  LongTensor targets_;
};

/// (Fashion-)MNIST from IDX files (plain or .gz): images [N, 1, 28, 28] in [0, 1] and labels. `dir` defaults to
/// Debian's dataset-fashion-mnist folder, overridable with $SINTER_FASHION_MNIST.
// Header-only in both modes (docs/compiled_mode.md): the readers need zlib, which only programs that read IDX
// files link.
inline TensorDataset MNIST(const std::string& dir, bool train = true) {
  auto split = read_mnist_split(dir, train);
  return TensorDataset(split.images, from_vector<std::int64_t>(split.labels));
}
inline TensorDataset FashionMNIST(bool train = true, const std::string& dir = default_fashion_mnist_dir()) {
  return MNIST(dir, train);
}

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED TensorDataset::TensorDataset(Tensor data, LongTensor targets)
    : data_(data.contiguous()), targets_(targets.contiguous()) {
  SINTER_CHECK(data_.dim() >= 1 && targets_.dim() == 1 && targets_.size(0) == data_.size(0),
               "TensorDataset: ", data_.dim() ? data_.size(0) : 0, " examples (shape ", data_.shape(), ") but ",
               targets_.numel(), " targets (shape ", targets_.shape(), "); they must match along dim 0");
  SINTER_CHECK(data_.device().is_cpu(), "TensorDataset: data must be on the CPU (batches move with .to(device))");
}

SINTER_SHARED Example TensorDataset::batch(const std::int64_t* indices, std::int64_t n) const {
  Shape s = data_.shape();
  s[0] = n;
  Example b{empty(s), empty<std::int64_t>({n})};
  const std::int64_t row = data_.numel() / std::max<std::int64_t>(data_.size(0), 1);
  const float* src = data_.data();
  const std::int64_t* tsrc = targets_.data();
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t k = indices[i];
    SINTER_CHECK(k >= 0 && k < size(), "TensorDataset: index ", k, " out of range for ", size(), " examples");
    std::memcpy(b.data.data() + i * row, src + k * row, static_cast<std::size_t>(row) * sizeof(float));
    b.target.data()[i] = tsrc[k];
  }
  return b;
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace sinter::data
