#pragma once
// Topology states and their precomputed sharding schemes (seed 002, section 2.7): snapshots of
// the swarm, persistent-homology features, k-means states, and for each state the block
// assignment that suits the servers it has up; during a run a classifier picks the scheme for the
// current snapshot, and its regret is measured against the best precomputed scheme. Pure: no SimGrid.
#include <vector>

#include "gpu/shard_cost_model.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/block_range.hpp"
#include "topology/ph_features.hpp"
#include "topology/swarm_graph.hpp"
#include "topology/topology_states.hpp"

namespace swarmsim::sim {

/// The swarm as the scenario has it at `at_s`: servers (up unless a replayed event took them
/// down, or not joined yet), their locations and peak FLOP/s, and the latency and bottleneck
/// bandwidth of every pair of up servers after the replayed network changes.
topology::SwarmSnapshot scenario_snapshot(const Scenario& sc, double at_s);

/// A sharding scheme: the block range each server serves (an empty range: none).
struct ShardingScheme {
  int state = 0;
  std::vector<BlockRange> ranges;  ///< per server, scenario order
};

/// What the swarm can serve with a scheme while `up` servers are up: the weakest block's summed
/// throughput (tokens/s), 0 when a block is uncovered.
double scheme_throughput(const Scenario& sc, const gpu::ShardCostModel& cost, const std::vector<BlockRange>& ranges,
                         const std::vector<char>& up);

/// Petals' greedy assignment over the servers that are up: fixed ranges stay, "auto" servers take
/// the least-served window in scenario order. Down servers get an empty range.
std::vector<BlockRange> assign_for_up_servers(const Scenario& sc, const gpu::ShardCostModel& cost, const std::vector<char>& up);

/// The topology plan of a scenario: its replayed snapshots clustered into states, one scheme each.
struct TopologyPlan {
  topology::FeatureParams features;     ///< the same window for every snapshot
  topology::SwarmGraphParams graph;
  topology::TopologyStates states;
  std::vector<ShardingScheme> schemes;  ///< one per state
  std::vector<double> training_times;   ///< when the training snapshots were taken (s)
};

/// Snapshots every `period_s` from 0 to one period past the last replayed event (at least 8),
/// `k` states (at most the number of distinct snapshots), a scheme per state from its medoid.
TopologyPlan plan_topology(const Scenario& sc, const gpu::ShardCostModel& cost, double period_s, int k);

/// The PH feature vector of a snapshot under the plan's window.
topology::FeatureVector snapshot_features(const TopologyPlan& plan, const topology::SwarmSnapshot& snapshot);

}  // namespace swarmsim::sim
