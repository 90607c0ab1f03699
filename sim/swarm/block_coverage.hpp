#pragma once
// How long every block of the model had a server able to serve it, read from a scenario before
// it runs: each server serves its fixed range from its join_at plus its weights' load time,
// stops at each node_down and serves again a load time after the node_up (listed or drawn by
// churn). With churn, a user sees whether the swarm could even cover the model, and where it
// could not, before a single session runs. Pure: no SimGrid.
#include <optional>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// Coverage of the model's blocks over [from_s, until_s). Under split learning the blocks the
/// client runs itself (before Scenario::first_served_block) count as always served.
struct BlockCoverage {
  double from_s = 0.0, until_s = 0.0;
  double all_covered_s = 0.0;          ///< time every block had a serving server (s)
  std::vector<double> uncovered_s;     ///< per block: time it had none (s)
  /// Fraction of the window every block was served; 1 for an empty window.
  double all_covered_fraction() const { return until_s > from_s ? all_covered_s / (until_s - from_s) : 1.0; }
};

/// When server `node` of `sc` serves its fixed blocks: [start, end) intervals in time order, from
/// its join (loading its weights at its weights_load_bandwidth first, again after each restart)
/// and its node_down / node_up events in `sc.events` (sorted by time, as the loader leaves them).
/// Empty for a node without a fixed range.
std::vector<std::pair<double, double>> serving_intervals(const Scenario& sc, int node);

/// Coverage of the model's blocks by the servers of `sc` over [from_s, until_s); nullopt when a
/// server's range is "auto" (chosen at run time) or the scenario serves no chain of blocks.
/// Rebalancing and bans are not foreseen: the ranges stay as declared. Counted by the same
/// ModelCoverage a run's metrics use.
std::optional<BlockCoverage> block_coverage(const Scenario& sc, double from_s, double until_s);

}  // namespace swarmsim::sim
