// SPDX-License-Identifier: Apache-2.0
// Learning-rate schedules in closed form (PyTorch's formulas), so they compose: LinearWarmup multiplies any other
// schedule. Call step() once per epoch (or per batch for OneCycleLR), after optimizer.step().
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numbers>
#include <vector>

#include <sinter/optim/optimizer.hpp>

namespace sinter::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& opt) : opt_(opt) {
    for (std::size_t g = 0; g < opt.num_param_groups(); ++g) base_lrs_.push_back(opt.lr(g));
  }
  virtual ~LRScheduler() = default;
  /// Advances one epoch and writes the new learning rates into the optimiser.
  void step() {
    ++epoch_;
    apply();
  }
  /// The learning rate of group g at epoch e (the closed form).
  virtual double lr_at(std::size_t g, std::int64_t e) const = 0;
  std::int64_t last_epoch() const noexcept { return epoch_; }
  std::vector<double> get_last_lr() const {
    std::vector<double> out;
    for (std::size_t g = 0; g < opt_.num_param_groups(); ++g) out.push_back(opt_.lr(g));
    return out;
  }
  double base_lr(std::size_t g) const { return base_lrs_.at(g); }
  Optimizer& optimizer() const noexcept { return opt_; }

 protected:
  void apply() {
    for (std::size_t g = 0; g < opt_.num_param_groups(); ++g) opt_.set_lr(g, lr_at(g, epoch_));
  }

 private:
  Optimizer& opt_;
  std::vector<double> base_lrs_;
  std::int64_t epoch_ = 0;
};

/// lr = base * gamma^(epoch / step_size).
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& opt, std::int64_t step_size, double gamma = 0.1) : LRScheduler(opt), step_(step_size), gamma_(gamma) {
    SINTER_CHECK(step_size > 0, "StepLR: step_size must be positive, got ", step_size);
  }
  double lr_at(std::size_t g, std::int64_t e) const override {
    return base_lr(g) * std::pow(gamma_, static_cast<double>(e / step_));
  }

 private:
  std::int64_t step_;
  double gamma_;
};

/// lr = base * gamma^(number of milestones <= epoch).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& opt, std::vector<std::int64_t> milestones, double gamma = 0.1)
      : LRScheduler(opt), milestones_(std::move(milestones)), gamma_(gamma) {
    std::sort(milestones_.begin(), milestones_.end());
  }
  double lr_at(std::size_t g, std::int64_t e) const override {
    const auto k = std::upper_bound(milestones_.begin(), milestones_.end(), e) - milestones_.begin();
    return base_lr(g) * std::pow(gamma_, static_cast<double>(k));
  }

 private:
  std::vector<std::int64_t> milestones_;
  double gamma_;
};

/// lr = base * gamma^epoch.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& opt, double gamma) : LRScheduler(opt), gamma_(gamma) {}
  double lr_at(std::size_t g, std::int64_t e) const override {
    return base_lr(g) * std::pow(gamma_, static_cast<double>(e));
  }

 private:
  double gamma_;
};

/// lr = eta_min + (base - eta_min) (1 + cos(pi epoch / T_max)) / 2.
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& opt, std::int64_t T_max, double eta_min = 0)
      : LRScheduler(opt), tmax_(T_max), eta_min_(eta_min) {
    SINTER_CHECK(T_max > 0, "CosineAnnealingLR: T_max must be positive, got ", T_max);
  }
  double lr_at(std::size_t g, std::int64_t e) const override {
    return eta_min_ + (base_lr(g) - eta_min_) *
                          (1 + std::cos(std::numbers::pi * static_cast<double>(e) / static_cast<double>(tmax_))) / 2;
  }

 private:
  std::int64_t tmax_;
  double eta_min_;
};

/// Multiplies another schedule (or the constant base lr) by a factor rising linearly from start_factor to 1 over
/// warmup_epochs: `LinearWarmup warm(opt, 5, std::make_shared<CosineAnnealingLR>(opt, 50));`
class LinearWarmup : public LRScheduler {
 public:
  LinearWarmup(Optimizer& opt, std::int64_t warmup_epochs, std::shared_ptr<LRScheduler> after = nullptr,
               double start_factor = 1.0 / 3.0)
      : LRScheduler(opt), warmup_(warmup_epochs), after_(std::move(after)), start_(start_factor) {
    SINTER_CHECK(warmup_epochs >= 0, "LinearWarmup: warmup_epochs must be non-negative");
    SINTER_CHECK(start_factor > 0 && start_factor <= 1, "LinearWarmup: start_factor must be in (0, 1], got ",
                 start_factor);
    apply();  // epoch 0 already runs at the warm-up's first factor
  }
  double lr_at(std::size_t g, std::int64_t e) const override {
    const double base = after_ ? after_->lr_at(g, e) : base_lr(g);
    if (e >= warmup_) return base;
    return base * (start_ + (1 - start_) * static_cast<double>(e) / static_cast<double>(warmup_));
  }

 private:
  std::int64_t warmup_;
  std::shared_ptr<LRScheduler> after_;
  double start_;
};

/// The 1cycle policy (cosine annealing): from max_lr/div_factor up to max_lr over pct_start of total_steps, then
/// down to max_lr/(div_factor*final_div_factor). Step it once per batch.
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& opt, double max_lr, std::int64_t total_steps, double pct_start = 0.3, double div_factor = 25,
             double final_div_factor = 1e4)
      : LRScheduler(opt), max_(max_lr), total_(total_steps), pct_(pct_start), div_(div_factor), final_(final_div_factor) {
    SINTER_CHECK(total_steps > 1, "OneCycleLR: total_steps must be > 1, got ", total_steps);
    SINTER_CHECK(pct_start > 0 && pct_start < 1, "OneCycleLR: pct_start must be in (0, 1), got ", pct_start);
    apply();
  }
  double lr_at(std::size_t, std::int64_t e) const override {
    const double initial = max_ / div_, min_lr = initial / final_;
    const double up_end = pct_ * static_cast<double>(total_) - 1, last = static_cast<double>(total_) - 1;
    const double s = static_cast<double>(std::min<std::int64_t>(e, total_ - 1));
    auto cos_anneal = [](double a, double b, double pct) { return b + (a - b) / 2 * (std::cos(std::numbers::pi * pct) + 1); };
    if (s <= up_end) return cos_anneal(initial, max_, s / up_end);
    return cos_anneal(max_, min_lr, (s - up_end) / (last - up_end));
  }

 private:
  double max_;
  std::int64_t total_;
  double pct_, div_, final_;
};

/// Divides the learning rate by 1/factor when a metric has stopped improving for `patience` epochs (mode min,
/// relative threshold, as PyTorch's defaults). Call step(metric) once per epoch.
class ReduceLROnPlateau {
 public:
  explicit ReduceLROnPlateau(Optimizer& opt, double factor = 0.1, std::int64_t patience = 10, double threshold = 1e-4,
                             std::int64_t cooldown = 0, double min_lr = 0, bool maximize = false)
      : opt_(opt), factor_(factor), patience_(patience), threshold_(threshold), cooldown_(cooldown), min_lr_(min_lr),
        maximize_(maximize) {
    SINTER_CHECK(factor < 1 && factor >= 0, "ReduceLROnPlateau: factor should be < 1.0 and >= 0, got ", factor);
  }
  void step(double metric) {
    const bool better = maximize_ ? metric > best_ * (1 + threshold_) : metric < best_ * (1 - threshold_);
    if (better || first_) {
      best_ = metric;
      bad_ = 0;
      first_ = false;
    } else {
      ++bad_;
    }
    if (cool_ > 0) {
      --cool_;
      bad_ = 0;
    }
    if (bad_ > patience_) {
      for (std::size_t g = 0; g < opt_.num_param_groups(); ++g) opt_.set_lr(g, std::max(opt_.lr(g) * factor_, min_lr_));
      cool_ = cooldown_;
      bad_ = 0;
    }
  }

 private:
  Optimizer& opt_;
  double factor_;
  std::int64_t patience_;
  double threshold_;
  std::int64_t cooldown_;
  double min_lr_;
  bool maximize_;
  double best_ = 0;
  bool first_ = true;
  std::int64_t bad_ = 0, cool_ = 0;
};

}  // namespace sinter::optim
