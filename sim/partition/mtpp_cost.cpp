#include "sim/partition/mtpp_cost.hpp"

#include <algorithm>
#include <cstddef>
#include <queue>

namespace swarmsim::partition {

double io_cost(const ModelGraph& g, const BlockMask& S, const BlockMask& T, const MtppParams& p) {
  // seed 002, eq. 8: each producer in S counts once, however many ops of T consume it.
  double bytes = 0;
  for (int v = 0; v < g.size(); ++v) {
    if (!S[v]) continue;
    for (int w : g.succs(v))
      if (T[w]) {
        bytes += g.op(v).out_bytes;
        break;
      }
  }
  return bytes / p.link_Bps;
}

double peak_bytes(const ModelGraph& g, const BlockMask& S) {
  double peak = 0;
  for (int v = 0; v < g.size(); ++v) {
    if (!S[v]) continue;
    double live = g.op(v).out_bytes;
    for (int u : g.preds(v)) live += g.op(u).out_bytes;
    peak = std::max(peak, live);
  }
  return peak;
}

double param_bytes(const ModelGraph& g, const BlockMask& S) {
  double bytes = 0;
  for (int v = 0; v < g.size(); ++v)
    if (S[v]) bytes += g.op(v).param_bytes;
  return bytes;
}

double block_cost(const ModelGraph& g, const BlockMask& S, const MtppParams& p) {
  BlockMask rest(S.size());
  for (std::size_t i = 0; i < S.size(); ++i) rest[i] = !S[i];
  double work = 0;
  for (int v = 0; v < g.size(); ++v)
    if (S[v]) work += p.device.work_s(v, g.op(v));
  // seed 002, eq. 10
  return io_cost(g, rest, S, p) + work + overflow_cost(param_bytes(g, S), peak_bytes(g, S), p) + io_cost(g, S, rest, p);
}

std::vector<BlockCost> block_costs(const ModelGraph& g, std::span<const int> block_of, int k, const MtppParams& p) {
  std::vector<BlockCost> c(static_cast<std::size_t>(k));
  // For io(V∖S, S): a producer u counts once per *other* block that consumes it.
  std::vector<int> seen_block;  // blocks already charged for the current producer
  for (int v = 0; v < g.size(); ++v) {
    BlockCost& b = c[block_of[v]];
    const Op& op = g.op(v);
    b.work_s += p.device.work_s(v, op);
    b.param_bytes += op.param_bytes;
    double live = op.out_bytes;
    for (int u : g.preds(v)) live += g.op(u).out_bytes;
    b.peak_bytes = std::max(b.peak_bytes, live);
    seen_block.clear();
    bool leaves = false;
    for (int w : g.succs(v)) {
      const int bw = block_of[w];
      if (bw == block_of[v]) continue;
      leaves = true;
      if (std::find(seen_block.begin(), seen_block.end(), bw) == seen_block.end()) {
        seen_block.push_back(bw);
        c[bw].in_bytes += op.out_bytes;  // eq. 8 with T = that block, S = V∖T
      }
    }
    if (leaves) b.out_bytes += op.out_bytes;  // eq. 8 with S = this block, T = V∖S: counted once
  }
  for (auto& b : c) {
    b.io_in_s = b.in_bytes / p.link_Bps;
    b.io_out_s = b.out_bytes / p.link_Bps;
    b.overflow_s = overflow_cost(b.param_bytes, b.peak_bytes, p);
  }
  return c;
}

double bottleneck(const ModelGraph& g, std::span<const int> block_of, int k, const MtppParams& p) {
  double worst = 0;
  for (const auto& b : block_costs(g, block_of, k, p)) worst = std::max(worst, b.total());  // seed 002, eq. 11
  return worst;
}

namespace {
/// Kahn's algorithm on the quotient graph; returns the block order, shorter than k when cyclic.
std::vector<int> quotient_order(const ModelGraph& g, std::span<const int> block_of, int k) {
  std::vector<std::vector<int>> out(static_cast<std::size_t>(k));
  std::vector<int> indeg(static_cast<std::size_t>(k), 0);
  for (int v = 0; v < g.size(); ++v)
    for (int w : g.succs(v)) {
      const int a = block_of[v], b = block_of[w];
      if (a == b) continue;
      auto& o = out[a];
      if (std::find(o.begin(), o.end(), b) == o.end()) {
        o.push_back(b);
        ++indeg[b];
      }
    }
  std::priority_queue<int, std::vector<int>, std::greater<>> ready;
  for (int b = 0; b < k; ++b)
    if (indeg[b] == 0) ready.push(b);
  std::vector<int> order;
  while (!ready.empty()) {
    const int b = ready.top();
    ready.pop();
    order.push_back(b);
    for (int c : out[b])
      if (--indeg[c] == 0) ready.push(c);
  }
  return order;
}
}  // namespace

bool is_acyclic_partition(const ModelGraph& g, std::span<const int> block_of, int k) {
  if (k <= 0 || static_cast<int>(block_of.size()) != g.size()) return false;
  std::vector<char> used(static_cast<std::size_t>(k), 0);
  for (int b : block_of) {
    if (b < 0 || b >= k) return false;
    used[b] = 1;
  }
  if (std::find(used.begin(), used.end(), 0) != used.end()) return false;
  return static_cast<int>(quotient_order(g, block_of, k).size()) == k;
}

int normalize_partition(const ModelGraph& g, std::vector<int>& block_of) {
  int k = 0;
  for (int b : block_of) k = std::max(k, b + 1);
  std::vector<int> order = quotient_order(g, block_of, k);
  std::vector<int> count(static_cast<std::size_t>(k), 0);
  for (int b : block_of) ++count[b];
  std::vector<int> rename(static_cast<std::size_t>(k), -1);
  int next = 0;
  for (int b : order)
    if (count[b] > 0) rename[b] = next++;
  for (int& b : block_of) b = rename[b];
  return next;
}

double bottleneck_lower_bound(const ModelGraph& g, int k, const MtppParams& p) {
  double total = 0, params = 0, largest = 0;
  for (int v = 0; v < g.size(); ++v) {
    const Op& op = g.op(v);
    const double w = p.device.work_s(v, op);
    total += w;
    params += op.param_bytes;
    // Any block holding v has at least v's parameters and v's working set: f >= work + overflow.
    double live = op.out_bytes;
    for (int u : g.preds(v)) live += g.op(u).out_bytes;
    largest = std::max(largest, w + overflow_cost(op.param_bytes, live, p));
  }
  const int blocks = std::max(1, std::min(k, g.size()));
  // The blocks share the work, and at least Σ sizeparam - k·M bytes overflow among them.
  const double streamed = std::max(0.0, params - blocks * p.fast_memory_bytes) / p.stream_Bps;
  return std::max(largest, (total + streamed) / blocks);
}

}  // namespace swarmsim::partition
