#pragma once
// Bounded Nelder-Mead minimization over the unit cube [0, 1]^d, with batch evaluation so that a
// caller whose objective is expensive (simulated runs) can evaluate several points at once.
#include <functional>
#include <vector>

namespace swarmsim::calibration {

/// A point in [0, 1]^d.
using UnitPoint = std::vector<double>;

/// Evaluates a batch of points and returns one value per point, in order (+inf for a failure).
using BatchObjective = std::function<std::vector<double>(const std::vector<UnitPoint>& points)>;

/// Settings of the search.
struct NelderMeadOptions {
  int max_evaluations = 150;    ///< points evaluated at most, over all batches
  double initial_step = 0.15;   ///< edge of the initial simplex, in unit-cube coordinates
  double x_tolerance = 1e-4;    ///< stop when every vertex is this close to the best one
  double f_tolerance = 1e-12;   ///< ... or when the values of the simplex differ by less than this
};

/// The best point found and how the search ended.
struct NelderMeadResult {
  UnitPoint best;
  double best_value = 0.0;
  int evaluations = 0;
  bool converged = false;       ///< a tolerance was met before the evaluation budget ran out
};

/// Minimizes `f` from `start` (clamped into the cube). Trial points outside the cube are clamped
/// onto its faces, so a minimum on a bound is found on that bound. Deterministic: the same inputs
/// give the same sequence of evaluations.
NelderMeadResult nelder_mead(const BatchObjective& f, UnitPoint start, const NelderMeadOptions& options = {});

/// Every point of a grid with `levels` values per coordinate (0, 1/(levels-1), ..., 1), in
/// lexicographic order; levels >= 2.
std::vector<UnitPoint> unit_grid(int dimensions, int levels);

}  // namespace swarmsim::calibration
