#include "sim/swarm/block_assignment.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace swarmsim::sim {

double usable_memory_bytes(const gpu::DeviceSpec& device, const OverheadSpec& overheads) {
  return std::max(0.0, device.memory_bytes - overheads.runtime_memory_bytes);
}

int blocks_that_fit(const NodeSpec& node, const gpu::TransformerSpec& model, const OverheadSpec& overheads) {
  const double per_block = model.block_weight_bytes() + node.kv_cache_tokens * model.kv_bytes_per_token_per_block();
  int n = static_cast<int>(std::floor(usable_memory_bytes(*node.device, overheads) / per_block));
  n = std::min(n, model.n_layers);
  if (node.max_blocks > 0) n = std::min(n, node.max_blocks);
  return std::max(n, 0);
}

double server_throughput(const NodeSpec& node, const gpu::TransformerSpec& model, const gpu::ShardCostModel& cost) {
  const double compute = 1.0 / cost.blocks_seconds(*node.device, model, gpu::BlockWork{1, 1, 0}, 1);
  const double network = std::min(node.uplink_Bps, node.downlink_Bps) / model.hidden_state_bytes_per_token();
  return std::min(compute, network);
}

std::int64_t BlockLoad::units(double tokens_per_s) {
  // 1e9 tokens/s is 1e15 units: thousands of such servers still sum within int64.
  const double t = std::clamp(tokens_per_s, 0.0, 1e9);  // NaN: clamp returns it, handled below
  return t >= 0.0 ? std::llround(t * 1e6) : 0;
}

void BlockLoad::shift(BlockRange r, std::int64_t by) {
  for (int b = std::max(0, r.start); b < std::min(blocks(), r.end); ++b) units_[static_cast<std::size_t>(b)] += by;
}

std::vector<double> BlockLoad::tokens_per_s() const {
  std::vector<double> tp(units_.size());
  for (std::size_t b = 0; b < units_.size(); ++b) tp[b] = static_cast<double>(units_[b]) / 1e6;
  return tp;
}

std::vector<double> block_throughputs(int n_blocks, std::span<const ServedRange> servers) {
  BlockLoad load(n_blocks);
  for (const ServedRange& s : servers) load.add(s.range, s.throughput);
  return load.tokens_per_s();
}

int choose_least_served_start(const std::vector<double>& block_tp, int span) {
  const int n = static_cast<int>(block_tp.size());
  span = std::clamp(span, 1, n);
  int best = 0;
  std::vector<double> best_key, key;
  for (int i = 0; i + span <= n; ++i) {
    key.assign(block_tp.begin() + i, block_tp.begin() + i + span);
    std::sort(key.begin(), key.end());
    if (i == 0 || key < best_key) {
      best_key = key;
      best = i;
    }
  }
  return best;
}

BlockRange join_range(const NodeSpec& node, const gpu::TransformerSpec& model, const OverheadSpec& overheads,
                      const BlockLoad& others) {
  if (node.blocks) return *node.blocks;
  const int span = blocks_that_fit(node, model, overheads);
  const int start = choose_least_served_start(others.tokens_per_s(), span);
  return BlockRange{start, start + span};
}

BlockLoad swarm_block_load(const Scenario& sc) {
  BlockLoad load(sc.model.n_layers);
  if (sc.first_served_block() > 0) load.add(BlockRange{0, sc.first_served_block()}, 1e9);  // BlockLoad's ceiling
  return load;
}

std::vector<BlockRange> plan_initial_blocks(const Scenario& sc, const gpu::ShardCostModel& cost) {
  std::vector<std::size_t> order(sc.nodes.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sc.nodes[a].join_at_s < sc.nodes[b].join_at_s; });

  std::vector<BlockRange> ranges(sc.nodes.size());
  BlockLoad served = swarm_block_load(sc);
  for (std::size_t i : order) {
    const NodeSpec& node = sc.nodes[i];
    BlockRange r;
    if (node.blocks) {
      r = *node.blocks;
    } else {
      const int span = blocks_that_fit(node, sc.model, sc.overheads);
      if (span > 0) {
        const int start = choose_least_served_start(served.tokens_per_s(), span);
        r = BlockRange{start, start + span};
      }
    }
    ranges[i] = r;
    if (!r.empty()) served.add(r, server_throughput(node, sc.model, cost));
  }
  return ranges;
}

std::vector<BlockRange> uncovered_blocks(int n_blocks, std::span<const BlockRange> ranges) {
  std::vector<bool> covered(static_cast<std::size_t>(n_blocks), false);
  for (const BlockRange& r : ranges)
    for (int b = std::max(0, r.start); b < std::min(n_blocks, r.end); ++b) covered[static_cast<std::size_t>(b)] = true;
  std::vector<BlockRange> gaps;
  for (int b = 0; b < n_blocks; ++b) {
    if (covered[static_cast<std::size_t>(b)]) continue;
    if (!gaps.empty() && gaps.back().end == b)
      gaps.back().end = b + 1;
    else
      gaps.push_back({b, b + 1});
  }
  return gaps;
}

}  // namespace swarmsim::sim
