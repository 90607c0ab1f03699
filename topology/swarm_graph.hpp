#pragma once
// The swarm as a weighted graph: what persistent homology is computed on (seed 002, section 2.7).
//
// A SwarmSnapshot is what the engine measures at one instant: the nodes (where they are, how
// fast they compute, whether they are up) and the links measured between up nodes (one-way
// latency, bandwidth). build_swarm_graph turns it into a Boost.Graph whose edge weight is the
// time to hand one reference hidden-state message from one node to the other, stretched for
// slow endpoints:
//
//   w(u, v) = (L_uv + D / B_uv) * (F_ref / sqrt(F_u * F_v))^eta          [seconds]
//
//   L_uv   one-way latency between u and v (s)
//   B_uv   bandwidth of the pair (bytes/s)
//   D      reference message size (bytes): one token's hidden state, e.g. 4096 x FP16 = 8 KiB
//   F_u    peak compute of u (FLOP/s); F_ref a reference device (FLOP/s)
//   eta    compute exponent (>= 0): 0 ignores compute; 0.5 (default) makes a node 4x slower than
//          the reference stretch its edges by 2x (1.41x per endpoint)
//
// Units: seconds. With F_u = F_v = F_ref (or eta = 0) the weight is exactly the transfer time
// of the reference message, so small weights are "close" nodes that can hand work over fast.
// Complexity: O(V + E) plus, with nearest_neighbours > 0, O(E log E) to select neighbours.
#include <boost/graph/adjacency_list.hpp>
#include <cstddef>
#include <string>
#include <vector>

#include "topology/geo.hpp"

namespace swarmsim::topology {

/// One node as observed in a snapshot.
struct SnapshotNode {
  std::string name;
  GeoPoint location;
  double flops = 0.0;  ///< peak compute (FLOP/s)
  bool up = true;      ///< false: down at snapshot time (not a vertex of the graph)
};

/// One measured pair of nodes. Both ends must be up; a pair never measured has no edge.
struct LinkMeasurement {
  int a = 0;                   ///< index into SwarmSnapshot::nodes
  int b = 0;                   ///< index into SwarmSnapshot::nodes (a != b)
  double latency_s = 0.0;      ///< one-way latency (s)
  double bandwidth_Bps = 0.0;  ///< bandwidth of the pair (bytes/s), e.g. min(uplink, downlink)
};

/// The swarm at one instant, filled periodically by the engine. Plain data.
struct SwarmSnapshot {
  double time_s = 0.0;                ///< simulated time of the measurement (s)
  std::vector<SnapshotNode> nodes;    ///< every node known, up or down (stable order over a run)
  std::vector<LinkMeasurement> links; ///< measured pairs between up nodes (unordered, each once)
};

/// Parameters of the edge weight w(u, v) (see the file comment) and of sparsification.
struct SwarmGraphParams {
  double message_bytes = 8192.0;   ///< D: reference hidden-state message (bytes)
  double reference_flops = 1e14;   ///< F_ref: reference device (FLOP/s)
  double compute_exponent = 0.5;   ///< eta (dimensionless, >= 0)
  /// When > 0, keep only each vertex's k lightest edges (the union over both ends): a sparse
  /// k-nearest-neighbour graph, which keeps large swarms tractable (docs/topology.md).
  int nearest_neighbours = 0;
};

/// Vertex of a SwarmGraph: an up node of the snapshot.
struct SwarmVertex {
  std::string name;
  GeoPoint location;
  double flops = 0.0;    ///< FLOP/s
  int snapshot_index = 0;  ///< index into SwarmSnapshot::nodes
};

/// Edge of a SwarmGraph.
struct SwarmEdge {
  double weight_s = 0.0;       ///< w(u, v) (s)
  double latency_s = 0.0;      ///< measured one-way latency (s)
  double bandwidth_Bps = 0.0;  ///< measured bandwidth (bytes/s)
};

/// The weighted swarm graph: vertices are the up nodes, in snapshot order.
using SwarmGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, SwarmVertex, SwarmEdge>;

/// w(u, v) of the file comment (s); +inf when bandwidth <= 0 or a compute power <= 0.
double edge_weight_s(double latency_s, double bandwidth_Bps, double flops_u, double flops_v,
                     const SwarmGraphParams& params);

/// The weighted graph of a snapshot. Links touching a down node, with non-finite weight, or out
/// of range are skipped; a pair measured twice keeps its lighter weight. Throws
/// std::invalid_argument when a link joins a node to itself.
SwarmGraph build_swarm_graph(const SwarmSnapshot& snapshot, const SwarmGraphParams& params = {});

/// A weighted edge of a SwarmGraph as plain data (vertex indices of the graph, weight in s).
struct WeightedEdge {
  int u = 0;
  int v = 0;
  double weight_s = 0.0;
};

/// The graph's edges as a list, sorted by (weight, u, v) (deterministic).
std::vector<WeightedEdge> sorted_edges(const SwarmGraph& graph);

/// The q-quantile (q in [0, 1]) of the graph's edge weights (s); +inf when it has no edge.
double edge_weight_quantile(const SwarmGraph& graph, double q);

}  // namespace swarmsim::topology
