// SPDX-License-Identifier: Apache-2.0
// The backward engine: walks the tape from a root in reverse topological order. Each node receives the gradient
// of its output and one destination per input: the leaf's .grad, or the buffer of the node that made the input.
// A destination is fresh (overwrite) the first time and accumulated after, so no zero-fill pass is ever needed.
#pragma once

#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <sinter/config.hpp>
#include <sinter/core/anomaly.hpp>
#include <sinter/core/strided.hpp>
#include <sinter/core/tensor.hpp>

namespace sinter::detail {

/// Nodes reachable from root, each after every node that consumes its output. Owning pointers: releasing a node's
/// edges during the pass must not destroy a node that is still to run.
std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root);

std::shared_ptr<TensorImpl> implicit_seed(const TensorImpl& root);

void run_backward(const std::shared_ptr<TensorImpl>& root, const std::shared_ptr<TensorImpl>& grad,
                  bool retain_graph);

#if SINTER_DEFINE_SHARED  // compiled once in compiled mode (config.hpp)
SINTER_SHARED std::vector<std::shared_ptr<Node>> topological_order(const std::shared_ptr<Node>& root) {
  std::vector<std::shared_ptr<Node>> post;
  std::unordered_set<Node*> seen{root.get()};
  std::vector<std::pair<std::shared_ptr<Node>, std::size_t>> stack{{root, 0}};
  while (!stack.empty()) {
    auto& [n, k] = stack.back();
    if (k < n->inputs.size()) {
      const auto& in = n->inputs[k++];
      std::shared_ptr<Node> next = in ? in->grad_fn : nullptr;
      if (next && seen.insert(next.get()).second) stack.emplace_back(std::move(next), 0);
    } else {
      post.push_back(n);
      stack.pop_back();
    }
  }
  return {post.rbegin(), post.rend()};
}

SINTER_SHARED std::shared_ptr<TensorImpl> implicit_seed(const TensorImpl& root) {
  SINTER_CHECK(root.numel() == 1, "backward(): grad can be implicitly created only for scalar outputs, but the "
                                  "output has shape ", root.shape, "; pass a gradient: y.backward(g)");
  auto g = TensorImpl::empty(root.shape, root.dtype, root.device());
  if (root.device().is_cpu()) {  // a constant, not a kernel
    if (root.dtype == DType::Float32) *static_cast<float*>(g->data()) = 1.0f;
    else *static_cast<double*>(g->data()) = 1.0;
  } else {
    fill(*g, 1.0);
  }
  return g;
}

SINTER_SHARED void run_backward(const std::shared_ptr<TensorImpl>& root, const std::shared_ptr<TensorImpl>& grad,
                         bool retain_graph) {
  require_defined(root.get(), "backward()");
  SINTER_CHECK(root->needs_grad(), "backward(): the tensor does not require grad and has no grad_fn; call "
                                   "requires_grad_() on a leaf it is computed from, outside NoGradGuard");
  std::shared_ptr<TensorImpl> g;
  if (!grad) {
    g = implicit_seed(*root);
  } else {
    SINTER_CHECK(grad->shape == root->shape, "backward(): the gradient has shape ", grad->shape,
                 " but the output has shape ", root->shape, "; they must match");
    SINTER_CHECK(grad->dtype == root->dtype, "backward(): the gradient is ", dtype_name(grad->dtype),
                 " but the output is ", dtype_name(root->dtype));
    SINTER_CHECK(grad->device() == root->device(), "backward(): the gradient is on ", grad->device(),
                 " but the output is on ", root->device(), "; move it with .to(device)");
    g = grad;
    if (!g->is_contiguous()) {
      g = TensorImpl::empty(grad->shape, grad->dtype, grad->device());
      copy_into(*g, *grad, false);
    }
  }

  if (!root->grad_fn) {  // a leaf: backward just accumulates
    if (!root->grad) {
      root->grad = TensorImpl::empty(root->shape, root->dtype, root->device());
      copy_into(*root->grad, *g, false);
    } else {
      copy_into(*root->grad, *g, true);
    }
    return;
  }

  std::unordered_map<Node*, std::shared_ptr<TensorImpl>> incoming;
  incoming[root->grad_fn.get()] = g;
  for (const auto& owned : topological_order(root->grad_fn)) {
    Node* node = owned.get();
    auto it = incoming.find(node);
    if (it == incoming.end()) continue;  // no gradient reached it
    SINTER_CHECK(!node->released, "backward(): trying to backward through the graph a second time (", node->name(),
                 " has already freed its saved tensors); pass retain_graph=true to the first backward() call");
    std::vector<GradTarget> targets(node->inputs.size());
    for (std::size_t k = 0; k < node->inputs.size(); ++k) {
      if (!node->inputs[k]) continue;  // an optional input that was not given (a layer without weight)
      TensorImpl& in = *node->inputs[k];
      if (in.grad_fn) {
        auto& buf = incoming[in.grad_fn.get()];
        targets[k].accumulate = buf != nullptr;
        if (!buf) buf = TensorImpl::empty(in.shape, in.dtype, in.device());
        targets[k].buffer = buf;
      } else if (in.requires_grad) {
        targets[k].accumulate = in.grad != nullptr;
        if (!in.grad) in.grad = TensorImpl::empty(in.shape, in.dtype, in.device());
        targets[k].buffer = in.grad;
      }
    }
    const auto grad_out = it->second;
    node->apply(*grad_out, targets);
    if (is_anomaly_enabled())
      for (std::size_t k = 0; k < targets.size(); ++k)
        if (targets[k].buffer) check_backward_anomaly(*node, *grad_out, k, *targets[k].buffer);
    incoming.erase(node);
    if (!retain_graph) {
      node->release_saved();
      node->released = true;
      node->inputs.clear();  // the edges hold input tensors too; a later backward through here fails on `released`
    }
  }
}
#endif  // SINTER_DEFINE_SHARED

}  // namespace sinter::detail
