#pragma once
// Node stability from PH0, folded into the reliability R_A of eq. 18 (seed 002, section 3.1:
// "nodes that are part of long-lived features are considered more stable and reliable").
//
// Per snapshot, over the H0 filtration (the threshold graphs G_t = edges with w <= t; their
// merges are exactly the deaths of PH0), an up node i scores
//
//   s_i = (1 / T) * integral_0^T |C_i(t)| / N dt                          in [0, 1]
//
//   C_i(t)  the connected component of i in G_t      N  the number of up nodes
//   T       the scale window (s): StabilityParams::scale_s, or, when that is 0, the snapshot's
//           largest merge scale (the weight at which the up swarm becomes one component)
//
// so a node scores high when it sits early and for long in large components (a stable,
// well-connected region), and low when it stays an isolated short-lived class until late
// scales. A down node scores 0. With T = 0 (no merge at all), s_i = |C_i(0)| / N.
//
// Across snapshots: stability S_i = the weighted mean of s_i over the snapshots that list node
// i (weights 2^(-age / half_life_s); equal with the default infinite half-life). The
// reliability multiplier is m_i = S_i / max_j S_j in [0, 1] (1 for the most stable node; 0 for
// all when no node ever scored). The engine folds it into eq. 18 as
// uptime_eff = uptime * m_i, i.e. R_A = 1 - uptime * m_A (docs/topology.md).
// Complexity per snapshot: O(E log E) (Kruskal with union-find) + O(N).
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "topology/swarm_graph.hpp"

namespace swarmsim::topology {

/// How stability is measured.
struct StabilityParams {
  double scale_s = 0.0;  ///< T (s); 0: each snapshot's largest merge scale
  double half_life_s = std::numeric_limits<double>::infinity();  ///< age at which a snapshot weighs half (s)
};

/// s_i of every node of the snapshot whose graph is `graph` (snapshot order; 0 for down nodes).
/// `snapshot_nodes` is the snapshot's node count (up and down).
std::vector<double> snapshot_stability(const SwarmGraph& graph, int snapshot_nodes, const StabilityParams& params = {});

/// Stability accumulated over the snapshots of a run, by node name.
class StabilityHistory {
 public:
  explicit StabilityHistory(StabilityParams params = {}, SwarmGraphParams graph_params = {})
      : params_(params), graph_params_(graph_params) {}

  /// Adds a snapshot (time_s must not decrease from one call to the next).
  void add(const SwarmSnapshot& snapshot);
  /// Adds a snapshot whose graph was already built with the same SwarmGraphParams.
  void add(const SwarmSnapshot& snapshot, const SwarmGraph& graph);

  /// S_i of a node (in [0, 1]); 0 for a node never seen.
  double stability(const std::string& node) const;
  /// m_i = S_i / max_j S_j in [0, 1]; 0 for a node never seen. O(nodes): use multipliers() for all.
  double multiplier(const std::string& node) const;
  /// m_i of every node seen, by name.
  std::map<std::string, double> multipliers() const;
  int snapshots() const { return snapshots_; }

 private:
  struct Sums {
    double weighted = 0.0;  // sum of weight * s
    double weight = 0.0;    // sum of weights
  };
  StabilityParams params_;
  SwarmGraphParams graph_params_;
  std::map<std::string, Sums> sums_;
  double last_time_s_ = 0.0;
  int snapshots_ = 0;
};

}  // namespace swarmsim::topology
