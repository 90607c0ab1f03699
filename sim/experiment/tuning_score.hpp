#pragma once
// The fitness `swarmsim tune` gives a tuple θ = (γ, β, α) of eq. 18 from simulated runs
// (seed 002 eq. 19 asks for a fitness "inversely related" to the routing cost; swarmsim scores
// what the routing is for: by default throughput, with failed sessions penalized). Higher is
// better:
//
//   score(θ) = exp( mean_{s,k} ln r(θ, s, k) )  −  λ · mean_{s,k} F(θ, s, k) / N(s)
//   r(θ, s, k) = T(θ, s, k) / T0(s, k), clamped to [1e-3, 1e3]   (an objective where higher is better)
//   r(θ, s, k) = T0(s, k) / T(θ, s, k), clamped the same          (lower is better: a latency)
//
//   T(θ, s, k)   the objective of scenario s run with seed k and θ: tokens/s by default
//                (throughput.tokens_per_s), or another compared metric (`tune --objective`); a
//                run with no value for it (a latency when every session failed) counts as the
//                worst ratio, 1e-3
//   T0(s, k)     the same with the starting tuple (1, −1, −1): the pair shares its arrivals, so
//                the ratio compares routing, not luck
//   F(θ, s, k)   sessions failed in that run; N(s) sessions of scenario s
//   λ            failure penalty (default 1: failing every session costs as much as the starting
//                tuple's whole throughput)
//
// With limits (`tune --limit METRIC=BOUND`), that score is divided by
//   1 + μ · mean_{s,k} Σ_l E_l(θ, s, k)
//   E_l = max(0, V / bound − 1)   for a metric where lower is better (V at most the bound)
//   E_l = max(0, bound / V − 1)   where higher is better (V at least the bound)
//   V            the limited metric of the run (E_l = 1 for a run without a value); μ the limit
//                penalty (default 10: one run in four 10% over its bound divides the score by 1.25)
// (a negative score, from failures, is multiplied by it instead, so that it still falls).
// Divided rather than subtracted, so that scores keep their sign and the roulette of eq. 19
// (weights proportional to the score less the generation's worst) still tells the tuples within
// the limits apart when one tuple is far over them.
//
// The first term is the geometric mean of the throughput ratios over scenarios and seeds (a
// 2x gain on one scenario and a 2x loss on another cancel); the starting tuple scores exactly
// 1 − λ × (its mean fraction of failed sessions), and 1.05 means 5% more throughput (or 5% less
// of a latency) than the starting tuple at equal failures. A run whose process failed makes the score NaN, which the GA
// ranks last.
#include <vector>

#include "sim/experiment/run_limit.hpp"

namespace swarmsim::experiment {

/// What the score reads from one run.
struct ScoredRun {
  bool ok = false;            ///< false: the run's process failed
  double objective = 0;       ///< T: throughput.tokens_per_s, or the metric tune --objective names (NaN: none)
  double sessions_failed = 0; ///< sessions.failed
  double sessions_total = 0;  ///< sessions.total
  std::vector<double> limited = {};  ///< the limited metrics' values, in the order of the limits (NaN: none)
};

/// Runs indexed [scenario][seed].
using ScoredRuns = std::vector<std::vector<ScoredRun>>;

/// score(θ) above from θ's runs and the starting tuple's (`baseline`, same shape); `failure_penalty`
/// is λ; `higher_is_better` says which way the objective improves. NaN when a run of either failed
/// or a baseline run has no objective value; throws std::invalid_argument when the shapes differ.
/// With `limits`, the score is divided by 1 + `limit_penalty` (μ) times the runs' mean sum of their
/// limit_excess values (read from ScoredRun::limited, which must hold one value per limit).
double tuning_score(const ScoredRuns& runs, const ScoredRuns& baseline, double failure_penalty = 1.0, bool higher_is_better = true,
                    const std::vector<RunLimit>& limits = {}, double limit_penalty = 10.0);
/// Runs of `runs` that break at least one of `limits`.
int runs_over_limits(const ScoredRuns& runs, const std::vector<RunLimit>& limits);

}  // namespace swarmsim::experiment
