#pragma once
// Differential privacy of what a split-learning client releases (seed 002, section 6.3.1, eq. 25):
// each hidden-state vector Z is clipped to an L2 norm C and gets Gaussian noise whose σ is
// calibrated by the analytic Gaussian mechanism (Balle & Wang, ICML 2018), so that one released
// vector is (ε, δ)-differentially private. Pure functions, no SimGrid.
#include <span>

#include "sim/rng.hpp"

namespace swarmsim::sim {

/// δ(σ), the smallest δ for which adding N(0, σ² I) to a value of L2 sensitivity Δ is (ε, δ)-DP
/// (Balle & Wang 2018, Theorem 8): Φ(Δ/2σ − εσ/Δ) − e^ε Φ(−Δ/2σ − εσ/Δ). Decreasing in σ.
double gaussian_mechanism_delta(double sigma, double epsilon, double sensitivity);

/// The smallest σ whose mechanism is (ε, δ)-DP at sensitivity Δ: δ(σ) = δ solved by bisection to a
/// relative 1e-12. Valid for every ε > 0, unlike the classic calibration.
double gaussian_mechanism_sigma(double epsilon, double delta, double sensitivity);

/// The classic calibration Δ √(2 ln(1.25/δ)) / ε (Dwork & Roth 2014, Theorem A.1), proven only for
/// ε < 1; kept to compare against.
double classic_gaussian_sigma(double epsilon, double delta, double sensitivity);

/// L2 sensitivity of one released vector clipped to norm `clip_norm`: two inputs may give any two
/// vectors in the ball, at most 2C apart (replace-one neighbouring inputs).
inline double clipped_sensitivity(double clip_norm) { return 2.0 * clip_norm; }

/// What clip_and_noise did.
struct NoiseStats {
  long vectors = 0;  ///< rows released
  long clipped = 0;  ///< rows whose norm exceeded C and were scaled down to it
  double norm_sum = 0.0;  ///< sum of the rows' L2 norms before clipping
};

/// Clips each row of `values` (rows of `width` floats, row-major) to L2 norm `clip_norm`, then
/// adds N(0, σ²) drawn from `rng` to every element.
NoiseStats clip_and_noise(std::span<float> values, int width, double clip_norm, double sigma, Rng& rng);

}  // namespace swarmsim::sim
