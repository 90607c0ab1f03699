#pragma once
// SliceGraph onto heterogeneous nodes: seed 002's Algorithm 1 cuts a topological order into
// contiguous blocks priced on one reference device (homogeneous MTPP), and the blocks are placed
// afterwards. On a mixed swarm that wastes the fast nodes: the best cut depends on which node
// runs which block. slice_onto_nodes cuts the order and assigns each block a distinct node at
// once, minimizing the largest eq. 10 cost on its node (the node's device, memory and links):
//
//   best[j][U] = min over i < j and m ∈ U of max(best[i][U ∖ {m}], f_m(π[i..j)))
//
// over prefixes j of the order and sets U of nodes used, exact over every slicing of the order
// into at most max_blocks blocks and every injective assignment of nodes to them; O(n² 2^N N) time
// for n ops and N nodes, so it is meant for swarms of up to kMaxExactNodes nodes.
#include <span>
#include <vector>

#include "sim/partition/model_graph.hpp"
#include "sim/partition/placement.hpp"

namespace swarmsim::partition {

/// The largest node count slice_onto_nodes accepts (2^N sets of nodes).
inline constexpr int kMaxExactNodes = 12;

/// Blocks of an order and the node of each.
struct NodeSlicing {
  std::vector<int> block_of;       ///< op -> block index, blocks in pipeline order
  std::vector<int> node_of_block;  ///< block -> index into the nodes
  int blocks = 0;
  double bottleneck_s = 0;         ///< max over blocks of f on its node, client transfers included (seconds)
};

/// Per-op bytes exchanged with the client: a graph input arrives from it, a graph output returns
/// to it (both over the node's access links). Empty spans mean none.
struct ClientTraffic {
  std::span<const double> in_bytes;   ///< per op: bytes the client sends to the op's node
  std::span<const double> out_bytes;  ///< per op: bytes the op's node returns to the client
};

/// Cuts `order` (a topological order of g) into at most max_blocks contiguous blocks, each on a
/// distinct node, minimizing the bottleneck. Throws std::invalid_argument when the order is not
/// topological, when there are no nodes or more than kMaxExactNodes, or max_blocks < 1.
NodeSlicing slice_onto_nodes(const ModelGraph& g, std::span<const int> order, const std::vector<PlacementNode>& nodes,
                             int max_blocks, const ClientTraffic& client = {});

/// For every set U of nodes (a bit mask over `nodes`), the best slicing of `order` onto exactly the
/// nodes of U, one block each: best[n][U] of the recurrence above, which slice_onto_nodes minimizes
/// over U. Entry 0, sets of more than max_blocks nodes and sets that cannot hold the order (more
/// nodes than ops) have no blocks and an infinite bottleneck. What a planner weighing other
/// objectives than the bottleneck (energy, rent: pipeline_plan.hpp) chooses among. Same errors as
/// slice_onto_nodes.
std::vector<NodeSlicing> slice_onto_each_node_set(const ModelGraph& g, std::span<const int> order,
                                                  const std::vector<PlacementNode>& nodes, int max_blocks,
                                                  const ClientTraffic& client = {});

/// A topological order in which every block of an acyclic partition is contiguous, blocks in
/// quotient-topological order (block_of normalized), ops of a block in Kahn order: slicing it can
/// reproduce the partition, and any coarser or shifted cut of it.
std::vector<int> block_major_order(const ModelGraph& g, std::span<const int> block_of);

}  // namespace swarmsim::partition
