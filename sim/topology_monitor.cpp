#include "sim/topology_monitor.hpp"

#include <algorithm>

namespace swarmsim::sim {

TopologyMonitor::TopologyMonitor(const Scenario& sc, const gpu::ShardCostModel& cost)
    : sc_(sc),
      cost_(cost),
      plan_(plan_topology(sc, cost, sc.policy.topology.period_s, sc.policy.topology.states)),
      reliability_(sc.nodes.size(), 1.0),
      state_count_(plan_.schemes.size(), 0) {}

std::vector<BlockMove> TopologyMonitor::observe(double now, const SwarmState& swarm, const LatencyTable& latencies,
                                                const Bandwidth& bandwidth) {
  const TopologyMonitorSpec& spec = sc_.policy.topology;
  const int S = swarm.size();
  topology::SwarmSnapshot snap;
  snap.time_s = now;
  std::vector<char> up(static_cast<std::size_t>(S), 0);
  for (int i = 0; i < S; ++i) {
    const NodeSpec& node = sc_.nodes[static_cast<std::size_t>(i)];
    const ServerState& st = swarm[i];
    up[static_cast<std::size_t>(i)] = st.up && (st.loaded || st.moving) ? 1 : 0;
    snap.nodes.push_back({node.name, node.location.value_or(topology::GeoPoint{}), node.device->peak_flops, up[static_cast<std::size_t>(i)] != 0});
  }
  for (int i = 0; i < S; ++i)
    for (int j = i + 1; j < S; ++j)
      if (up[static_cast<std::size_t>(i)] && up[static_cast<std::size_t>(j)])
        snap.links.push_back({i, j, latencies.one_way(i, j), std::min(bandwidth(i, j), bandwidth(j, i))});
  const int state = plan_.states.classify(snapshot_features(plan_, snap));
  ++snapshots_;
  std::vector<BlockMove> moves;
  if (state != state_) {
    if (state_ >= 0) ++switches_;
    state_ = state;
    if (spec.apply_schemes) {
      const ShardingScheme& scheme = plan_.schemes[static_cast<std::size_t>(state)];
      std::vector<BlockRange> current;
      for (const ServerState& st : swarm.servers()) current.push_back(st.blocks);
      const double before = scheme_throughput(sc_, cost_, current, up);
      const double after = scheme_throughput(sc_, cost_, scheme.ranges, up);
      for (int i = 0; i < S; ++i) {
        const BlockRange want = scheme.ranges[static_cast<std::size_t>(i)];
        const ServerState& st = swarm[i];
        if (sc_.nodes[static_cast<std::size_t>(i)].blocks || want.empty() || !st.up || !st.loaded || st.moving) continue;
        if (want != st.blocks) moves.push_back(BlockMove{i, want, before, after});
      }
    }
  }
  ++state_count_[static_cast<std::size_t>(state)];
  double best = 0;
  for (const ShardingScheme& sch : plan_.schemes) best = std::max(best, scheme_throughput(sc_, cost_, sch.ranges, up));
  const double chosen = scheme_throughput(sc_, cost_, plan_.schemes[static_cast<std::size_t>(state)].ranges, up);
  regret_sum_ += best - chosen;
  if (best > 0) relative_regret_sum_ += (best - chosen) / best;
  history_.add(snap);
  if (spec.stability_reliability)
    for (int i = 0; i < S; ++i) reliability_[static_cast<std::size_t>(i)] = history_.multiplier(sc_.nodes[static_cast<std::size_t>(i)].name);
  return moves;
}

nlohmann::json TopologyMonitor::metrics() const {
  nlohmann::json mult = nlohmann::json::object();
  for (std::size_t i = 0; i < sc_.nodes.size(); ++i) mult[sc_.nodes[i].name] = reliability_[i];
  const double n = std::max(1, snapshots_);
  return {{"snapshots", snapshots_},
          {"states", plan_.schemes.size()},
          {"switches", switches_},
          {"snapshots_per_state", state_count_},
          {"mean_regret_tokens_per_s", regret_sum_ / n},
          {"mean_relative_regret", relative_regret_sum_ / n},
          {"reliability_multipliers", mult}};
}

}  // namespace swarmsim::sim
