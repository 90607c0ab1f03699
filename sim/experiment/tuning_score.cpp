#include "sim/experiment/tuning_score.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>


namespace swarmsim::experiment {

namespace {
/// Σ_l E_l of one run; throws std::invalid_argument when it lacks values for the limits.
double run_excess(const ScoredRun& r, const std::vector<RunLimit>& limits) {
  if (limits.empty()) return 0.0;
  if (r.limited.size() != limits.size()) throw std::invalid_argument("tuning_score: a run has no value for every limit");
  double e = 0.0;
  for (std::size_t l = 0; l < limits.size(); ++l) e += limit_excess(limits[l], r.limited[l]);
  return e;
}
}  // namespace

int runs_over_limits(const ScoredRuns& runs, const std::vector<RunLimit>& limits) {
  int over = 0;
  for (const auto& scenario : runs)
    for (const ScoredRun& r : scenario) over += r.ok && run_excess(r, limits) > 0;
  return over;
}

double tuning_score(const ScoredRuns& runs, const ScoredRuns& baseline, double failure_penalty, bool higher_is_better,
                    const std::vector<RunLimit>& limits, double limit_penalty) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  constexpr double kTiny = 1e-9;  // keeps a zero throughput (or latency) finite in the ratio
  if (runs.size() != baseline.size()) throw std::invalid_argument("tuning_score: runs and baseline cover different scenarios");
  double log_sum = 0, failed_sum = 0, excess_sum = 0;
  int n = 0;
  for (std::size_t s = 0; s < runs.size(); ++s) {
    if (runs[s].size() != baseline[s].size()) throw std::invalid_argument("tuning_score: runs and baseline have different seeds");
    for (std::size_t k = 0; k < runs[s].size(); ++k) {
      const ScoredRun& r = runs[s][k];
      const ScoredRun& b = baseline[s][k];
      if (!r.ok || !b.ok || !std::isfinite(b.objective)) return kNaN;
      const double t = std::max(r.objective, kTiny), t0 = std::max(b.objective, kTiny);
      const double ratio = std::isfinite(r.objective) ? std::clamp(higher_is_better ? t / t0 : t0 / t, 1e-3, 1e3) : 1e-3;
      log_sum += std::log(ratio);
      failed_sum += r.sessions_total > 0 ? r.sessions_failed / r.sessions_total : 0.0;
      excess_sum += run_excess(r, limits);
      ++n;
    }
  }
  if (n == 0) return kNaN;
  const double score = std::exp(log_sum / n) - failure_penalty * failed_sum / n;
  // Divided, not subtracted: the score keeps its sign, so the roulette of eq. 19 keeps telling the
  // tuples within the limits apart instead of flattening them beside one far over.
  // A negative score (many failures) is multiplied instead, so that breaking a limit never raises it.
  const double factor = 1.0 + limit_penalty * excess_sum / n;
  return limits.empty() ? score : score >= 0 ? score / factor : score * factor;
}

}  // namespace swarmsim::experiment
