#include "sim/partition/placement.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace swarmsim::partition {

namespace {
void check_sizes(std::size_t blocks, std::size_t nodes) {
  if (nodes < blocks)
    throw std::invalid_argument("placement: " + std::to_string(blocks) + " blocks need at least as many nodes, got " +
                                std::to_string(nodes));
}

double evaluate(const PlacementCosts& cost, const std::vector<int>& node_of_block) {
  double worst = 0;
  for (std::size_t i = 0; i < node_of_block.size(); ++i) worst = std::max(worst, cost[i][node_of_block[i]]);
  return worst;
}

/// Kuhn's augmenting paths: can every block get a distinct node with cost <= limit?
bool perfect_matching(const PlacementCosts& cost, double limit, std::vector<int>& node_of_block) {
  const std::size_t k = cost.size(), m = cost.empty() ? 0 : cost[0].size();
  std::vector<int> block_on(m, -1);
  std::vector<char> visited;
  std::function<bool(int)> augment = [&](int i) {
    for (std::size_t j = 0; j < m; ++j) {
      if (cost[i][j] > limit || visited[j]) continue;
      visited[j] = 1;
      if (block_on[j] < 0 || augment(block_on[j])) {
        block_on[j] = i;
        return true;
      }
    }
    return false;
  };
  for (std::size_t i = 0; i < k; ++i) {
    visited.assign(m, 0);
    if (!augment(static_cast<int>(i))) return false;
  }
  node_of_block.assign(k, -1);
  for (std::size_t j = 0; j < m; ++j)
    if (block_on[j] >= 0) node_of_block[block_on[j]] = static_cast<int>(j);
  return true;
}
}  // namespace

PlacementCosts placement_costs(const ModelGraph& g, const Partition& part, const std::vector<PlacementNode>& nodes) {
  PlacementCosts cost(static_cast<std::size_t>(part.blocks), std::vector<double>(nodes.size()));
  for (std::size_t j = 0; j < nodes.size(); ++j) {
    const PlacementNode& n = nodes[j];
    MtppParams p;
    p.device = n.rates;
    p.link_Bps = 1.0;  // io terms are priced below with the node's own links
    p.fast_memory_bytes = n.memory_bytes;
    p.stream_Bps = n.stream_Bps;
    const auto blocks = block_costs(g, part.block_of, part.blocks, p);
    for (int i = 0; i < part.blocks; ++i) {
      const BlockCost& b = blocks[i];
      // seed 002, eq. 10 on node j: io in over its downlink, io out over its uplink
      cost[i][j] = b.in_bytes / n.downlink_Bps + b.work_s + b.overflow_s + b.out_bytes / n.uplink_Bps;
    }
  }
  return cost;
}

Placement place_greedy(const ModelGraph& g, const Partition& part, const std::vector<PlacementNode>& nodes,
                       const GreedyWeights& w) {
  check_sizes(static_cast<std::size_t>(part.blocks), nodes.size());
  MtppParams unit;
  const auto blocks = block_costs(g, part.block_of, part.blocks, unit);
  // Neighbouring blocks: the quotient graph's arcs, both directions.
  std::vector<std::vector<int>> neighbours(static_cast<std::size_t>(part.blocks));
  for (int v = 0; v < g.size(); ++v)
    for (int u : g.succs(v)) {
      const int a = part.block_of[v], b = part.block_of[u];
      if (a == b) continue;
      if (std::find(neighbours[a].begin(), neighbours[a].end(), b) == neighbours[a].end()) neighbours[a].push_back(b);
      if (std::find(neighbours[b].begin(), neighbours[b].end(), a) == neighbours[b].end()) neighbours[b].push_back(a);
    }
  std::vector<int> by_work(static_cast<std::size_t>(part.blocks));
  std::iota(by_work.begin(), by_work.end(), 0);
  std::stable_sort(by_work.begin(), by_work.end(), [&](int a, int b) { return blocks[a].work_s > blocks[b].work_s; });

  double max_mem = 0, max_flops = 0;
  for (const auto& n : nodes) {
    max_mem = std::max(max_mem, n.memory_bytes);
    max_flops = std::max(max_flops, n.rates.flops_per_s);
  }
  Placement pl;
  pl.node_of_block.assign(static_cast<std::size_t>(part.blocks), -1);
  std::vector<char> used(nodes.size(), 0);
  for (int i : by_work) {
    const double need = blocks[i].param_bytes + blocks[i].peak_bytes;
    // seed 003: candidates = workers with sufficient resources (any free node when none has)
    bool any_fits = false;
    for (std::size_t j = 0; j < nodes.size(); ++j) any_fits |= !used[j] && nodes[j].memory_bytes >= need;
    std::vector<double> latency(nodes.size(), 0.0);
    double max_latency = 0;
    for (std::size_t j = 0; j < nodes.size(); ++j) {
      for (int nb : neighbours[i]) {
        const int at = pl.node_of_block[nb];
        if (at < 0) continue;
        const double d = std::hypot(nodes[j].x - nodes[at].x, nodes[j].y - nodes[at].y);
        latency[j] += d * nodes[j].latency_s_per_unit;
      }
      max_latency = std::max(max_latency, latency[j]);
    }
    int best = -1;
    double best_score = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < nodes.size(); ++j) {
      if (used[j] || (any_fits && nodes[j].memory_bytes < need)) continue;
      // seed 003: score = α·available_memory + β·compute_capacity + γ·(−network_latency)
      const double score = w.alpha * nodes[j].memory_bytes / max_mem + w.beta * nodes[j].rates.flops_per_s / max_flops -
                           w.gamma * (max_latency > 0 ? latency[j] / max_latency : 0.0);
      if (score > best_score) {
        best_score = score;
        best = static_cast<int>(j);
      }
    }
    pl.node_of_block[i] = best;
    used[best] = 1;
  }
  pl.bottleneck_s = evaluate(placement_costs(g, part, nodes), pl.node_of_block);
  return pl;
}

Placement place_optimal(const PlacementCosts& cost) {
  const std::size_t k = cost.size();
  if (k == 0) return {};
  check_sizes(k, cost[0].size());
  std::vector<double> values;
  for (const auto& row : cost) values.insert(values.end(), row.begin(), row.end());
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  // The optimum is one of the cost values: the smallest limit with a perfect matching.
  std::size_t lo = 0, hi = values.size() - 1;
  std::vector<int> assign;
  while (lo < hi) {
    const std::size_t mid = (lo + hi) / 2;
    if (perfect_matching(cost, values[mid], assign)) hi = mid;
    else lo = mid + 1;
  }
  Placement pl;
  perfect_matching(cost, values[lo], pl.node_of_block);
  pl.bottleneck_s = evaluate(cost, pl.node_of_block);
  return pl;
}

Placement place_exhaustive(const PlacementCosts& cost) {
  const std::size_t k = cost.size();
  if (k == 0) return {};
  const std::size_t m = cost[0].size();
  check_sizes(k, m);
  if (m > 9) throw std::invalid_argument("place_exhaustive: at most 9 nodes");
  std::vector<int> nodes(m);
  std::iota(nodes.begin(), nodes.end(), 0);
  Placement best;
  best.bottleneck_s = std::numeric_limits<double>::infinity();
  do {  // every permutation's first k entries: every injective assignment (repeated (m-k)! times)
    std::vector<int> a(nodes.begin(), nodes.begin() + static_cast<long>(k));
    const double b = evaluate(cost, a);
    if (b < best.bottleneck_s) best = {a, b};
  } while (std::next_permutation(nodes.begin(), nodes.end()));
  return best;
}

}  // namespace swarmsim::partition
