// SPDX-License-Identifier: Apache-2.0
// sinter and libtorch side by side in one process on issue 3's element-wise benchmark:
// y = sigmoid(a*x + b) * tanh(x) forward (16 B/element), and forward then backward into the three existing
// gradients of x, a and b (56 B/element), a statement over rows of 10 with broadcast operands, and the
// per-statement cost on 16 elements.
// Usage: eltwise_vs_libtorch [threads]   (run by bench/compare/run.sh under both malloc settings)
#include <cstdlib>
#include <string>

#include <torch/torch.h>

#include <sinter/sinter.hpp>

#include "../peaks.hpp"
#include "timing.hpp"

namespace st = sinter;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  st::set_num_threads(threads);
  torch::set_num_threads(threads);
  const std::string t = ".t" + std::to_string(threads);
  bench::result(("peak.triad" + t).c_str(), bench::triad_gbps(threads), "GB/s");  // the roof of these workloads
  for (std::int64_t n : {std::int64_t{1} << 20, std::int64_t{1} << 24}) {
    const std::string sz = n == (1 << 20) ? "1M" : "16M";
    st::manual_seed(1);
    st::Tensor x = st::randn({n}), a = st::randn({n}), b = st::randn({n}), gy = st::randn({n});
    torch::NoGradGuard none;
    auto tx = torch::from_blob(x.data(), {n}).clone(), ta = torch::from_blob(a.data(), {n}).clone();
    auto tb = torch::from_blob(b.data(), {n}).clone(), tgy = torch::from_blob(gy.data(), {n}).clone();

    st::Tensor y;
    const double s_fwd = bench::median_seconds([&] { y = st::sigmoid(a * x + b) * st::tanh(x); });
    const double t_fwd = bench::median_seconds([&] { auto ty = torch::sigmoid(ta * tx + tb) * torch::tanh(tx); });

    x.requires_grad_();
    a.requires_grad_();
    b.requires_grad_();
    const double s_fb = bench::median_seconds([&] {
      st::Tensor yy = st::sigmoid(a * x + b) * st::tanh(x);
      yy.backward(gy);
    });
    tx.requires_grad_(true);
    ta.requires_grad_(true);
    tb.requires_grad_(true);
    double t_fb = 0;
    {
      torch::AutoGradMode on(true);
      t_fb = bench::median_seconds([&] {
        auto ty = torch::sigmoid(ta * tx + tb) * torch::tanh(tx);
        ty.backward(tgy);
      });
    }
    const double gb = 1e-9 * static_cast<double>(n);
    bench::result(("eltwise.sinter.fwd." + sz + t).c_str(), s_fwd * 1e3, "ms");
    bench::result(("eltwise.torch.fwd." + sz + t).c_str(), t_fwd * 1e3, "ms");
    bench::result(("eltwise.sinter.fwdbwd." + sz + t).c_str(), s_fb * 1e3, "ms");
    bench::result(("eltwise.torch.fwdbwd." + sz + t).c_str(), t_fb * 1e3, "ms");
    bench::result(("eltwise.sinter.fwd_GBps." + sz + t).c_str(), 16 * gb / s_fwd, "GB/s");
    bench::result(("eltwise.sinter.fwdbwd_GBps." + sz + t).c_str(), 56 * gb / s_fb, "GB/s");
    bench::result(("eltwise.ratio_torch_over_sinter.fwd." + sz + t).c_str(), t_fwd / s_fwd, "x");
    bench::result(("eltwise.ratio_torch_over_sinter.fwdbwd." + sz + t).c_str(), t_fb / s_fb, "x");
  }
  // Short rows with broadcast operands: y = tanh(x * b + a), x [4096, len], b [len] and a [4096, 1], forward then
  // backward into the three existing gradients (each broadcast input's gradient is a sum over the other dim).
  // With AVX-512 floats, rows of 10, 16 and 24 are packed into batches that span rows; rows of 32 go row by row.
  for (std::int64_t len : {10, 16, 24, 32}) {
    st::manual_seed(2);
    st::Tensor x = st::randn({4096, len}), b = st::randn({len}), a = st::randn({4096, 1});
    st::Tensor gy = st::randn({4096, len});
    x.requires_grad_();
    b.requires_grad_();
    a.requires_grad_();
    auto tx = torch::randn({4096, len}).requires_grad_(true), tb = torch::randn({len}).requires_grad_(true);
    auto ta = torch::randn({4096, 1}).requires_grad_(true), tgy = torch::randn({4096, len});
    const double s = bench::median_seconds([&] {
      st::Tensor y = st::tanh(x * b + a);
      y.backward(gy);
    });
    double tt = 0;
    {
      torch::AutoGradMode on(true);
      tt = bench::median_seconds([&] {
        auto ty = torch::tanh(tx * tb + ta);
        ty.backward(tgy);
      });
    }
    const std::string key = "rows" + std::to_string(len) + t;
    bench::result(("eltwise.sinter." + key).c_str(), s * 1e6, "us");
    bench::result(("eltwise.torch." + key).c_str(), tt * 1e6, "us");
    bench::result(("eltwise.ratio_torch_over_sinter." + key).c_str(), tt / s, "x");
  }
  {  // per-statement overhead on 16 elements, forward only
    st::Tensor x = st::randn({16}), a = st::randn({16}), b = st::randn({16}), y;
    torch::NoGradGuard none;
    auto tx = torch::randn({16}), ta = torch::randn({16}), tb = torch::randn({16});
    const double s = bench::median_seconds([&] { y = st::sigmoid(a * x + b) * st::tanh(x); });
    const double tt = bench::median_seconds([&] { auto ty = torch::sigmoid(ta * tx + tb) * torch::tanh(tx); });
    bench::result(("eltwise.sinter.statement16" + t).c_str(), s * 1e9, "ns");
    bench::result(("eltwise.torch.statement16" + t).c_str(), tt * 1e9, "ns");
    bench::result(("eltwise.ratio_torch_over_sinter.statement16" + t).c_str(), tt / s, "x");
  }
}
