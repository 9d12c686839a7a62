// SPDX-License-Identifier: Apache-2.0
// nn::Embedding: a lookup table of num_embeddings rows, indexed by int64 tensors of any shape.
#pragma once

#include <sinter/core/factory.hpp>
#include <sinter/nn/init.hpp>
#include <sinter/nn/module.hpp>
#include <sinter/ops/index.hpp>

namespace sinter::nn {

class Embedding : public Module {
 public:
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim) : Module("Embedding") {
    SINTER_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding: sizes must be positive, got ", num_embeddings,
                 " and ", embedding_dim);
    weight = register_parameter("weight", empty({num_embeddings, embedding_dim}));
    init::normal_(weight);  // PyTorch's default: N(0, 1)
  }
  using Module::forward;  // the float-tensor forward is not meaningful here and says so
  /// Rows of the table for every index: the result has shape [*indices.shape, embedding_dim].
  Tensor forward(const LongTensor& indices) const {
    Shape out = indices.shape();
    out.push_back(weight.size(1));
    return index_select(weight, 0, indices.reshape({-1})).reshape(out);
  }
  std::string extra_repr() const override {
    return std::to_string(weight.size(0)) + ", " + std::to_string(weight.size(1));
  }
  Tensor weight;
};

}  // namespace sinter::nn
