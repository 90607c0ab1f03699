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
// The first term is the geometric mean of the throughput ratios over scenarios and seeds (a
// 2x gain on one scenario and a 2x loss on another cancel); the starting tuple scores exactly
// 1 − λ × (its mean fraction of failed sessions), and 1.05 means 5% more throughput (or 5% less
// of a latency) than the starting tuple at equal failures. A run whose process failed makes the score NaN, which the GA
// ranks last.
#include <vector>

namespace swarmsim::experiment {

/// What the score reads from one run.
struct ScoredRun {
  bool ok = false;            ///< false: the run's process failed
  double objective = 0;       ///< T: throughput.tokens_per_s, or the metric tune --objective names (NaN: none)
  double sessions_failed = 0; ///< sessions.failed
  double sessions_total = 0;  ///< sessions.total
};

/// Runs indexed [scenario][seed].
using ScoredRuns = std::vector<std::vector<ScoredRun>>;

/// score(θ) above from θ's runs and the starting tuple's (`baseline`, same shape); `failure_penalty`
/// is λ; `higher_is_better` says which way the objective improves. NaN when a run of either failed
/// or a baseline run has no objective value; throws std::invalid_argument when the shapes differ.
double tuning_score(const ScoredRuns& runs, const ScoredRuns& baseline, double failure_penalty = 1.0, bool higher_is_better = true);

}  // namespace swarmsim::experiment
