#pragma once
// What metrics.json reports of one server at the end of a swarm run: the state only the engine
// (its SwarmState) knows.
#include "sim/swarm/block_range.hpp"

namespace swarmsim::sim {

/// End-of-run state of one server.
struct NodeSummary {
  BlockRange blocks;          ///< range served at the end
  double weights_bytes = 0.0; ///< weights held at the end
  double kv_peak_bytes = 0.0; ///< most KV memory reserved at once
  double up_seconds = 0.0;    ///< time up and serving
  int failures = 0;           ///< times its host went down (listed or drawn node_down events)
};

}  // namespace swarmsim::sim
