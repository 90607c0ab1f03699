#pragma once
// Every way swarmsim can cut a model graph into k pipeline blocks, behind one call, and the
// partition-quality metrics they are compared by (seed 003, "Partitioning Strategies" and
// "Partition Quality Metrics"). Every method returns an acyclic partition that covers each op
// exactly once (blocks renumbered in pipeline order; possibly fewer than k blocks).
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/partition/brkga.hpp"
#include "sim/partition/mtpp_cost.hpp"

namespace swarmsim::partition {

enum class Method {
  SliceGraph,     ///< seed 002 Alg. 1 on Kahn's order (exact for that order, pruned DP)
  SliceGraphDp,   ///< the same on the O(n²k) reference DP (small graphs)
  Brkga,          ///< seed 002 §2.6.1: BRKGA over orders, each sliced by SliceGraph
  LayerWise,      ///< seed 003 §1: ceil(n/k) consecutive ops of Kahn's order per block
  LoadBalanced,   ///< seed 003 §2: LPT, kept acyclic by pipeline-stage constraints
  TopologyAware,  ///< seed 003 §3: METIS k-way min-cut, cyclic blocks merged
  Pipeline,       ///< seed 003 §4: cut Kahn's order when a stage reaches total work / k
};

/// Scenario/CLI names: "slicegraph", "slicegraph-dp", "brkga", "layer-wise", "load-balanced",
/// "topology-aware", "pipeline".
const char* to_string(Method m);
std::optional<Method> method_from_string(std::string_view name);
const std::vector<std::string>& method_names();

/// A partition of a graph's ops into blocks, in pipeline (quotient-topological) order.
struct Partition {
  Method method = Method::SliceGraph;
  std::vector<int> block_of;  ///< op -> block index in [0, blocks)
  int blocks = 0;
  std::vector<BrkgaGeneration> convergence;  ///< BRKGA only
};

/// Cuts `g` into at most k blocks with `method`. Throws std::invalid_argument for k < 1.
/// `on_generation` follows BRKGA's generations (progress lines); other methods never call it.
Partition partition_graph(const ModelGraph& g, int k, Method method, const MtppParams& p,
                          const BrkgaParams& brkga = {},
                          const std::function<void(const BrkgaGeneration&)>& on_generation = {});

/// Seed 003's partition-quality metrics, plus the MTPP bottleneck.
struct PartitionQuality {
  int blocks = 0;
  double bottleneck_s = 0;        ///< max_i f(P_i): the pipeline's time per request (seconds)
  double load_stddev_s = 0;       ///< standard deviation of the blocks' f(P_i) (seconds)
  double communication_bytes = 0; ///< bytes crossing between blocks per request (each tensor once per consuming block)
  int critical_path_blocks = 0;   ///< blocks on the longest path of the quotient DAG
  double critical_path_s = 0;     ///< Σ f(P_i) along the costliest quotient path: one request's latency (seconds)
  double peak_memory_bytes = 0;   ///< max_i sizeparam(P_i) + peak(P_i)
  std::vector<BlockCost> block;   ///< each block's cost terms
};

PartitionQuality partition_quality(const ModelGraph& g, const Partition& part, const MtppParams& p);

}  // namespace swarmsim::partition
