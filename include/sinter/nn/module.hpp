// SPDX-License-Identifier: Apache-2.0
// nn::Module: the base of every layer and model, with PyTorch's registration and traversal API. Parameters and
// buffers are tensor handles shared between the member a layer uses and the registry, so optimisers, checkpoints
// and to(device) see the same tensors the forward pass reads.
#pragma once

#include <functional>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <sinter/core/tensor.hpp>

namespace sinter::nn {

class Module;

/// Named tensors in registration order (PyTorch's OrderedDict of a state_dict).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string type_name = "Module") : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;  // parameters are shared handles: a copy would alias them silently
  Module& operator=(const Module&) = delete;
  Module(Module&&) = default;  // moving keeps every handle, so Sequential(Linear(2, 3), ReLU()) works
  Module& operator=(Module&&) = default;

  /// The one-input forward used by Sequential and operator(). Layers override it; a module whose forward takes
  /// other arguments keeps its own forward(...) and is called directly.
  virtual Tensor forward(const Tensor& /*x*/);
  Tensor operator()(const Tensor& x) { return forward(x); }

  // ---- registration -------------------------------------------------------------------------------------------
  /// Adds a parameter (a leaf requiring grad) under `name` and returns the shared handle.
  Tensor register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  /// Adds a buffer: state saved in checkpoints and moved by to(), but not trained (BatchNorm's running stats).
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    SINTER_CHECK(m != nullptr, "register_module('", name, "'): the module is null");
    check_new_name(name);
    children_.emplace_back(name, m);
    return m;
  }

  // ---- traversal ----------------------------------------------------------------------------------------------
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const { return values(named_parameters(recurse)); }
  NamedTensors named_buffers(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const { return values(named_buffers(recurse)); }
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& named_children() const { return children_; }
  std::vector<std::shared_ptr<Module>> children() const;
  /// Parameters then buffers of the whole tree, with dotted names: the keys of a PyTorch state_dict.
  NamedTensors state_dict() const;

  // ---- modes and state ------------------------------------------------------------------------------------------
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const noexcept { return training_; }
  /// Drops every parameter's gradient (PyTorch's default set_to_none).
  void zero_grad();
  /// Calls fn on this module and every descendant, children first (like torch.nn.Module.apply).
  void apply(const std::function<void(Module&)>& fn);
  /// Moves every parameter and buffer to `device` in place: the handles layers hold see the move.
  void to(Device device);

  const std::string& type_name() const noexcept { return type_name_; }
  /// One line describing this module's own settings, e.g. "Linear(in_features=784, out_features=256, bias=true)".
  virtual std::string extra_repr() const { return ""; }

  /// Prints the module tree like PyTorch.
  friend std::ostream& operator<<(std::ostream& os, const Module& m) {
    m.print(os, 0);
    return os;
  }

 protected:
  void print(std::ostream& os, int indent) const;

 private:
  void check_new_name(const std::string& name) const;
  void collect(NamedTensors& out, const std::string& prefix, bool recurse, NamedTensors Module::*list) const;
  void collect_state(NamedTensors& out, const std::string& prefix) const;
  static std::vector<Tensor> values(const NamedTensors& named);

  std::string type_name_;
  bool training_ = true;
  NamedTensors params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED Tensor Module::forward(const Tensor& /*x*/) {
  detail::fail(type_name_, " has no forward(const Tensor&); call its own forward(...) or override this one");
}

SINTER_SHARED Tensor Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  check_new_name(name);
  if (t.defined()) t.requires_grad_(requires_grad);
  params_.emplace_back(name, t);
  return t;
}

SINTER_SHARED Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name);
  buffers_.emplace_back(name, t);
  return t;
}

SINTER_SHARED NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect(out, "", recurse, &Module::params_);
  return out;
}

SINTER_SHARED NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect(out, "", recurse, &Module::buffers_);
  return out;
}

SINTER_SHARED std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [n, m] : children_) out.push_back(m);
  return out;
}

SINTER_SHARED NamedTensors Module::state_dict() const {
  NamedTensors out;
  collect_state(out, "");
  return out;
}

SINTER_SHARED void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

SINTER_SHARED void Module::zero_grad() {
  for (auto& p : parameters())
    if (p.defined()) p.zero_grad();
}

SINTER_SHARED void Module::apply(const std::function<void(Module&)>& fn) {
  for (auto& [n, m] : children_) m->apply(fn);
  fn(*this);
}

SINTER_SHARED void Module::to(Device device) {
  auto move = [&](Tensor& t) {
    if (!t.defined() || t.device() == device) return;
    Tensor moved = t.detach().to(device);
    TensorImpl& impl = *t.impl();
    impl.storage = moved.impl()->storage;
    impl.strides = moved.impl()->strides;
    impl.offset = moved.impl()->offset;
    impl.grad.reset();
  };
  for (auto& [n, t] : params_) move(t);
  for (auto& [n, t] : buffers_) move(t);
  for (auto& [n, m] : children_) m->to(device);
}

SINTER_SHARED void Module::print(std::ostream& os, int indent) const {
  os << type_name_ << '(' << extra_repr();
  if (!children_.empty()) {
    os << '\n';
    for (const auto& [n, m] : children_) {
      os << std::string(static_cast<std::size_t>(indent + 2), ' ') << '(' << n << "): ";
      m->print(os, indent + 2);
      os << '\n';
    }
    os << std::string(static_cast<std::size_t>(indent), ' ');
  }
  os << ')';
}

SINTER_SHARED void Module::check_new_name(const std::string& name) const {
  SINTER_CHECK(!name.empty() && name.find('.') == std::string::npos, "module ", type_name_,
               ": a parameter, buffer or submodule name must be non-empty and contain no '.', got '", name, "'");
  auto taken = [&](const auto& list) {
    for (const auto& [n, v] : list)
      if (n == name) return true;
    return false;
  };
  SINTER_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), "module ", type_name_,
               ": the name '", name, "' is already registered");
}

SINTER_SHARED void Module::collect(NamedTensors& out, const std::string& prefix, bool recurse,
                                  NamedTensors Module::*list) const {
  for (const auto& [n, t] : this->*list)
    if (t.defined()) out.emplace_back(prefix + n, t);
  if (recurse)
    for (const auto& [n, m] : children_) m->collect(out, prefix + n + ".", true, list);
}

SINTER_SHARED void Module::collect_state(NamedTensors& out, const std::string& prefix) const {
  for (const auto& [n, t] : params_)
    if (t.defined()) out.emplace_back(prefix + n, t);
  for (const auto& [n, t] : buffers_)
    if (t.defined()) out.emplace_back(prefix + n, t);
  for (const auto& [n, m] : children_) m->collect_state(out, prefix + n + ".");
}

SINTER_SHARED std::vector<Tensor> Module::values(const NamedTensors& named) {
  std::vector<Tensor> out;
  out.reserve(named.size());
  for (const auto& [n, t] : named) out.push_back(t);
  return out;
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace sinter::nn
