// SPDX-License-Identifier: Apache-2.0
// The training helpers: the progress bar's line, the accuracy metric and the running mean.
#include <catch2/catch.hpp>
#include <sinter/core/factory.hpp>
#include <sinter/util/metrics.hpp>
#include <sinter/util/progress_bar.hpp>

namespace st = sinter;
using sinter::util::Accuracy;
using sinter::util::ProgressBar;
using sinter::util::RunningMean;

TEST_CASE("ProgressBar's line shows the label, bar, percent, steps and loss, and it draws nothing when disabled",
          "[util]") {
  ProgressBar bar("epoch 1", 4, /*enabled=*/false);
  CHECK_THAT(bar.line(), Catch::StartsWith("epoch 1 [                        ]   0% 0/4 "));
  bar.advance(0.5);
  bar.advance(0.25);
  const std::string half = bar.line();
  CHECK_THAT(half, Catch::StartsWith("epoch 1 [############            ]  50% 2/4 "));
  CHECK_THAT(half, Catch::Contains(" it/s eta ") && Catch::EndsWith(" loss 0.2500"));
  bar.advance(0.125);
  bar.advance(0.0625);
  CHECK_THAT(bar.line(), Catch::StartsWith("epoch 1 [########################] 100% 4/4 ") &&
                             Catch::Contains(" eta 0s loss 0.0625"));
  bar.finish();
  bar.finish();  // once only; and the destructor after it adds nothing
  ProgressBar none("empty", 0, false);  // a total of 0 counts as 1: no division by zero
  CHECK_THAT(none.line(), Catch::StartsWith("empty [                        ]   0% 0/1 "));
}

TEST_CASE("Accuracy counts rows whose largest logit is the target, the first on ties", "[util]") {
  Accuracy acc;
  CHECK(acc.value() == 0.0);
  const st::Tensor logits = st::from_vector<float>({0.1f, 0.9f, 0.0f,   //
                                                    2.0f, 1.0f, 2.0f,   // a tie: class 0 wins, as in argmax
                                                    -1.0f, -3.0f, -0.5f},
                                                   st::Shape{3, 3});
  acc.update(logits, st::from_vector<std::int64_t>({1, 2, 2}));
  CHECK(acc.correct() == 2);
  CHECK(acc.total() == 3);
  acc.update(st::from_vector<float>({1.0f, 0.0f}, st::Shape{1, 2}), st::from_vector<std::int64_t>({1}));
  CHECK(acc.value() == Approx(0.5));
  acc.reset();
  CHECK(acc.total() == 0);
  CHECK_THROWS_WITH(acc.update(logits, st::from_vector<std::int64_t>({1, 2})),
                    Catch::StartsWith("sinter: Accuracy: expected logits [N, C] and targets [N], got [3, 3] and [2]"));
}

TEST_CASE("RunningMean is the weighted mean of what it was given", "[util]") {
  RunningMean m;
  CHECK(m.value() == 0.0);
  m.update(2.0, 3);  // a batch of 3 with mean loss 2
  m.update(1.0);
  CHECK(m.value() == Approx(7.0 / 4));
  CHECK(m.count() == 4);
  m.reset();
  CHECK(m.count() == 0);
}
