#pragma once
// A server's uptime as routers estimate it for eq. 18's reliability term R_A = 1 - uptime
// (seed 002, section 3: the reputation "incorporates factors such as historical uptime, failure
// rates"), from the uptime it declared and the time it was seen up since it joined.
#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// Uptime in [0, 1] from the `declared` uptime and `up_s` seconds up out of `watched_s` seconds
/// since the server joined (both 0 before it joins):
/// - DeclaredTimesObserved: declared x up_s / watched_s (declared before any watching). Under
///   churn that matches the declaration this reads about declared², counting the failures twice.
/// - Posterior: (declared x prior_s + up_s) / (prior_s + watched_s), the mean share of time up when
///   the declaration weighs as prior_s seconds watched. It starts at the declaration and tends to
///   the observed share as the watching outgrows the prior; prior_s = 0 reads the observed share
///   alone (the declaration before any watching).
double estimated_uptime(const ReputationSpec& spec, double declared, double up_s, double watched_s);

}  // namespace swarmsim::sim
