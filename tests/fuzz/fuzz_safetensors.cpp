// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: safetensors checkpoints (sinter/io/safetensors.hpp), loaded into a module and an optimiser whose
// names and shapes match the seed corpus, so mutations reach the copy as well as the header checks.
#include <sinter/io/safetensors.hpp>
#include <sinter/nn.hpp>
#include <sinter/optim.hpp>
#include <sinter/sinter.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static sinter::nn::Linear model(3, 2);
  static sinter::optim::SGD opt(model.parameters(), sinter::optim::SGDOptions(0.1).momentum(0.9));
  static const bool stepped = [] {  // one step, so the optimiser has momentum buffers to load into
    sinter::sum(model(sinter::ones({1, 3}))).backward();
    opt.step();
    return true;
  }();
  (void)stepped;
  const std::string path = fuzz::as_file(data, size, ".safetensors");
  fuzz::expect_only_sinter_errors([&] {
    const auto f = sinter::io::parse_safetensors(std::string(reinterpret_cast<const char*>(data), size), "input");
    for (const auto& [key, e] : f.entries)  // every accepted byte range lies inside the file
      if (e.end > f.data_size() || e.begin > e.end) std::abort();
  });
  fuzz::expect_only_sinter_errors([&] { sinter::load(model, path); });
  fuzz::expect_only_sinter_errors([&] { sinter::load(opt, path); });
  return 0;
}
