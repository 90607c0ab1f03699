// The analytic Gaussian mechanism and the clip-and-noise release of split learning's hidden
// states (seed 002, eq. 25; sim/privacy/gaussian_mechanism.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "sim/privacy/gaussian_mechanism.hpp"

using namespace swarmsim::sim;

namespace {

/// The hockey-stick divergence ∫ max(0, p(x) − e^ε q(x)) dx of P = N(0, σ²) and Q = N(Δ, σ²), by
/// Simpson's rule on a fine grid: the definition of δ, computed without the closed form.
double hockey_stick_by_quadrature(double sigma, double epsilon, double delta_shift) {
  const double lo = -40.0 * sigma, hi = delta_shift + 40.0 * sigma;
  const int n = 400000;  // even
  const double h = (hi - lo) / n;
  const auto f = [&](double x) {
    const double p = std::exp(-x * x / (2 * sigma * sigma)), q = std::exp(-(x - delta_shift) * (x - delta_shift) / (2 * sigma * sigma));
    return std::max(0.0, p - std::exp(epsilon) * q) / (sigma * std::sqrt(2 * M_PI));
  };
  double s = f(lo) + f(hi);
  for (int i = 1; i < n; ++i) s += (i % 2 ? 4.0 : 2.0) * f(lo + i * h);
  return s * h / 3.0;
}

}  // namespace

TEST(GaussianMechanism, DeltaIsTheHockeyStickDivergence) {
  for (const double sigma : {0.5, 1.0, 3.0})
    for (const double eps : {0.1, 1.0, 4.0}) {
      const double closed = gaussian_mechanism_delta(sigma, eps, 1.0);
      const double integral = hockey_stick_by_quadrature(sigma, eps, 1.0);
      EXPECT_NEAR(closed, integral, 1e-9 + 1e-6 * integral) << "sigma " << sigma << " epsilon " << eps;
    }
}

TEST(GaussianMechanism, SigmaIsTheSmallestThatMeetsDelta) {
  for (const double eps : {0.05, 0.5, 1.0, 8.0, 64.0})
    for (const double delta : {1e-3, 1e-5, 1e-9}) {
      const double sigma = gaussian_mechanism_sigma(eps, delta, 2.0);
      EXPECT_LE(gaussian_mechanism_delta(sigma, eps, 2.0), delta * (1 + 1e-9)) << eps << " " << delta;
      EXPECT_GT(gaussian_mechanism_delta(sigma * 0.999, eps, 2.0), delta) << eps << " " << delta;
    }
}

// σ is linear in the sensitivity (the condition depends on Δ/σ only), and falls as ε or δ grow.
TEST(GaussianMechanism, SigmaScalesWithSensitivityAndFallsWithTheBudget) {
  const double s1 = gaussian_mechanism_sigma(2.0, 1e-5, 1.0);
  EXPECT_NEAR(gaussian_mechanism_sigma(2.0, 1e-5, 7.0), 7.0 * s1, 1e-9 * s1);
  EXPECT_LT(gaussian_mechanism_sigma(4.0, 1e-5, 1.0), s1);
  EXPECT_LT(gaussian_mechanism_sigma(2.0, 1e-3, 1.0), s1);
}

// Where the classic calibration is proven (ε < 1) it meets δ too, with more noise than needed.
TEST(GaussianMechanism, NeedsLessNoiseThanTheClassicCalibration) {
  for (const double eps : {0.1, 0.5, 0.9}) {
    const double classic = classic_gaussian_sigma(eps, 1e-5, 1.0), analytic = gaussian_mechanism_sigma(eps, 1e-5, 1.0);
    EXPECT_LT(analytic, classic) << eps;
    EXPECT_LE(gaussian_mechanism_delta(classic, eps, 1.0), 1e-5) << eps;
  }
}

TEST(GaussianMechanism, RefusesBudgetsThatMeanNothing) {
  EXPECT_THROW(gaussian_mechanism_sigma(0.0, 1e-5, 1.0), std::invalid_argument);
  EXPECT_THROW(gaussian_mechanism_sigma(1.0, 1.0, 1.0), std::invalid_argument);
  EXPECT_THROW(gaussian_mechanism_sigma(1.0, 1e-5, 0.0), std::invalid_argument);
}

TEST(ClipAndNoise, ClipsLongRowsToTheNormAndLeavesShortOnes) {
  std::vector<float> v{3, 4, 0, 0.3f, 0.4f, 0};  // norms 5 and 0.5
  Rng rng(1);
  const NoiseStats st = clip_and_noise(v, 3, 1.0, 0.0, rng);
  EXPECT_EQ(st.vectors, 2);
  EXPECT_EQ(st.clipped, 1);
  EXPECT_NEAR(st.norm_sum, 5.5, 1e-6);
  EXPECT_NEAR(v[0], 0.6f, 1e-6);
  EXPECT_NEAR(v[1], 0.8f, 1e-6);
  EXPECT_FLOAT_EQ(v[3], 0.3f);
  EXPECT_FLOAT_EQ(v[4], 0.4f);
}

TEST(ClipAndNoise, NoiseHasTheRequestedSpreadAndFollowsTheSeed) {
  const int width = 256, rows = 200;
  std::vector<float> a(static_cast<std::size_t>(width) * rows, 0.0f), b = a, c = a;
  Rng ra(42), rb(42), rc(43);
  clip_and_noise(a, width, 1.0, 0.5, ra);
  clip_and_noise(b, width, 1.0, 0.5, rb);
  clip_and_noise(c, width, 1.0, 0.5, rc);
  double sum = 0, sum2 = 0;
  for (float x : a) {
    sum += x;
    sum2 += static_cast<double>(x) * x;
  }
  const double n = static_cast<double>(a.size()), mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(sum2 / n - mean * mean), 0.5, 0.01);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}
