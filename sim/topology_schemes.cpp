#include "sim/topology_schemes.hpp"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/latency_table.hpp"
#include "topology/persistence.hpp"

namespace swarmsim::sim {

topology::SwarmSnapshot scenario_snapshot(const Scenario& sc, double at_s) {
  LatencyTable latency(sc);
  std::unordered_map<std::string, int> host;
  for (std::size_t i = 0; i < sc.nodes.size(); ++i) host[sc.nodes[i].name] = static_cast<int>(i);
  for (std::size_t c = 0; c < sc.clients.size(); ++c) host[sc.clients[c].name] = static_cast<int>(sc.nodes.size() + c);
  const std::size_t n = sc.nodes.size();
  std::vector<double> up_Bps(n), down_Bps(n);
  std::vector<char> down(n, 0);
  for (std::size_t i = 0; i < n; ++i) up_Bps[i] = sc.nodes[i].uplink_Bps, down_Bps[i] = sc.nodes[i].downlink_Bps;
  for (const ReplayEvent& e : sc.events) {  // sorted by time
    if (e.at_s > at_s) break;
    const auto it = host.find(e.node);
    if (it == host.end()) continue;
    const int h = it->second;
    const bool server = h < static_cast<int>(n);
    switch (e.action) {
      case EventAction::NodeDown: if (server) down[static_cast<std::size_t>(h)] = 1; break;
      case EventAction::NodeUp: if (server) down[static_cast<std::size_t>(h)] = 0; break;
      case EventAction::SetBandwidth:
        if (server && e.direction != LinkDirection::Down) up_Bps[static_cast<std::size_t>(h)] = e.value;
        if (server && e.direction != LinkDirection::Up) down_Bps[static_cast<std::size_t>(h)] = e.value;
        break;
      case EventAction::SetLatency:
        if (e.peer.empty()) latency.set_access(h, e.value);
        else if (const auto p = host.find(e.peer); p != host.end()) latency.set_pair(h, p->second, e.value);
        break;
    }
  }
  topology::SwarmSnapshot s;
  s.time_s = at_s;
  for (std::size_t i = 0; i < n; ++i) {
    const NodeSpec& node = sc.nodes[i];
    s.nodes.push_back({node.name, node.location.value_or(topology::GeoPoint{}), node.device ? node.device->peak_flops : 0.0,
                       node.join_at_s <= at_s && !down[i]});
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = i + 1; j < n; ++j)
      if (s.nodes[i].up && s.nodes[j].up)
        s.links.push_back({static_cast<int>(i), static_cast<int>(j), latency.one_way(static_cast<int>(i), static_cast<int>(j)),
                           std::min({up_Bps[i], down_Bps[j], up_Bps[j], down_Bps[i]})});
  return s;
}

double scheme_throughput(const Scenario& sc, const gpu::ShardCostModel& cost, const std::vector<BlockRange>& ranges,
                         const std::vector<char>& up) {
  std::vector<ServedRange> served;
  for (std::size_t i = 0; i < sc.nodes.size(); ++i)
    if (up[i] && !ranges[i].empty()) served.push_back({ranges[i], server_throughput(sc.nodes[i], sc.model, cost)});
  const std::vector<double> tp = block_throughputs(sc.model.n_layers, served);
  const auto first = tp.begin() + std::min<std::ptrdiff_t>(sc.first_served_block(), static_cast<std::ptrdiff_t>(tp.size()));
  return first == tp.end() ? 0.0 : *std::min_element(first, tp.end());  // the clients run the blocks before first
}

std::vector<BlockRange> assign_for_up_servers(const Scenario& sc, const gpu::ShardCostModel& cost, const std::vector<char>& up) {
  const std::size_t n = sc.nodes.size();
  std::vector<BlockRange> ranges(n, BlockRange{0, 0});
  BlockLoad served = swarm_block_load(sc);
  for (std::size_t i = 0; i < n; ++i)  // fixed ranges first: they do not move
    if (up[i] && sc.nodes[i].blocks) {
      ranges[i] = *sc.nodes[i].blocks;
      served.add(ranges[i], server_throughput(sc.nodes[i], sc.model, cost));
    }
  for (std::size_t i = 0; i < n; ++i) {
    if (!up[i] || sc.nodes[i].blocks) continue;
    const int span = blocks_that_fit(sc.nodes[i], sc.model, sc.overheads);
    if (span <= 0) continue;
    const int start = choose_least_served_start(served.tokens_per_s(), span);
    ranges[i] = BlockRange{start, start + span};
    served.add(ranges[i], server_throughput(sc.nodes[i], sc.model, cost));
  }
  return ranges;
}

topology::FeatureVector snapshot_features(const TopologyPlan& plan, const topology::SwarmSnapshot& snapshot) {
  const topology::SwarmGraph g = topology::build_swarm_graph(snapshot, plan.graph);
  topology::FiltrationParams fp;
  fp.collapse_edges = boost::num_edges(g) > 5000;
  return topology::diagram_features(topology::compute_persistence(g, fp), plan.features);
}

TopologyPlan plan_topology(const Scenario& sc, const gpu::ShardCostModel& cost, double period_s, int k) {
  TopologyPlan plan;
  double last = 0;
  for (const ReplayEvent& e : sc.events) last = std::max(last, e.at_s);
  for (const NodeSpec& n : sc.nodes) last = std::max(last, n.join_at_s);
  const int count = std::max(8, static_cast<int>(last / period_s) + 2);
  std::vector<topology::SwarmSnapshot> snaps;
  std::vector<topology::PersistenceResult> ph;
  double top = 0;
  for (int i = 0; i < count; ++i) {
    const double t = i * period_s;
    plan.training_times.push_back(t);
    snaps.push_back(scenario_snapshot(sc, t));
    const topology::SwarmGraph g = topology::build_swarm_graph(snaps.back(), plan.graph);
    ph.push_back(topology::compute_persistence(g));
    for (const auto* d : {&ph.back().h0, &ph.back().h1})
      for (const auto& p : *d) top = std::max({top, p.birth, p.essential() ? 0.0 : p.death});
  }
  plan.features.scale_max_s = top > 0 ? 1.05 * top : 1.0;
  std::vector<topology::FeatureVector> features;
  for (const auto& r : ph) features.push_back(topology::diagram_features(r, plan.features));
  // At most as many states as distinct snapshots.
  std::vector<topology::FeatureVector> distinct;
  for (const auto& f : features)
    if (std::find(distinct.begin(), distinct.end(), f) == distinct.end()) distinct.push_back(f);
  const int states = std::max(1, std::min(k, static_cast<int>(distinct.size())));
  plan.states = topology::TopologyStates::fit(features, states, sc.seed);
  // Each state's scheme: the assignment for the servers up in its medoid snapshot.
  for (int s = 0; s < plan.states.states(); ++s) {
    const topology::FeatureVector c = plan.states.centroid(s);
    int medoid = -1;
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < features.size(); ++i) {
      if (plan.states.labels()[i] != s) continue;
      double d = 0;
      for (std::size_t j = 0; j < c.size(); ++j) d += (features[i][j] - c[j]) * (features[i][j] - c[j]);
      if (d < best) best = d, medoid = static_cast<int>(i);
    }
    if (medoid < 0) medoid = 0;
    std::vector<char> up;
    for (const auto& node : snaps[static_cast<std::size_t>(medoid)].nodes) up.push_back(node.up ? 1 : 0);
    plan.schemes.push_back({s, assign_for_up_servers(sc, cost, up)});
  }
  return plan;
}

}  // namespace swarmsim::sim
