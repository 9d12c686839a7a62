// SPDX-License-Identifier: Apache-2.0
// Containers: Sequential (runtime composition of one-input modules) and ModuleList (registered, indexable).
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <sinter/nn/module.hpp>

namespace sinter::nn {

namespace detail {
template <class M>
std::shared_ptr<Module> to_module_ptr(M&& m) {
  using D = std::remove_cvref_t<M>;
  if constexpr (requires { typename D::element_type; }) {
    static_assert(std::is_base_of_v<Module, typename D::element_type>, "sinter: Sequential holds nn::Module types");
    return std::forward<M>(m);
  } else {
    static_assert(std::is_base_of_v<Module, D>, "sinter: Sequential holds nn::Module types; pass a layer such as "
                                                "nn::Linear(784, 256) or a std::shared_ptr to one");
    return std::make_shared<D>(std::forward<M>(m));
  }
}
}  // namespace detail

/// Calls its children in order: `nn::Sequential net(nn::Linear(784, 256), nn::ReLU(), nn::Linear(256, 10));`
/// Children are named "0", "1", ... as in PyTorch, so state_dict keys match.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  template <class... M>
    requires(sizeof...(M) > 0)
  explicit Sequential(M&&... modules) : Module("Sequential") {
    (push_back(std::forward<M>(modules)), ...);
  }
  template <class M>
  void push_back(M&& m) {
    layers_.push_back(register_module(std::to_string(layers_.size()), detail::to_module_ptr(std::forward<M>(m))));
  }
  Tensor forward(const Tensor& x) override;
  std::size_t size() const noexcept { return layers_.size(); }
  const std::shared_ptr<Module>& operator[](std::size_t i) const {
    SINTER_CHECK(i < layers_.size(), "Sequential: index ", i, " is out of range for ", layers_.size(), " modules");
    return layers_[i];
  }
  /// The i-th module as its own type: `seq.at<nn::Linear>(0).weight`.
  template <class M>
  M& at(std::size_t i) const {
    auto p = std::dynamic_pointer_cast<M>((*this)[i]);
    SINTER_CHECK(p != nullptr, "Sequential::at: module ", i, " is a ", (*this)[i]->type_name(),
                 ", not the type requested");
    return *p;
  }
  auto begin() const { return layers_.begin(); }
  auto end() const { return layers_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

/// Holds submodules in a list, registered so their parameters are found; the owner decides how to call them.
#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : layers_) y = m->forward(y);
  return y;
}
#endif  // SINTER_DEFINE_SHARED

class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  template <class M>
  void push_back(M&& m) {
    items_.push_back(register_module(std::to_string(items_.size()), detail::to_module_ptr(std::forward<M>(m))));
  }
  std::size_t size() const noexcept { return items_.size(); }
  const std::shared_ptr<Module>& operator[](std::size_t i) const {
    SINTER_CHECK(i < items_.size(), "ModuleList: index ", i, " is out of range for ", items_.size(), " modules");
    return items_[i];
  }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> items_;
};

}  // namespace sinter::nn
