#pragma once
// Topology monitoring by persistent homology during a run (seed 002, sections 2.7 and 3.1),
// engine-free: every period the swarm is snapshot (servers up, latency and bandwidth now), its PH
// features classified into a topology state, and that state's precomputed scheme handed back as
// moves for the "auto" servers; the H0 stability of each node becomes its reliability multiplier
// in eq. 18. Regret: the best precomputed scheme's throughput on the snapshot minus the chosen one's.
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpu/shard_cost_model.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/swarm/swarm_state.hpp"
#include "sim/topology_schemes.hpp"
#include "topology/stability.hpp"

namespace swarmsim::sim {

class TopologyMonitor {
 public:
  /// Plans the topology states and their schemes for `scenario` (policy.topology; borrowed).
  TopologyMonitor(const Scenario& scenario, const gpu::ShardCostModel& cost);

  /// Bottleneck bandwidth between two hosts now (bytes/s).
  using Bandwidth = std::function<double(int from, int to)>;
  /// Takes the snapshot of time `now`. When the state changed and policy.topology.apply_schemes is
  /// on, returns the moves of the "auto" servers up, loaded and not moving to the new state's
  /// scheme (in server order; `before` and `after` are the schemes' throughputs on the snapshot).
  std::vector<BlockMove> observe(double now, const SwarmState& swarm, const LatencyTable& latencies, const Bandwidth& bandwidth);

  /// eq. 18's reliability multiplier per server (1 until stability_reliability sets them).
  const std::vector<double>& reliability() const { return reliability_; }
  /// The "topology" block of metrics.json.
  nlohmann::json metrics() const;

 private:
  const Scenario& sc_;
  const gpu::ShardCostModel& cost_;
  TopologyPlan plan_;
  topology::StabilityHistory history_;
  std::vector<double> reliability_;
  int state_ = -1, switches_ = 0, snapshots_ = 0;
  std::vector<int> state_count_;
  double regret_sum_ = 0, relative_regret_sum_ = 0;
};

}  // namespace swarmsim::sim
