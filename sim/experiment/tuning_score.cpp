#include "sim/experiment/tuning_score.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace swarmsim::experiment {

double tuning_score(const ScoredRuns& runs, const ScoredRuns& baseline, double failure_penalty, bool higher_is_better) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  constexpr double kTiny = 1e-9;  // keeps a zero throughput (or latency) finite in the ratio
  if (runs.size() != baseline.size()) throw std::invalid_argument("tuning_score: runs and baseline cover different scenarios");
  double log_sum = 0, failed_sum = 0;
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
      ++n;
    }
  }
  if (n == 0) return kNaN;
  return std::exp(log_sum / n) - failure_penalty * failed_sum / n;
}

}  // namespace swarmsim::experiment
