#pragma once
// Which blocks each server holds: memory sizing, per-server throughput, and the load-balancing
// rule for "auto" servers (pick the window of blocks with the least serving throughput, as Petals
// does). Pure functions, no SimGrid.
#include <cstdint>
#include <span>
#include <vector>

#include "gpu/shard_cost_model.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/block_range.hpp"

namespace swarmsim::sim {

/// Device memory left for block weights and KV caches once the runtime took its share (bytes).
double usable_memory_bytes(const gpu::DeviceSpec& device, const OverheadSpec& overheads);

/// Blocks of `model` an "auto" node can hold: floor(usable / (block weights + KV budget per block)),
/// capped by max_blocks and the model's depth. 0 means not even one block fits.
int blocks_that_fit(const NodeSpec& node, const gpu::TransformerSpec& model, const OverheadSpec& overheads);

/// Tokens per second one server pushes through one block: the smaller of its compute rate
/// (1 / decode time of one block at batch 1) and its network rate (min(up, down) / hidden-state bytes).
double server_throughput(const NodeSpec& node, const gpu::TransformerSpec& model, const gpu::ShardCostModel& cost);

/// A server's range and throughput, as seen by the assignment rule.
struct ServedRange {
  BlockRange range;
  double throughput = 0.0;  ///< tokens/s per block
};

/// Serving throughput of every block of a model, summed exactly: each server counts as an integer
/// number of micro-tokens/s, so a sum does not depend on the order servers were added or removed,
/// and removing a server leaves exactly the sum of the others. Updates cost O(range), so a swarm
/// of 10,000 servers can keep it current instead of summing everyone again at each join.
class BlockLoad {
 public:
  explicit BlockLoad(int n_blocks) : units_(static_cast<std::size_t>(n_blocks), 0) {}
  /// A server serving `r` at `tokens_per_s` (per block; clamped to [0, 1e9]) joins the sums.
  void add(BlockRange r, double tokens_per_s) { shift(r, units(tokens_per_s)); }
  /// A server added with the same range and throughput leaves the sums.
  void remove(BlockRange r, double tokens_per_s) { shift(r, -units(tokens_per_s)); }
  int blocks() const { return static_cast<int>(units_.size()); }
  /// Throughput serving each block (tokens/s, to 1e-6).
  std::vector<double> tokens_per_s() const;

 private:
  static std::int64_t units(double tokens_per_s);
  void shift(BlockRange r, std::int64_t by);
  std::vector<std::int64_t> units_;  ///< micro-tokens/s per block
};

/// The load of `scenario`'s blocks before any server joins: none, but for the blocks its clients
/// run themselves (policy.privacy.client_blocks), counted as served without limit so that no
/// server picks them and the weakest block is always one the swarm serves.
BlockLoad swarm_block_load(const Scenario& scenario);

/// Sum of the throughputs of the servers covering each block (a BlockLoad of `servers`).
std::vector<double> block_throughputs(int n_blocks, std::span<const ServedRange> servers);

/// Start of the `span`-block window whose sorted throughputs are lexicographically smallest
/// (ties: the lowest start). That window holds the least-served blocks.
int choose_least_served_start(const std::vector<double>& block_tp, int span);

/// The range a node takes when it joins: its fixed range, or for "auto" the least-served window
/// of blocks_that_fit blocks given the ranges the others serve (Petals' rule).
BlockRange join_range(const NodeSpec& node, const gpu::TransformerSpec& model, const OverheadSpec& overheads,
                      const BlockLoad& others);

/// Initial ranges of every node: nodes join in join_at order (ties: file order); a node with a
/// fixed range keeps it, an "auto" node takes the least-served window of blocks_that_fit blocks.
/// Returns one range per node (empty when the node holds nothing).
std::vector<BlockRange> plan_initial_blocks(const Scenario& scenario, const gpu::ShardCostModel& cost);

/// Blocks covered by no range, grouped into maximal runs.
std::vector<BlockRange> uncovered_blocks(int n_blocks, std::span<const BlockRange> ranges);

}  // namespace swarmsim::sim
