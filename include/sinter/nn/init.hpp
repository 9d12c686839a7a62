// SPDX-License-Identifier: Apache-2.0
// nn::init: in-place initialisers with PyTorch's names, gains and fan computations (torch.nn.init).
#pragma once

#include <cmath>
#include <string>

#include <sinter/core/factory.hpp>
#include <sinter/core/grad_mode.hpp>

namespace sinter::nn::init {

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Sigmoid, Tanh, ReLU, LeakyReLU };

/// Recommended gain for a nonlinearity (torch.nn.init.calculate_gain).
inline double calculate_gain(Nonlinearity n, double param = 0.01) {
  switch (n) {
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::ReLU: return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: return std::sqrt(2.0 / (1 + param * param));
    default: return 1.0;
  }
}

/// (fan_in, fan_out) of a weight: [out, in, *kernel].
template <class T>
std::pair<double, double> fans(const TensorOf<T>& t) {
  SINTER_CHECK(t.dim() >= 2, "nn::init: fan in and fan out can not be computed for a tensor with fewer than 2 "
                             "dimensions (shape ", t.shape(), ")");
  const double receptive = static_cast<double>(t.numel() / (t.size(0) * t.size(1)));
  return {static_cast<double>(t.size(1)) * receptive, static_cast<double>(t.size(0)) * receptive};
}

template <class T>
TensorOf<T>& uniform_(TensorOf<T>& t, double a = 0, double b = 1) {
  NoGradGuard guard;
  t.copy_(uniform<T>(t.shape(), a, b, t.device()));
  return t;
}
template <class T>
TensorOf<T>& normal_(TensorOf<T>& t, double mean = 0, double std = 1) {
  NoGradGuard guard;
  t.copy_(randn<T>(t.shape(), t.device()) * static_cast<T>(std) + static_cast<T>(mean));
  return t;
}
template <class T>
TensorOf<T>& constant_(TensorOf<T>& t, double v) {
  NoGradGuard guard;
  t.fill_(static_cast<T>(v));
  return t;
}
template <class T>
TensorOf<T>& zeros_(TensorOf<T>& t) {
  return constant_(t, 0);
}
template <class T>
TensorOf<T>& ones_(TensorOf<T>& t) {
  return constant_(t, 1);
}
template <class T>
TensorOf<T>& xavier_uniform_(TensorOf<T>& t, double gain = 1) {
  const auto [fi, fo] = fans(t);
  const double a = gain * std::sqrt(6.0 / (fi + fo));
  return uniform_(t, -a, a);
}
template <class T>
TensorOf<T>& xavier_normal_(TensorOf<T>& t, double gain = 1) {
  const auto [fi, fo] = fans(t);
  return normal_(t, 0, gain * std::sqrt(2.0 / (fi + fo)));
}
template <class T>
TensorOf<T>& kaiming_uniform_(TensorOf<T>& t, double a = 0, FanMode mode = FanMode::FanIn,
                              Nonlinearity nl = Nonlinearity::LeakyReLU) {
  const auto [fi, fo] = fans(t);
  const double bound = calculate_gain(nl, a) * std::sqrt(3.0 / (mode == FanMode::FanIn ? fi : fo));
  return uniform_(t, -bound, bound);
}
template <class T>
TensorOf<T>& kaiming_normal_(TensorOf<T>& t, double a = 0, FanMode mode = FanMode::FanIn,
                             Nonlinearity nl = Nonlinearity::LeakyReLU) {
  const auto [fi, fo] = fans(t);
  return normal_(t, 0, calculate_gain(nl, a) / std::sqrt(mode == FanMode::FanIn ? fi : fo));
}

}  // namespace sinter::nn::init
