// SPDX-License-Identifier: Apache-2.0
// DetectAnomalyGuard: the first NaN or inf an op produces throws, naming the op and the statement's line.
#include <limits>
#include <string>
#include <thread>

#include <support/reference.hpp>

namespace st = sinter;
using Catch::Matchers::Contains;

namespace {
/// The message of the sinter::Error that f throws ("" if none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const st::Error& e) {
    return e.what();
  }
  return "";
}
std::string here(int line) { return "test_anomaly.cpp:" + std::to_string(line); }
const float inf = std::numeric_limits<float>::infinity();
}  // namespace

TEST_CASE("anomaly mode is off by default and NaN flows silently, as in PyTorch", "[core][anomaly]") {
  CHECK_FALSE(st::is_anomaly_enabled());
  const st::Tensor x = st::from_vector<float>({-1.0f, 4.0f});
  const st::Tensor y = st::log(x);
  CHECK(std::isnan(y.to_vector()[0]));
}

TEST_CASE("a forward statement that produces NaN names its op and line", "[core][anomaly]") {
  const st::Tensor x = st::from_vector<float>({1.0f, -2.0f, 3.0f});
  st::DetectAnomalyGuard guard;
  CHECK(st::is_anomaly_enabled());
  int line = 0;
  const std::string msg = error_of([&] {
    line = __LINE__ + 1;
    st::Tensor y = st::sqrt(x * 2.0f) + 1.0f;
  });
  CHECK_THAT(msg, Contains("sinter: anomaly detected: add produced nan (element 1 of its result of shape [3])"));
  CHECK_THAT(msg, Contains(here(line)));

  // Rebinding (y = ...) and copy_ report the caller's line too.
  st::Tensor y = st::zeros({3});
  const std::string rebind = error_of([&] {
    line = __LINE__ + 1;
    y = st::log(x);
  });
  CHECK_THAT(rebind, Contains("log produced nan"));
  CHECK_THAT(rebind, Contains(here(line)));
  const std::string copy = error_of([&] {
    line = __LINE__ + 1;
    y.copy_(st::log(x));
  });
  CHECK_THAT(copy, Contains(here(line)));
}

TEST_CASE("an inf produced from finite inputs is an anomaly, values that pass through are not", "[core][anomaly]") {
  st::DetectAnomalyGuard guard;
  const st::Tensor big = st::from_vector<float>({1e30f, 1.0f});
  CHECK_THAT(error_of([&] { st::Tensor y = big * big; }), Contains("mul produced inf (element 0"));
  CHECK_THAT(error_of([&] { st::Tensor y = st::exp(big); }), Contains("exp produced inf"));

  // A -inf attention mask passes through a statement and a softmax row that still has a finite entry.
  const st::Tensor logits = st::from_vector<float>({0.5f, 1.0f, 2.0f, 3.0f}, st::Shape{2, 2});
  const st::Tensor mask = st::from_vector<float>({0.0f, -inf, 0.0f, 0.0f}, st::Shape{2, 2});
  st::Tensor masked = logits + mask;
  CHECK(masked.to_vector()[1] == -inf);
  CHECK_NOTHROW(st::softmax(masked, 1));
  // A fully masked row turns -inf into NaN: that is new, so softmax is named.
  const st::Tensor all_masked = st::full({1, 2}, -inf);
  CHECK_THAT(error_of([&] { st::softmax(all_masked, 1); }), Contains("softmax produced nan"));
}

TEST_CASE("reductions and matmul name their op and line", "[core][anomaly]") {
  st::DetectAnomalyGuard guard;
  const st::Tensor x = st::from_vector<float>({1.0f, -1.0f});
  int line = __LINE__ + 1;
  std::string msg = error_of([&] { st::sum(st::log(x)); });
  CHECK_THAT(msg, Contains("sum produced nan"));
  CHECK_THAT(msg, Contains(here(line)));
  const st::Tensor a = st::full({2, 3}, 1e20f), b = st::full({3, 2}, 1e20f);
  line = __LINE__ + 1;
  msg = error_of([&] { st::matmul(a, b); });
  CHECK_THAT(msg, Contains("matmul produced inf"));
  CHECK_THAT(msg, Contains(here(line)));
}

TEST_CASE("a backward node that returns NaN or inf names itself and its forward statement", "[core][anomaly]") {
  st::Tensor x = st::from_vector<float>({0.0f, 4.0f}).requires_grad_();
  st::DetectAnomalyGuard guard;
  const int line = __LINE__ + 1;
  st::Tensor y = st::sqrt(x);  // finite forward: sqrt(0) = 0
  const std::string msg = error_of([&] { st::sum(y).backward(); });
  CHECK_THAT(msg, Contains("sinter: anomaly detected: SqrtBackward returned inf in the gradient of its input 0 "
                           "(element 0 of shape [2])"));
  CHECK_THAT(msg, Contains("the forward statement was at "));
  CHECK_THAT(msg, Contains(here(line)));

  // 0/0 in a derivative: pow(0, 0.5) is finite, its derivative at 0 is not.
  st::Tensor z = st::from_vector<float>({0.0f, 1.0f}).requires_grad_();
  st::Tensor p = st::pow(z, 0.5f) * 3.0f;
  CHECK_THAT(error_of([&] { st::sum(p).backward(); }), Contains("MulBackward returned inf"));
}

TEST_CASE("finite work runs unchanged in anomaly mode, and the guard restores the previous mode", "[core][anomaly]") {
  st::manual_seed(3);
  st::Tensor w = st::randn({4, 3}).requires_grad_();
  const st::Tensor x = st::randn({5, 4});
  {
    st::DetectAnomalyGuard outer;
    {
      st::DetectAnomalyGuard inner;
      st::Tensor loss = st::mean(st::log_softmax(st::matmul(x, w), 1));
      CHECK_NOTHROW(loss.backward());
    }
    CHECK(st::is_anomaly_enabled());
    bool other_thread = true;
    std::thread([&] { other_thread = st::is_anomaly_enabled(); }).join();
    CHECK_FALSE(other_thread);  // the mode is per thread, like grad mode
  }
  CHECK_FALSE(st::is_anomaly_enabled());
  const st::Tensor neg = st::from_vector<float>({-1.0f});
  CHECK_NOTHROW(st::Tensor(st::log(neg)));
}
