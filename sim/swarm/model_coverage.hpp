#pragma once
// How long a swarm could not serve the whole model: some block had no server up with its weights
// loaded. Fed in time order with when each server starts and stops serving its range: by the
// engines' signals during a run (a node_joined starts it; a failure, a rebalancing move or a ban
// ends it), and by the forecast from a scenario's events (sim/swarm/block_coverage.hpp). Plain
// data.
#include <vector>

#include "sim/swarm/block_range.hpp"

namespace swarmsim::sim {

/// Consecutive blocks that each had no serving server for the same time.
struct UnservedRange {
  BlockRange blocks;
  double unserved_s = 0.0;  ///< each block's time without a serving server (s)
};

/// The blocks of `per_block_unserved_s` (block k's seconds without a server at index k) that had
/// some, as maximal runs of equal time, in block order.
std::vector<UnservedRange> unserved_ranges(const std::vector<double>& per_block_unserved_s);
/// The range of `ranges` unserved the longest (the first of equal ones); nullptr when empty.
const UnservedRange* longest_unserved(const std::vector<UnservedRange>& ranges);

class ModelCoverage {
 public:
  /// The blocks `served` of a model (those the swarm serves: all but a split-learning client's)
  /// by `n_servers` servers; time is counted from `from_s` on.
  ModelCoverage(BlockRange served, int n_servers, double from_s);

  /// Server `server` serves `blocks` from `t` (it finished loading them).
  void serve(double t, int server, BlockRange blocks);
  /// Server `server` stops serving at `t` (down, moving or banned); nothing if it was not serving.
  void stop(double t, int server);
  /// Seconds in [from_s, until) during which some block had no serving server.
  double unserved_s(double until) const;
  /// Seconds in [from_s, until) during which block `block` had no serving server (0 for a block
  /// outside the served range).
  double block_unserved_s(int block, double until) const;
  /// unserved_ranges of every block's time without a server in [from_s, until).
  std::vector<UnservedRange> unserved_ranges(double until) const;

 private:
  void advance(double t);
  void add(BlockRange r, int delta);

  double from_s_;
  double t_;                        ///< time accounted up to
  double unserved_ = 0.0;           ///< seconds some block had none, up to t_
  BlockRange served_;               ///< the blocks counted
  std::vector<int> serving_;        ///< per block of served_: servers serving it
  std::vector<double> block_unserved_;  ///< per block of served_: seconds with none, up to t_
  int uncovered_ = 0;               ///< blocks with none
  std::vector<BlockRange> range_;   ///< per server: the range it serves (empty: none)
};

}  // namespace swarmsim::sim
