#pragma once
// SliceGraph (seed 002, section 2.6, Algorithm 1): given a topological order π of the graph,
// split π into at most k contiguous segments minimizing the largest block cost f(S) (eq. 10).
// Contiguous segments of a topological order always form an acyclic partition.
//
// Two exact solvers of the same problem:
//   slice_graph_dp    the O(n²k) dynamic program over a precomputed n×n table of segment costs
//                     (Algorithm 1 with heuristic_adjustment = identity); O(n²) memory.
//   slice_graph       the same optimum faster: since f(S) >= Σ work(S), a segment whose work alone
//                     exceeds a known feasible bottleneck U can never be in an optimal slicing, so
//                     the DP only visits windows of segments with work <= U, and U shrinks as the DP
//                     finds better slicings. Segment costs are computed incrementally, O(1)
//                     amortized per (segment, edge) visit; memory O(nk).
#include <span>
#include <vector>

#include "sim/partition/model_graph.hpp"
#include "sim/partition/mtpp_cost.hpp"

namespace swarmsim::partition {

/// A slicing of an order into contiguous blocks.
struct Slicing {
  std::vector<int> order;     ///< the topological order that was sliced
  std::vector<int> starts;    ///< position in `order` where each block starts (ascending, starts[0] == 0)
  std::vector<int> block_of;  ///< op -> block index (blocks in pipeline order)
  double bottleneck_s = 0.0;  ///< max_i f(P_i) (seconds)
  int blocks() const { return static_cast<int>(starts.size()); }
};

/// Costs f(π[i..j]) of contiguous segments of an order, computed incrementally as j grows.
class SegmentCostScanner {
 public:
  SegmentCostScanner(const ModelGraph& g, std::span<const int> order, const MtppParams& p);
  int size() const { return n_; }
  /// Starts a segment at position i; the next call to extend() returns f(π[i..i]).
  void begin(int i);
  /// Extends the segment by one op and returns its cost f(π[i..j]) (seconds). j < size().
  double extend();
  /// Position of the last op in the segment.
  int end() const { return j_; }
  /// Σ work of π[i..j] for any i <= j (seconds), O(1).
  double work(int i, int j) const { return work_prefix_[j + 1] - work_prefix_[i]; }

 private:
  const ModelGraph& g_;
  const MtppParams& p_;
  int n_;
  std::vector<int> order_, pos_, max_succ_pos_;
  std::vector<double> work_prefix_, param_prefix_, live_;
  std::vector<int> by_last_use_off_, by_last_use_;  // ops grouped by the position of their last consumer
  std::vector<unsigned> stamp_;
  unsigned scan_ = 0;
  int i_ = 0, j_ = -1;
  double in_ = 0, out_ = 0, peak_ = 0;
};

/// Reference: Algorithm 1 as a DP over an n×n segment-cost table, O(n²k) time, O(n²) memory.
Slicing slice_graph_dp(const ModelGraph& g, std::span<const int> order, int k, const MtppParams& p);
/// Same optimum as slice_graph_dp (exact), pruned by the work bound; the solver to use.
Slicing slice_graph(const ModelGraph& g, std::span<const int> order, int k, const MtppParams& p);

}  // namespace swarmsim::partition
