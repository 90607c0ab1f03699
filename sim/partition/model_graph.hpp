#pragma once
// A neural network's computation graph G = (V, E) as the partitioner sees it (seed 002, section
// 2.5): each operation v has its work (FLOPs and bytes touched), its parameter memory sizeparam(v)
// and its output size sizeout(v); an edge (u, v) means v consumes u's output tensor.
// Stored on Boost.Graph; immutable once built, validated on construction (no cycles, no
// dangling or duplicate edges, no negative sizes).
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

namespace swarmsim::partition {

/// One operation of the graph. Sizes in bytes, work in FLOPs and bytes of memory traffic.
struct Op {
  std::string name;         ///< unique within the graph, e.g. "layer3.2.conv2"
  std::string kind;         ///< what it is, e.g. "conv", "matmul", "add"; also its pricing class (sim/pricing.hpp)
  double flops = 0.0;       ///< floating-point operations of one execution (FLOP)
  double mem_bytes = 0.0;   ///< bytes read and written by one execution (parameters + activations)
  double param_bytes = 0.0; ///< sizeparam(v): parameter memory (bytes)
  double out_bytes = 0.0;   ///< sizeout(v): size of the output tensor (bytes)
  /// Field-wise equality (exact), e.g. for round-trip tests.
  friend bool operator==(const Op&, const Op&) = default;
};

/// Speed of the device an op runs on: work(v) = max(FLOPs / peak, bytes / bandwidth) (roofline),
/// or each op's time as a cost model priced it on the device (sim/pricing.hpp).
struct DeviceRates {
  double flops_per_s = 1.0;   ///< achievable FLOP/s (with op_seconds set, only what ranks devices by speed)
  double mem_Bps = 0.0;       ///< achievable memory bandwidth (bytes/s); 0 = memory traffic is free
  /// When set: seconds of each op of the graph on this device, indexed by op id, used as work(v)
  /// instead of the roofline of the rates above (shared by the nodes of one device).
  std::shared_ptr<const std::vector<double>> op_seconds;
  /// work(v) in seconds for op v (`op` is the graph's op v).
  double work_s(int v, const Op& op) const {
    if (op_seconds) return (*op_seconds)[static_cast<std::size_t>(v)];
    const double compute = op.flops / flops_per_s;
    const double memory = mem_Bps > 0 ? op.mem_bytes / mem_Bps : 0.0;
    return compute > memory ? compute : memory;
  }
};

/// Thrown for a graph that is not a DAG of valid operations.
class GraphError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An immutable, validated computation graph. Op ids are 0..size()-1 in insertion order.
class ModelGraph {
 public:
  using Storage = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, Op>;

  ModelGraph() = default;
  /// Builds and validates: throws GraphError naming the offending op or edge (bad index,
  /// self-loop, duplicate edge, negative or non-finite size, duplicate name, a cycle).
  ModelGraph(std::string name, std::vector<Op> ops, const std::vector<std::pair<int, int>>& edges);

  const std::string& name() const { return name_; }
  int size() const { return static_cast<int>(ops_.size()); }
  int edge_count() const { return static_cast<int>(pred_idx_.size()); }
  const Op& op(int v) const { return ops_[static_cast<std::size_t>(v)]; }
  const std::vector<Op>& ops() const { return ops_; }
  /// N⁻(v): the ops whose outputs v consumes, ascending ids.
  std::span<const int> preds(int v) const { return {pred_idx_.data() + pred_off_[v], pred_idx_.data() + pred_off_[v + 1]}; }
  /// The ops that consume v's output, ascending ids.
  std::span<const int> succs(int v) const { return {succ_idx_.data() + succ_off_[v], succ_idx_.data() + succ_off_[v + 1]}; }
  /// The Boost.Graph view (vertex properties are the ops).
  const Storage& graph() const { return graph_; }

  /// A topological order by Kahn's algorithm, smallest id first among ready ops.
  std::vector<int> kahn_order() const;
  /// A topological order by Kahn's algorithm taking the ready op with the smallest key first
  /// (ties by id); keys.size() == size(). This is how BRKGA decodes a random-key vector.
  std::vector<int> kahn_order(std::span<const double> keys) const;
  /// Whether `order` is a permutation of the ops that respects every edge.
  bool is_topological(std::span<const int> order) const;

  double total_flops() const;
  double total_param_bytes() const;

 private:
  std::string name_;
  std::vector<Op> ops_;
  Storage graph_;
  std::vector<int> pred_off_, pred_idx_, succ_off_, succ_idx_;  // CSR copies for the hot loops
};

}  // namespace swarmsim::partition
