#pragma once
// Heterogeneous placement: mapping the k blocks of a partition onto swarm nodes of different
// speeds, memories and links, one block per node. The cost of block i on node j is eq. 10 with
// that node's rates: its access links carry the block's inputs and outputs, its device does the
// work, its memory decides the overflow. The pipeline's time per request is the largest placed
// block cost (eq. 11 with per-node costs).
//
//   place_greedy   seed 003 "Greedy Placement": blocks in decreasing work order each take the
//                  candidate node of highest α·memory + β·compute − γ·latency to placed neighbours
//   place_optimal  exact: the bottleneck assignment (minimize the largest cost) by binary search
//                  over the cost values with a bipartite matching test (Kuhn), O(k²m log km)
//   place_exhaustive  every injective assignment, for tests of place_optimal (k, m <= 9)
#include <string>
#include <vector>

#include "sim/partition/mtpp_cost.hpp"
#include "sim/partition/strategies.hpp"

namespace swarmsim::partition {

/// A node that can run one block.
struct PlacementNode {
  std::string name;
  DeviceRates rates;                   ///< its device (work(v) on it)
  double memory_bytes = 1e300;         ///< fast (device) memory M (bytes)
  double stream_Bps = 25e9;            ///< where overflowing bytes stream from, e.g. host RAM over PCIe (bytes/s)
  double uplink_Bps = 1e9;             ///< sends block outputs at this rate (bytes/s)
  double downlink_Bps = 1e9;           ///< receives block inputs at this rate (bytes/s)
  double x = 0, y = 0;                 ///< position for the greedy's latency term (any planar unit)
  double latency_s_per_unit = 0;       ///< one-way latency per unit of distance (s)
};

/// cost[i][j] = f(P_i) on node j (seconds).
using PlacementCosts = std::vector<std::vector<double>>;

/// The cost matrix of a partition's blocks on the nodes.
PlacementCosts placement_costs(const ModelGraph& g, const Partition& part, const std::vector<PlacementNode>& nodes);

struct Placement {
  std::vector<int> node_of_block;  ///< block -> index into nodes
  double bottleneck_s = 0;         ///< max_i cost[i][node_of_block[i]]
};

/// Weights of seed 003's greedy score.
struct GreedyWeights {
  double alpha = 1.0;  ///< available memory (normalized by the largest)
  double beta = 1.0;   ///< compute capacity (normalized by the largest)
  double gamma = 1.0;  ///< latency to the nodes of already-placed neighbouring blocks (normalized)
};

/// Seed 003 greedy placement. Needs nodes.size() >= blocks; throws std::invalid_argument otherwise.
Placement place_greedy(const ModelGraph& g, const Partition& part, const std::vector<PlacementNode>& nodes,
                       const GreedyWeights& w = {});
/// The assignment minimizing the bottleneck (exact, polynomial). Ties: the lexicographically first matching found.
Placement place_optimal(const PlacementCosts& cost);
/// Brute force over all injective assignments; for tests (blocks, nodes <= 9).
Placement place_exhaustive(const PlacementCosts& cost);

}  // namespace swarmsim::partition
