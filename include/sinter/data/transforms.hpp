// SPDX-License-Identifier: Apache-2.0
// Batch transforms applied in the DataLoader's worker thread: Normalize, RandomCrop with padding,
// RandomHorizontalFlip. Randomness comes from the loader's own seeded generator, so epochs are reproducible.
#pragma once

#include <algorithm>
#include <functional>
#include <vector>

#include <sinter/core/random.hpp>
#include <sinter/data/dataset.hpp>

namespace sinter::data {

/// Transforms an [N, C, H, W] (or [N, ...]) batch of images in place.
using Transform = std::function<void(Tensor& images, Generator& gen)>;

namespace transforms {

/// (x - mean[c]) / std[c] per channel (one value each for grey images).
inline Transform Normalize(std::vector<float> mean, std::vector<float> std) {
  SINTER_CHECK(mean.size() == std.size() && !mean.empty(), "Normalize: mean and std need the same, non-zero length");
  for (float s : std) SINTER_CHECK(s > 0, "Normalize: std must be positive, got ", s);
  return [mean, std](Tensor& x, Generator&) {
    const std::int64_t C = x.dim() >= 2 ? x.size(1) : 1;
    SINTER_CHECK(mean.size() == 1 || static_cast<std::int64_t>(mean.size()) == C, "Normalize: ", mean.size(),
                 " means for a batch with ", C, " channels");
    const std::int64_t plane = x.numel() / std::max<std::int64_t>(x.size(0) * C, 1);
    float* p = x.data();
    for (std::int64_t n = 0; n < x.size(0); ++n)
      for (std::int64_t c = 0; c < C; ++c) {
        const float m = mean[mean.size() == 1 ? 0 : static_cast<std::size_t>(c)];
        const float inv = 1.0f / std[std.size() == 1 ? 0 : static_cast<std::size_t>(c)];
        float* q = p + (n * C + c) * plane;
        for (std::int64_t i = 0; i < plane; ++i) q[i] = (q[i] - m) * inv;
      }
  };
}

/// Pads each image by `padding` zeros on every side and crops a random size x size window (torchvision RandomCrop).
inline Transform RandomCrop(std::int64_t size, std::int64_t padding = 0) {
  return [size, padding](Tensor& x, Generator& gen) {
    SINTER_CHECK(x.dim() == 4, "RandomCrop: expected an [N, C, H, W] batch, got ", x.shape());
    const std::int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    SINTER_CHECK(size <= H + 2 * padding && size <= W + 2 * padding, "RandomCrop: crop ", size,
                 " is larger than the padded image ", H + 2 * padding, "x", W + 2 * padding);
    Tensor out = zeros({N, C, size, size});
    for (std::int64_t n = 0; n < N; ++n) {
      const std::int64_t top = static_cast<std::int64_t>(gen.next_u64() % static_cast<std::uint64_t>(H + 2 * padding - size + 1)) - padding;
      const std::int64_t left = static_cast<std::int64_t>(gen.next_u64() % static_cast<std::uint64_t>(W + 2 * padding - size + 1)) - padding;
      for (std::int64_t c = 0; c < C; ++c) {
        const float* src = x.data() + (n * C + c) * H * W;
        float* dst = out.data() + (n * C + c) * size * size;
        for (std::int64_t i = 0; i < size; ++i) {
          const std::int64_t h = top + i;
          if (h < 0 || h >= H) continue;
          for (std::int64_t j = 0; j < size; ++j) {
            const std::int64_t w = left + j;
            if (w >= 0 && w < W) dst[i * size + j] = src[h * W + w];
          }
        }
      }
    }
    x = out;
  };
}

/// Mirrors each image left-right with probability p.
inline Transform RandomHorizontalFlip(double p = 0.5) {
  return [p](Tensor& x, Generator& gen) {
    SINTER_CHECK(x.dim() >= 2, "RandomHorizontalFlip: expected a batch of images, got ", x.shape());
    const std::int64_t N = x.size(0), W = x.size(-1);
    const std::int64_t rows = x.numel() / std::max<std::int64_t>(N * W, 1);
    float* d = x.data();
    for (std::int64_t n = 0; n < N; ++n) {
      if (gen.uniform() >= p) continue;
      for (std::int64_t r = 0; r < rows; ++r) std::reverse(d + (n * rows + r) * W, d + (n * rows + r + 1) * W);
    }
  };
}

}  // namespace transforms
}  // namespace sinter::data
