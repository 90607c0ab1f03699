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
// into at most max_blocks blocks and every injective assignment of nodes to them. Nodes that eq.
// 10 prices alike are interchangeable, so a set U is its count of nodes of each class of such
// nodes: a swarm of 100 servers of 4 kinds has at most 495 sets of up to 8 of them, where 2^100
// sets of distinct nodes are out of reach. O(n² S C) time for n ops, S sets (count vectors) and C
// classes; at most kMaxSlicingStates sets.
#include <cstddef>
#include <span>
#include <vector>

#include "sim/partition/model_graph.hpp"
#include "sim/partition/placement.hpp"

namespace swarmsim::partition {

/// The most sets of nodes (count vectors over the classes, the empty one included) the slicing
/// runs over: 2^12, every set of 12 distinct nodes.
inline constexpr std::size_t kMaxSlicingStates = 4096;

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

/// Classes of interchangeable nodes: nodes with the same device rates, fast memory, stream
/// bandwidth and access links (eq. 10 prices a block alike on each), and equal `extra` keys when
/// given (one per node: what else must match, e.g. power and prices), share a class. class_of[j]
/// for node j; classes numbered 0, 1, ... in order of their first node.
std::vector<int> interchangeable_classes(const std::vector<PlacementNode>& nodes, std::span<const int> extra = {});

/// The sets of nodes (count vectors over the classes, the empty one included) that slicing `nodes`
/// of classes `class_of` (empty: every node its own class) into at most max_blocks blocks runs
/// over, counted up to kMaxSlicingStates + 1.
std::size_t slicing_states(std::span<const int> class_of, int nodes, int max_blocks);

/// Cuts `order` (a topological order of g) into at most max_blocks contiguous blocks, each on a
/// distinct node, minimizing the bottleneck (ties: fewer blocks, then the first set in the order
/// of the count vectors, i.e. of the lowest nodes). `class_of` (empty: every node its own class)
/// groups interchangeable nodes (interchangeable_classes); a class's blocks take its nodes in index
/// order, the last block first. Throws std::invalid_argument when the order is not topological,
/// there are no nodes, max_blocks < 1, the classes are malformed or give more than
/// kMaxSlicingStates sets.
NodeSlicing slice_onto_nodes(const ModelGraph& g, std::span<const int> order, const std::vector<PlacementNode>& nodes,
                             int max_blocks, const ClientTraffic& client = {}, std::span<const int> class_of = {});

/// For every set of at most max_blocks nodes (count vectors over the classes, in the order
/// slicing_states counts them, the empty one left out), the best slicing of `order` onto exactly
/// those nodes, one block each: best[n][U] of the recurrence above, which slice_onto_nodes
/// minimizes over U. Sets that cannot hold the order (more nodes than ops) have no blocks and an
/// infinite bottleneck. What a planner weighing other objectives than the bottleneck (energy,
/// rent: pipeline_plan.hpp) chooses among. Same errors as slice_onto_nodes.
std::vector<NodeSlicing> slice_onto_each_node_set(const ModelGraph& g, std::span<const int> order,
                                                  const std::vector<PlacementNode>& nodes, int max_blocks,
                                                  const ClientTraffic& client = {}, std::span<const int> class_of = {});

/// For every set of nodes (as slice_onto_each_node_set lists them), the slicing of `order` onto
/// exactly those nodes that minimizes Σ over blocks of weight[node] x the block's compute on its
/// node (work + overflow, eq. 10 without its transfers), among the slicings whose every block's
/// eq. 10 cost is at most cap_s. With a node's busy minus idle draw as its weight (W), that is
/// the dynamic energy of one request (J) of the slicings that sustain 1 / cap_s requests a
/// second by eq. 11. Sets with no such slicing have no blocks; bottleneck_s is each slicing's
/// largest block cost. Weights must be equal within a class. Same errors as slice_onto_nodes,
/// and for a weight per node missing, negative or not finite.
std::vector<NodeSlicing> slice_onto_each_node_set_least_weighted_compute(const ModelGraph& g, std::span<const int> order,
                                                                          const std::vector<PlacementNode>& nodes, int max_blocks,
                                                                          std::span<const double> weight, double cap_s,
                                                                          const ClientTraffic& client = {},
                                                                          std::span<const int> class_of = {});

/// A topological order in which every block of an acyclic partition is contiguous, blocks in
/// quotient-topological order (block_of normalized), ops of a block in Kahn order: slicing it can
/// reproduce the partition, and any coarser or shifted cut of it.
std::vector<int> block_major_order(const ModelGraph& g, std::span<const int> block_of);

}  // namespace swarmsim::partition
