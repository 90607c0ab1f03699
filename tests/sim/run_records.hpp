#pragma once
// Comparison runs for the experiment tests: a completed run with chosen tokens/s and failures.
#include <string>

#include "sim/experiment/comparison.hpp"

namespace swarmsim::test {

/// A run of `scenario` under `policy` with tokens/s `tps` and `failed` failed sessions (other metrics 1).
inline experiment::RunRecord record(const std::string& scenario, const std::string& policy, double tps, double failed = 0) {
  experiment::RunRecord r;
  r.scenario = scenario;
  r.policy = policy;
  r.ok = true;
  r.values.assign(experiment::compared_metrics().size(), 1.0);
  r.values[experiment::metric_index("tokens_per_s")] = tps;
  r.values[experiment::metric_index("sessions_failed")] = failed;
  return r;
}

}  // namespace swarmsim::test
