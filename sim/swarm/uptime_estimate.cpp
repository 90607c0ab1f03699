#include "sim/swarm/uptime_estimate.hpp"

#include <algorithm>

namespace swarmsim::sim {

double estimated_uptime(const ReputationSpec& spec, double declared, double up_s, double watched_s) {
  declared = std::clamp(declared, 0.0, 1.0);
  if (!(watched_s > 0)) return declared;
  up_s = std::clamp(up_s, 0.0, watched_s);
  switch (spec.estimate) {
    case UptimeEstimate::DeclaredTimesObserved:
      return declared * (up_s / watched_s);
    case UptimeEstimate::Posterior: {
      const double prior = std::max(spec.prior_s, 0.0);
      return std::clamp((declared * prior + up_s) / (prior + watched_s), 0.0, 1.0);  // mean of the share up, the declaration as prior
    }
  }
  return declared;
}

}  // namespace swarmsim::sim
