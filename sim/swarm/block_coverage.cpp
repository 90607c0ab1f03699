#include "sim/swarm/block_coverage.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "sim/swarm/model_coverage.hpp"

namespace swarmsim::sim {

std::vector<std::pair<double, double>> serving_intervals(const Scenario& sc, int node) {
  std::vector<std::pair<double, double>> out;
  const NodeSpec& n = sc.nodes[static_cast<std::size_t>(node)];
  if (!n.blocks) return out;
  const double load_s = n.blocks->size() * sc.model.block_weight_bytes() / n.weights_load_Bps;
  constexpr double kNever = std::numeric_limits<double>::infinity();
  bool up = true;
  double ready = n.join_at_s + load_s;  // when it serves next, if it stays up
  for (const ReplayEvent& e : sc.events) {
    if (e.node != n.name) continue;
    if (e.action == EventAction::NodeDown && up) {
      if (e.at_s > ready) out.emplace_back(ready, e.at_s);  // a failure while loading serves nothing
      up = false;
      ready = kNever;
    } else if (e.action == EventAction::NodeUp && !up) {
      up = true;
      ready = std::max(e.at_s, n.join_at_s) + load_s;  // it reloads its blocks (or loads them at its join)
    }
  }
  if (up) out.emplace_back(ready, kNever);
  return out;
}

std::optional<BlockCoverage> block_coverage(const Scenario& sc, double from_s, double until_s) {
  if (sc.graph || sc.tree || sc.coded || sc.nodes.empty()) return std::nullopt;
  for (const NodeSpec& n : sc.nodes)
    if (!n.blocks) return std::nullopt;
  BlockCoverage c;
  c.from_s = from_s;
  c.until_s = std::max(from_s, until_s);
  // Every server's serving starts and ends, played in time order into the meter a run uses; a
  // split-learning client runs [0, first_served_block) itself.
  struct Change {
    double t;
    int server;
    bool starts;
  };
  std::vector<Change> changes;
  for (int i = 0; i < static_cast<int>(sc.nodes.size()); ++i)
    for (const auto& [start, end] : serving_intervals(sc, i)) {
      changes.push_back({start, i, true});
      if (std::isfinite(end)) changes.push_back({end, i, false});
    }
  std::stable_sort(changes.begin(), changes.end(), [](const Change& x, const Change& y) { return x.t < y.t; });
  ModelCoverage meter(BlockRange{sc.first_served_block(), sc.model.n_layers}, static_cast<int>(sc.nodes.size()), c.from_s);
  for (const Change& ch : changes) {
    if (ch.t >= c.until_s) break;
    if (ch.starts) meter.serve(ch.t, ch.server, *sc.nodes[static_cast<std::size_t>(ch.server)].blocks);
    else meter.stop(ch.t, ch.server);
  }
  c.all_covered_s = (c.until_s - c.from_s) - meter.unserved_s(c.until_s);
  for (int k = 0; k < sc.model.n_layers; ++k) c.uncovered_s.push_back(meter.block_unserved_s(k, c.until_s));
  return c;
}

}  // namespace swarmsim::sim
