// The benchmark's speed-up intervals (src/bench/speedup_interval.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <utility>

#include "bench/speedup_interval.hpp"
#include "normkit/error.hpp"

namespace normkit::bench {
namespace {

TEST(BenchInterval, RatiosPairCallsByPosition) {
  EXPECT_EQ(paired_ratios({2.0, 3.0, 8.0}, {1.0, 2.0, 4.0}), (std::vector<double>{2.0, 1.5, 2.0}));
  EXPECT_EQ(paired_ratios({2.0, 3.0}, {1.0}).size(), 1u);  // the shorter length
}

TEST(BenchInterval, MedianOfNothingIsAnError) {
  EXPECT_THROW(median({}), Error);
  EXPECT_EQ(median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(median({4.0, 1.0, 2.0, 3.0}), 2.5);
}

TEST(BenchInterval, TooFewValuesHaveNoInterval) {
  // With 5 values even their whole range holds the median only 1 - 2/32 of
  // the time.
  EXPECT_FALSE(median_interval({1, 2, 3, 4, 5}).has_value());
  const auto six = median_interval({6, 1, 5, 2, 4, 3});
  ASSERT_TRUE(six.has_value());
  EXPECT_EQ(six->low, 1);
  EXPECT_EQ(six->high, 6);
}

TEST(BenchInterval, OrderStatisticsOfTheSignTest) {
  // n = 24: P(B <= 6) = 0.0113, P(B <= 7) = 0.0320, so the interval is the
  // 7th to the 18th of the sorted values.
  std::vector<double> values(24);
  std::iota(values.rbegin(), values.rend(), 1.0);  // 24 down to 1
  const auto interval = median_interval(values);
  ASSERT_TRUE(interval.has_value());
  EXPECT_EQ(interval->low, 7);
  EXPECT_EQ(interval->high, 18);
}

TEST(BenchInterval, ManyValuesKeepTheirOrderStatistics) {
  // Past 1074 values 2^-n underflows: the interval must still come from the
  // binomial's tail (n = 2000: the 956th to the 1045th, by exact sums of
  // C(n, i) / 2^n; n = 5000: the 2431st to the 2570th).
  for (const auto& [n, j] : {std::pair{2000, 956}, std::pair{5000, 2431}}) {
    std::vector<double> values(static_cast<std::size_t>(n));
    std::iota(values.begin(), values.end(), 1.0);
    const auto interval = median_interval(values);
    ASSERT_TRUE(interval.has_value());
    EXPECT_EQ(interval->low, j) << "n=" << n;
    EXPECT_EQ(interval->high, n - j + 1) << "n=" << n;
  }
}

TEST(BenchInterval, CoversTheMedianOfASkewedDistribution) {
  // Log-normal ratios with median 1 (a VM's timing noise is skewed): the
  // interval of 30 holds 1 in 95.7% of draws in theory (j = 10).
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> ratio(0.0, 0.3);
  int covered = 0;
  constexpr int kDraws = 4000;
  for (int d = 0; d < kDraws; ++d) {
    std::vector<double> values(30);
    for (double& v : values) v = ratio(rng);
    const auto interval = median_interval(values);
    ASSERT_TRUE(interval.has_value());
    covered += interval->low <= 1.0 && 1.0 <= interval->high;
  }
  EXPECT_GE(covered, 0.94 * kDraws);
  EXPECT_LE(covered, 0.975 * kDraws);
}

TEST(BenchInterval, SeparatesAShiftFromLevel) {
  // 60 ratios around 0.96 with 3% noise: the interval lies below 1; around
  // 0.995, it holds 1.
  std::mt19937_64 rng(11);
  std::normal_distribution<double> noise(0.0, 0.03);
  std::vector<double> slower(60), level(60);
  for (double& v : slower) v = 0.96 + noise(rng);
  for (double& v : level) v = 0.995 + noise(rng);
  EXPECT_LT(median_interval(slower)->high, 1.0);
  EXPECT_GE(median_interval(level)->high, 1.0);
  EXPECT_LE(median_interval(level)->low, 1.0);
}

}  // namespace
}  // namespace normkit::bench
