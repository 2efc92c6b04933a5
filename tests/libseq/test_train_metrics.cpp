#include <gtest/gtest.h>

#include <cmath>

#include "libseq/core/error.h"
#include "libseq/train/metrics.h"

namespace st = strand::train;

TEST(Metrics, BinaryClassificationByHand) {
  // TP 2, FN 1, FP 1, TN 2.
  const std::vector<int64_t> y{1, 1, 0, 0, 1, 0}, p{1, 0, 0, 1, 1, 0};
  EXPECT_NEAR(st::accuracy(y, p), 4.0 / 6.0, 1e-12);
  EXPECT_NEAR(st::mcc(y, p, 2), (2.0 * 2 - 1.0 * 1) / std::sqrt(3.0 * 3 * 3 * 3), 1e-12);
  EXPECT_NEAR(st::f1(y, p, 2), 2.0 * 2 / (2 * 2 + 1 + 1), 1e-12);
  // Perfect and inverted predictions.
  EXPECT_DOUBLE_EQ(st::mcc(y, y, 2), 1.0);
  std::vector<int64_t> inverted;
  for (auto v : y) inverted.push_back(1 - v);
  EXPECT_DOUBLE_EQ(st::mcc(y, inverted, 2), -1.0);
  // A constant predictor has MCC 0 (a zero denominator factor), not NaN.
  EXPECT_EQ(st::mcc(y, std::vector<int64_t>(6, 1), 2), 0.0);
}

TEST(Metrics, MultiClassMccIsGorodkinsRk) {
  // Confusion (rows true): [[2,0,0],[0,0,1],[1,0,2]]: c = 4, s = 6, t = (2,1,3), p = (3,0,3).
  const std::vector<int64_t> y{2, 0, 2, 2, 0, 1}, p{0, 0, 2, 2, 0, 2};
  EXPECT_NEAR(st::mcc(y, p, 3), (4.0 * 6 - 15) / std::sqrt((36.0 - 18) * (36.0 - 14)), 1e-12);
  // Macro F1: class 0 0.8, class 1 0, class 2 2/3.
  EXPECT_NEAR(st::f1(y, p, 3), (0.8 + 0.0 + 2.0 / 3.0) / 3.0, 1e-12);
  // With two classes R_K is the binary MCC.
  const std::vector<int64_t> y2{1, 1, 0, 0, 1, 0}, p2{1, 0, 0, 1, 1, 0};
  EXPECT_NEAR(st::mcc(y2, p2, 2), 1.0 / 3.0, 1e-12);
}

TEST(Metrics, AurocCountsTiesHalf) {
  const std::vector<int64_t> y{0, 0, 1, 1};
  // Scores (n, 2); the class-1 column decides.
  const std::vector<double> s{0.9, 0.1, 0.6, 0.4, 0.65, 0.35, 0.2, 0.8};
  EXPECT_NEAR(st::auroc(y, s, 2), 0.75, 1e-12);
  EXPECT_NEAR(st::auroc({0, 1}, {0.5, 0.5, 0.5, 0.5}, 2), 0.5, 1e-12);
  // One-vs-rest macro average over three classes with perfect scores.
  const std::vector<double> perfect{1, 0, 0, 0, 1, 0, 0, 0, 1};
  EXPECT_NEAR(st::auroc({0, 1, 2}, perfect, 3), 1.0, 1e-12);
  // Only one class present: undefined.
  EXPECT_TRUE(std::isnan(st::auroc({1, 1}, {0.2, 0.8, 0.3, 0.7}, 2)));
}

TEST(Metrics, RegressionByHand) {
  // Ranks of the predictions with a tie: (1, 2, 3.5, 5, 3.5).
  EXPECT_NEAR(st::spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}), 8.0 / std::sqrt(95.0), 1e-12);
  EXPECT_NEAR(st::spearman({1, 2, 3}, {10, 100, 1000}), 1.0, 1e-12);
  EXPECT_NEAR(st::rmse({1, 2, 3}, {1, 2, 5}), std::sqrt(4.0 / 3.0), 1e-12);
  EXPECT_NEAR(st::pearson({1, 2, 3}, {2, 4, 6}), 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(st::spearman({1, 1, 1}, {1, 2, 3})));
}

TEST(Metrics, BundlesUseTheArgMaxAndNameEveryMetric) {
  const auto m = st::classification_metrics({0, 1, 1}, {0.7, 0.3, 0.2, 0.8, 0.6, 0.4}, 2);
  EXPECT_NEAR(m.at("accuracy"), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.at("f1"), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(m.at("auroc"), 1.0, 1e-12);
  EXPECT_EQ(m.size(), 4u);
  const auto r = st::regression_metrics({1, 2, 3}, {1, 2, 3});
  EXPECT_DOUBLE_EQ(r.at("rmse"), 0.0);
  EXPECT_NEAR(r.at("spearman"), 1.0, 1e-12);
  EXPECT_TRUE(st::metric_higher_is_better("mcc"));
  EXPECT_FALSE(st::metric_higher_is_better("rmse"));
  EXPECT_THROW(st::metric_higher_is_better("auprc"), strand::InputError);
}

TEST(Metrics, BadInputIsAnInputError) {
  EXPECT_THROW(st::accuracy({}, {}), strand::InputError);
  EXPECT_THROW(st::mcc({0, 1}, {0}, 2), strand::InputError);
  EXPECT_THROW(st::mcc({0, 2}, {0, 1}, 2), strand::InputError);
  EXPECT_THROW(st::auroc({0, 1}, {0.1, 0.9}, 2), strand::InputError);
  EXPECT_THROW(st::rmse({1, 2}, {1}), strand::InputError);
}
