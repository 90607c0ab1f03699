#include "sim/swarm/block_coverage.hpp"

#include <algorithm>
#include <limits>
#include <utility>

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
  const int blocks = sc.model.n_layers, first = sc.first_served_block();  // a split-learning client runs [0, first)
  c.uncovered_s.assign(static_cast<std::size_t>(blocks), 0.0);
  // Serving starts (+1) and ends (-1) of every server within the window, swept in time order.
  struct Change {
    double t;
    int delta;
    BlockRange range;
  };
  std::vector<Change> changes;
  std::vector<int> serving(static_cast<std::size_t>(blocks), 0);
  for (int k = 0; k < first; ++k) serving[static_cast<std::size_t>(k)] = 1;  // always served, by the client
  for (int i = 0; i < static_cast<int>(sc.nodes.size()); ++i) {
    const BlockRange r{std::max(0, sc.nodes[static_cast<std::size_t>(i)].blocks->start),
                       std::min(blocks, sc.nodes[static_cast<std::size_t>(i)].blocks->end)};
    for (const auto& [start, end] : serving_intervals(sc, i)) {
      const double a = std::max(start, c.from_s), b = std::min(end, c.until_s);
      if (a >= b) continue;
      if (a == c.from_s) {
        for (int k = r.start; k < r.end; ++k) ++serving[static_cast<std::size_t>(k)];
      } else {
        changes.push_back({a, +1, r});
      }
      if (b < c.until_s) changes.push_back({b, -1, r});
    }
  }
  std::stable_sort(changes.begin(), changes.end(), [](const Change& x, const Change& y) { return x.t < y.t; });
  int uncovered = static_cast<int>(std::count(serving.begin(), serving.end(), 0));
  double t = c.from_s;
  const auto advance = [&](double to) {
    const double dt = to - t;
    if (dt <= 0) return;
    if (uncovered == 0) c.all_covered_s += dt;
    else
      for (int k = 0; k < blocks; ++k)
        if (serving[static_cast<std::size_t>(k)] == 0) c.uncovered_s[static_cast<std::size_t>(k)] += dt;
    t = to;
  };
  for (const Change& ch : changes) {
    advance(ch.t);
    for (int k = ch.range.start; k < ch.range.end; ++k) {
      int& s = serving[static_cast<std::size_t>(k)];
      if (s == 0) --uncovered;
      s += ch.delta;
      if (s == 0) ++uncovered;
    }
  }
  advance(c.until_s);
  return c;
}

}  // namespace swarmsim::sim
