#pragma once
// Snapshots whose edge weights are exactly given distances, for known-answer tests of the
// topology code: every node computes at the reference speed and the reference message is empty,
// so w(u, v) = latency(u, v) (swarm_graph.hpp).
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "topology/swarm_graph.hpp"

namespace swarmsim::topology::testing {

/// Graph parameters under which w(u, v) is the measured latency.
inline SwarmGraphParams distance_weights() {
  SwarmGraphParams p;
  p.message_bytes = 0.0;
  p.compute_exponent = 0.0;
  return p;
}

/// n up nodes "v0".."v{n-1}" and no links.
inline SwarmSnapshot bare_snapshot(int n, double time_s = 0.0) {
  SwarmSnapshot s;
  s.time_s = time_s;
  for (int i = 0; i < n; ++i) s.nodes.push_back({"v" + std::to_string(i), {}, 1e14, true});
  return s;
}

/// Adds the link a-b with latency `d` (s) and infinite bandwidth.
inline void link(SwarmSnapshot& s, int a, int b, double d) {
  s.links.push_back({a, b, d, std::numeric_limits<double>::infinity()});
}

/// Every pair of 2-D points, weighted by Euclidean distance (s).
inline SwarmSnapshot point_snapshot(const std::vector<std::pair<double, double>>& pts, double time_s = 0.0) {
  SwarmSnapshot s = bare_snapshot(static_cast<int>(pts.size()), time_s);
  for (std::size_t i = 0; i < pts.size(); ++i)
    for (std::size_t j = i + 1; j < pts.size(); ++j)
      link(s, static_cast<int>(i), static_cast<int>(j), std::hypot(pts[i].first - pts[j].first, pts[i].second - pts[j].second));
  return s;
}

}  // namespace swarmsim::topology::testing
