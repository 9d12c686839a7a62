// SPDX-License-Identifier: Apache-2.0
// The optimiser base: parameter groups with their own options, per-parameter state, zero_grad, and the state
// tensors a checkpoint saves. Each concrete optimiser's step is one kernel per parameter tensor: the update reads
// the gradient and state once and writes the parameter and state once.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <sinter/backend/dispatch.hpp>
#include <sinter/core/factory.hpp>
#include <sinter/nn/module.hpp>

namespace sinter::optim {

using nn::NamedTensors;

/// What every optimiser offers schedulers, clipping and checkpoints, whatever its options type.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  /// Applies one update to every parameter that has a gradient.
  virtual void step() = 0;
  /// Drops (set_to_none, the default) or zeroes every parameter's gradient.
  void zero_grad(bool set_to_none = true) {
    for (auto* ps : param_lists())
      for (auto& p : *ps) {
        if (set_to_none) p.zero_grad();
        else if (p.impl()->grad) Tensor(p.impl()->grad).zero_();
      }
  }
  virtual std::size_t num_param_groups() const = 0;
  virtual double lr(std::size_t group) const = 0;
  virtual void set_lr(std::size_t group, double lr) = 0;
  /// Per-parameter state as named tensors: "state.<index>.<name>" with the index counting parameters across groups
  /// in order (PyTorch's optimizer state_dict numbering).
  virtual NamedTensors state_tensors() const = 0;
  /// Restores what state_tensors() returned (checked by name and shape by the caller).
  virtual void load_state_tensors(const NamedTensors& named) = 0;

 protected:
  virtual std::vector<std::vector<Tensor>*> param_lists() = 0;
};

/// Shared machinery of an optimiser with options type O and per-parameter state type S.
template <class O, class S>
class OptimizerWith : public Optimizer {
 public:
  struct Group {
    std::vector<Tensor> params;
    O options;
  };

  OptimizerWith(std::vector<Tensor> params, O defaults) : defaults_(defaults) { add_param_group(std::move(params)); }
  ~OptimizerWith() override;  // defined below the class, so compiled mode's extern instances cover it
  /// Adds parameters with their own options (default: the constructor's).
  void add_param_group(std::vector<Tensor> params, std::optional<O> options = std::nullopt) {
    for (const auto& p : params) {
      detail::require_defined(p.impl().get(), "optimizer");
      SINTER_CHECK(p.is_leaf() && p.requires_grad(), "optimizer: every parameter must be a leaf that requires grad");
      SINTER_CHECK(p.is_contiguous(), "optimizer: parameters must be contiguous; got strides ", p.strides());
      for (const auto& g : groups_)
        for (const auto& q : g.params)
          SINTER_CHECK(!q.is_same(p), "optimizer: some parameters appear in more than one parameter group");
    }
    states_.emplace_back(params.size());
    groups_.push_back(Group{std::move(params), options.value_or(defaults_)});
  }
  std::vector<Group>& param_groups() { return groups_; }
  const O& defaults() const { return defaults_; }
  std::size_t num_param_groups() const override { return groups_.size(); }
  double lr(std::size_t g) const override { return groups_.at(g).options.lr_; }
  void set_lr(std::size_t g, double lr) override { groups_.at(g).options.lr_ = lr; }

  void step() override {
    for (std::size_t gi = 0; gi < groups_.size(); ++gi)
      for (std::size_t k = 0; k < groups_[gi].params.size(); ++k) {
        auto& p = groups_[gi].params[k];
        if (!p.impl()->grad) continue;
        Tensor grad(p.impl()->grad);
        update(p, grad.contiguous(), states_[gi][k], groups_[gi].options);
      }
  }

  NamedTensors state_tensors() const override {
    NamedTensors out;
    std::size_t idx = 0;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi)
      for (std::size_t k = 0; k < groups_[gi].params.size(); ++k, ++idx)
        for (auto& [name, t] : states_[gi][k].named())
          if (t.defined()) out.emplace_back("state." + std::to_string(idx) + "." + name, t);
    return out;
  }
  void load_state_tensors(const NamedTensors& named) override {
    // Validate every key first, so a bad file leaves the optimiser unchanged.
    std::vector<const Tensor*> params;
    for (const auto& g : groups_)
      for (const auto& p : g.params) params.push_back(&p);
    for (const auto& [key, t] : named) {
      const auto dot = key.find('.', 6);
      SINTER_CHECK(key.rfind("state.", 0) == 0 && dot != std::string::npos, "load: optimizer state key '", key,
                   "' is not of the form state.<index>.<name>");
      const std::string num = key.substr(6, dot - 6), name = key.substr(dot + 1);
      SINTER_CHECK(!num.empty() && num.find_first_not_of("0123456789") == std::string::npos &&
                       std::stoull(num) < params.size(),
                   "load: optimizer state key '", key, "' names parameter ", num, " but the optimizer has ",
                   params.size(), " parameters");
      S probe;
      bool known = false;
      for (auto& [slot_name, slot] : probe.slots()) known = known || slot_name == name;
      SINTER_CHECK(known, "load: optimizer state key '", key, "' is not a state of this optimizer");
      const Shape want = name == "step" ? Shape{} : params[std::stoull(num)]->shape();
      SINTER_CHECK(t.shape() == want, "load: size mismatch for optimizer state '", key, "': the checkpoint has shape ",
                   t.shape(), ", the parameter needs ", want);
    }
    std::size_t idx = 0;
    for (std::size_t gi = 0; gi < groups_.size(); ++gi)
      for (std::size_t k = 0; k < groups_[gi].params.size(); ++k, ++idx) {
        S& s = states_[gi][k];
        const std::string prefix = "state." + std::to_string(idx) + ".";
        for (auto& [name, slot] : s.slots()) {
          for (const auto& [key, t] : named)
            if (key == prefix + name) *slot = t.clone();
        }
      }
  }

 protected:
  virtual void update(Tensor& p, const Tensor& grad, S& state, const O& options) = 0;
  std::vector<std::vector<Tensor>*> param_lists() override {
    std::vector<std::vector<Tensor>*> out;
    for (auto& g : groups_) out.push_back(&g.params);
    return out;
  }

 private:
  O defaults_;
  std::vector<Group> groups_;
  std::vector<std::vector<S>> states_;
};

/// A step counter kept as a 0-d tensor so checkpoints carry it like PyTorch's "step".
inline double bump_step(Tensor& step) {
  if (!step.defined()) step = zeros({});
  const double s = step.item() + 1;
  step.data()[0] = static_cast<float>(s);
  return s;
}

template <class O, class S>
OptimizerWith<O, S>::~OptimizerWith() = default;

}  // namespace sinter::optim
