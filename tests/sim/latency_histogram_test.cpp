#include <gtest/gtest.h>

#include "sim/metrics/latency_histogram.hpp"
#include "sim/rng.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

using swarmsim::sim::LatencyHistogram;

TEST(LatencyHistogram, ConstantValuesAreReportedExactly) {
  LatencyHistogram h;
  for (int i = 0; i < 30; ++i) h.record(0.0895);
  EXPECT_EQ(h.count(), 30u);
  EXPECT_DOUBLE_EQ(h.percentile(50), 0.0895);  // clamped to [min, max]
  EXPECT_DOUBLE_EQ(h.percentile(99), 0.0895);
  EXPECT_DOUBLE_EQ(h.mean(), 0.0895);
}

TEST(LatencyHistogram, PercentilesWithinBucketPrecisionOfExactRanks) {
  swarmsim::sim::Rng rng(3);
  LatencyHistogram h;
  std::vector<double> xs;
  for (int i = 0; i < 20000; ++i) {
    const double x = std::exp(rng.uniform(std::log(1e-4), std::log(10.0)));  // 5 decades
    xs.push_back(x);
    h.record(x);
  }
  std::sort(xs.begin(), xs.end());
  for (double p : {1.0, 50.0, 95.0, 99.0, 99.9}) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * xs.size())) - 1;
    EXPECT_NEAR(h.percentile(p) / xs[rank], 1.0, 1e-3) << "p" << p;
  }
  EXPECT_DOUBLE_EQ(h.min(), xs.front());
  EXPECT_DOUBLE_EQ(h.max(), xs.back());
}

// 64 sub-buckets per power of two: a bucket spans 2^(1/64) - 1 = 1.1%, so a percentile (the
// bucket's geometric middle) is within 0.55% of the exact rank's value.
TEST(LatencyHistogram, CoarseSubBucketsKeepPercentilesWithinTheirBucket) {
  swarmsim::sim::Rng rng(5);
  LatencyHistogram h(64);
  std::vector<double> xs;
  for (int i = 0; i < 20000; ++i) {
    const double x = std::exp(rng.uniform(std::log(1e-4), std::log(10.0)));
    xs.push_back(x);
    h.record(x);
  }
  std::sort(xs.begin(), xs.end());
  for (double p : {1.0, 50.0, 95.0, 99.0}) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * xs.size())) - 1;
    EXPECT_NEAR(h.percentile(p) / xs[rank], 1.0, 0.006) << "p" << p;
  }
  EXPECT_DOUBLE_EQ(h.max(), xs.back());
}

TEST(LatencyHistogram, EmptyHistogramReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.percentile(50), 0.0);
  EXPECT_EQ(h.mean(), 0.0);
}
