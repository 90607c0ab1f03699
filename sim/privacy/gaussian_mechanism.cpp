#include "sim/privacy/gaussian_mechanism.hpp"

#include <cmath>
#include <stdexcept>
#include <vector>

namespace swarmsim::sim {

namespace {

/// Φ, the standard normal CDF, accurate in both tails.
double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

}  // namespace

double gaussian_mechanism_delta(double sigma, double epsilon, double sensitivity) {
  const double a = sensitivity / (2.0 * sigma), b = epsilon * sigma / sensitivity;
  // e^ε Φ(−a − b) as exp(ε + ln Φ) so that e^ε does not overflow before Φ makes it small.
  const double tail = normal_cdf(-a - b);
  const double second = tail > 0 ? std::exp(epsilon + std::log(tail)) : 0.0;
  return normal_cdf(a - b) - second;  // Balle & Wang 2018, Theorem 8
}

double gaussian_mechanism_sigma(double epsilon, double delta, double sensitivity) {
  if (!(epsilon > 0) || !(delta > 0 && delta < 1) || !(sensitivity > 0))
    throw std::invalid_argument("gaussian_mechanism_sigma: expected epsilon > 0, 0 < delta < 1, sensitivity > 0");
  // δ(σ) falls from 1 (σ → 0) to 0 (σ → ∞): bracket the root, then bisect on log σ.
  double lo = sensitivity * 1e-6, hi = sensitivity;
  while (gaussian_mechanism_delta(hi, epsilon, sensitivity) > delta) hi *= 2.0;
  while (gaussian_mechanism_delta(lo, epsilon, sensitivity) <= delta) lo /= 2.0;
  while (hi - lo > 1e-12 * hi) {
    const double mid = std::sqrt(lo * hi);
    (gaussian_mechanism_delta(mid, epsilon, sensitivity) > delta ? lo : hi) = mid;
  }
  return hi;  // the side that meets δ
}

double classic_gaussian_sigma(double epsilon, double delta, double sensitivity) {
  return sensitivity * std::sqrt(2.0 * std::log(1.25 / delta)) / epsilon;  // Dwork & Roth 2014, Theorem A.1
}

NoiseStats clip_and_noise(std::span<float> values, int width, double clip_norm, double sigma, Rng& rng) {
  NoiseStats stats;
  const std::size_t w = static_cast<std::size_t>(width);
  std::vector<double> noise(w);
  for (std::size_t r = 0; r + w <= values.size(); r += w) {
    double norm2 = 0.0;
    for (std::size_t i = 0; i < w; ++i) norm2 += static_cast<double>(values[r + i]) * values[r + i];
    const double norm = std::sqrt(norm2);
    const double scale = norm > clip_norm ? clip_norm / norm : 1.0;
    if (norm > clip_norm) ++stats.clipped;
    ++stats.vectors;
    stats.norm_sum += norm;
    fill_normals(rng, noise.data(), w);
    for (std::size_t i = 0; i < w; ++i) values[r + i] = static_cast<float>(values[r + i] * scale + sigma * noise[i]);
  }
  return stats;
}

}  // namespace swarmsim::sim
