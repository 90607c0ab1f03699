#pragma once
// The Max-Throughput Partitioning Problem's costs (seed 002, section 2.5, eq. 8-11): the I/O
// cost between blocks, the overflow cost of parameters beyond a node's fast memory, the cost
// f(S) of one block and the bottleneck max_i f(P_i) that a partition minimizes.
//
// A partition is a vector `block_of` mapping each op to a block index 0..k-1; a partition is
// valid when every op has a block, every block in 0..k-1 is non-empty, and the quotient graph is
// acyclic (is_acyclic_partition).
#include <span>
#include <vector>

#include "sim/partition/model_graph.hpp"

namespace swarmsim::partition {

/// What the costs are measured against: the node every block runs on (homogeneous MTPP).
struct MtppParams {
  DeviceRates device;                    ///< work(v) = device.work_s(op) (seconds)
  double link_Bps = 1.0;                 ///< B: bandwidth between nodes (bytes/s), eq. 8
  double fast_memory_bytes = 1e300;      ///< M: fast-memory capacity of a node (bytes), eq. 9
  double stream_Bps = 1.0;               ///< bandwidth of the slow memory that overflowing bytes stream from (bytes/s)
};

/// A block S given by membership: in_block[v] != 0 when op v is in S.
using BlockMask = std::vector<char>;

/// io(S, T) = (1/B) Σ_{v ∈ N⁻(T) ∩ S} sizeout(v): seconds to ship S's outputs that T consumes.
double io_cost(const ModelGraph& g, const BlockMask& S, const BlockMask& T, const MtppParams& p);
/// peak(S): bytes of activations a block needs at once: the largest working set of one of its ops,
/// max_{v ∈ S} (sizeout(v) + Σ_{u ∈ N⁻(v)} sizeout(u)).
double peak_bytes(const ModelGraph& g, const BlockMask& S);
/// sizeparam(S) = Σ_{v ∈ S} sizeparam(v) (bytes).
double param_bytes(const ModelGraph& g, const BlockMask& S);
/// overflow(S) in seconds; 0 when sizeparam(S) + peak(S) <= M.
inline double overflow_cost(double sizeparam, double peak, const MtppParams& p) {
  // seed 002, eq. 9: overflow(S) = (sizeparam(S) + peak(S) - M) + peak(S)/B.
  // As printed the first term is bytes and the second seconds, and the first goes negative for a
  // block that fits. Deviation (docs/algorithms.md): nothing overflows while sizeparam + peak <= M;
  // beyond, the excess bytes stream from slow memory and the activations spill once, both at the
  // slow memory's bandwidth: ((sizeparam + peak - M) + peak) / stream_Bps.
  const double excess = sizeparam + peak - p.fast_memory_bytes;
  if (excess <= 0) return 0.0;
  return (excess + peak) / p.stream_Bps;
}
/// f(S) = io(V∖S, S) + Σ work(v) + overflow(S) + io(S, V∖S), seconds.
double block_cost(const ModelGraph& g, const BlockMask& S, const MtppParams& p);

/// The terms of f(S) for one block, seconds unless stated.
struct BlockCost {
  double io_in_s = 0, work_s = 0, overflow_s = 0, io_out_s = 0;
  double param_bytes = 0, peak_bytes = 0, in_bytes = 0, out_bytes = 0;
  double total() const { return io_in_s + work_s + overflow_s + io_out_s; }
};

/// f(P_i) for every block of a partition, in one pass over the edges.
std::vector<BlockCost> block_costs(const ModelGraph& g, std::span<const int> block_of, int k, const MtppParams& p);
/// max_i f(P_i) (eq. 11's objective), seconds.
double bottleneck(const ModelGraph& g, std::span<const int> block_of, int k, const MtppParams& p);

/// Whether block_of assigns every op a block in [0, k), every block is used, and the quotient
/// graph (blocks, with an arc when an edge crosses from one to another) has no cycle.
bool is_acyclic_partition(const ModelGraph& g, std::span<const int> block_of, int k);
/// The blocks renumbered 0..k'-1 in a topological order of the quotient graph (which must be
/// acyclic), empty blocks dropped; returns k'.
int normalize_partition(const ModelGraph& g, std::vector<int>& block_of);

/// A lower bound on the optimal bottleneck with at most k blocks: the largest work + overflow of
/// a single op (its block holds at least its parameters and working set), and the share of the
/// total work plus the unavoidable overflow (Σ sizeparam − k·M streamed) per block.
double bottleneck_lower_bound(const ModelGraph& g, int k, const MtppParams& p);

}  // namespace swarmsim::partition
