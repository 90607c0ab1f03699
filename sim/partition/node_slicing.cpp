#include "sim/partition/node_slicing.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace swarmsim::partition {
namespace {

/// The terms of f(S) for every segment [i, j) of the order that do not depend on the node: bytes in
/// and out (eq. 8 with the rest of the graph as one block, plus the client's), parameter bytes and
/// peak working set.
struct SegmentTerms {
  int n = 0;
  std::vector<double> in_bytes, out_bytes, params, peak;  // index i * (n + 1) + j
  std::size_t at(int i, int j) const { return static_cast<std::size_t>(i) * static_cast<std::size_t>(n + 1) + static_cast<std::size_t>(j); }
};

SegmentTerms segment_terms(const ModelGraph& g, std::span<const int> order, const ClientTraffic& client) {
  const int n = g.size();
  SegmentTerms t;
  t.n = n;
  const std::size_t cells = static_cast<std::size_t>(n + 1) * static_cast<std::size_t>(n + 1);
  for (auto* v : {&t.in_bytes, &t.out_bytes, &t.params, &t.peak}) v->assign(cells, 0.0);
  std::vector<int> pos(static_cast<std::size_t>(n));
  for (int p = 0; p < n; ++p) pos[static_cast<std::size_t>(order[p])] = p;
  // Per op: its working set (peak term) and the last position of a consumer (-1: none).
  std::vector<double> working(static_cast<std::size_t>(n));
  std::vector<int> last_consumer(static_cast<std::size_t>(n), -1);
  for (int v = 0; v < n; ++v) {
    double w = g.op(v).out_bytes;
    for (int u : g.preds(v)) w += g.op(u).out_bytes;
    working[static_cast<std::size_t>(v)] = w;
    for (int s : g.succs(v)) last_consumer[static_cast<std::size_t>(v)] = std::max(last_consumer[static_cast<std::size_t>(v)], pos[static_cast<std::size_t>(s)]);
  }
  const auto client_in = [&](int v) { return client.in_bytes.empty() ? 0.0 : client.in_bytes[static_cast<std::size_t>(v)]; };
  const auto client_out = [&](int v) { return client.out_bytes.empty() ? 0.0 : client.out_bytes[static_cast<std::size_t>(v)]; };

  std::vector<int> producer_stamp(static_cast<std::size_t>(n), -1);
  std::vector<std::vector<int>> leaving_at(static_cast<std::size_t>(n));  // ops whose last consumer is at a position
  for (int i = 0; i < n; ++i) {
    double in = 0, out = 0, params = 0, peak = 0;
    for (auto& l : leaving_at) l.clear();
    for (int j = i; j < n; ++j) {  // segment [i, j + 1)
      const int v = order[j];
      const Op& op = g.op(v);
      params += op.param_bytes;
      peak = std::max(peak, working[static_cast<std::size_t>(v)]);
      in += client_in(v);
      out += client_out(v);
      // seed 002, eq. 8: each producer outside the block once, whatever its consumers inside.
      for (int u : g.preds(v))
        if (pos[static_cast<std::size_t>(u)] < i && producer_stamp[static_cast<std::size_t>(u)] != i) {
          producer_stamp[static_cast<std::size_t>(u)] = i;
          in += g.op(u).out_bytes;
        }
      // v's output leaves the block while a consumer lies beyond the segment's end.
      const int lc = last_consumer[static_cast<std::size_t>(v)];
      if (lc > j) {
        out += op.out_bytes;
        leaving_at[static_cast<std::size_t>(lc)].push_back(v);
      }
      for (int w : leaving_at[static_cast<std::size_t>(j)]) out -= g.op(w).out_bytes;  // its last consumer joined
      const std::size_t c = t.at(i, j + 1);
      t.in_bytes[c] = in;
      t.out_bytes[c] = std::max(0.0, out);
      t.params[c] = params;
      t.peak[c] = peak;
    }
  }
  return t;
}

}  // namespace

namespace {

/// best[j][U] of the recurrence in node_slicing.hpp, for every prefix j and set U of at most
/// max_blocks nodes, with the last block's start and node of each entry.
struct SlicingTable {
  int n = 0, sets = 0;
  std::vector<double> best;
  std::vector<int> from_i, from_m;
  std::size_t idx(int j, int U) const { return static_cast<std::size_t>(j) * static_cast<std::size_t>(sets) + static_cast<std::size_t>(U); }
};

SlicingTable slicing_table(const ModelGraph& g, std::span<const int> order, const std::vector<PlacementNode>& nodes, int max_blocks,
                           const ClientTraffic& client, const char* who) {
  const int n = g.size();
  const int N = static_cast<int>(nodes.size());
  if (N < 1 || N > kMaxExactNodes)
    throw std::invalid_argument(std::string(who) + ": needs 1 to " + std::to_string(kMaxExactNodes) + " nodes, got " + std::to_string(N));
  if (max_blocks < 1) throw std::invalid_argument(std::string(who) + ": max_blocks must be >= 1");
  if (static_cast<int>(order.size()) != n || !g.is_topological(order))
    throw std::invalid_argument(std::string(who) + ": the order is not a topological order of the graph");
  SlicingTable tab;
  tab.n = n;
  tab.sets = 1 << N;
  if (n == 0) return tab;
  const SegmentTerms t = segment_terms(g, order, client);

  // work(S) on node m is the sum of its ops' work there (each op bound by its own resource):
  // per-node prefix sums along the order.
  std::vector<std::vector<double>> work_prefix(static_cast<std::size_t>(N), std::vector<double>(static_cast<std::size_t>(n + 1), 0.0));
  for (int m = 0; m < N; ++m)
    for (int p = 0; p < n; ++p)
      work_prefix[static_cast<std::size_t>(m)][static_cast<std::size_t>(p + 1)] =
          work_prefix[static_cast<std::size_t>(m)][static_cast<std::size_t>(p)] + nodes[static_cast<std::size_t>(m)].rates.work_s(g.op(order[p]));
  // f_m(π[i..j)): seed 002, eq. 10 on node m, with eq. 9's overflow as documented (mtpp_cost.hpp).
  const auto exact_cost = [&](int i, int j, int m) {
    const PlacementNode& node = nodes[static_cast<std::size_t>(m)];
    const std::size_t c = t.at(i, j);
    MtppParams p;
    p.fast_memory_bytes = node.memory_bytes;
    p.stream_Bps = node.stream_Bps;
    const double work = work_prefix[static_cast<std::size_t>(m)][static_cast<std::size_t>(j)] - work_prefix[static_cast<std::size_t>(m)][static_cast<std::size_t>(i)];
    return t.in_bytes[c] / node.downlink_Bps + work + overflow_cost(t.params[c], t.peak[c], p) + t.out_bytes[c] / node.uplink_Bps;
  };

  const int sets = tab.sets;
  const double inf = std::numeric_limits<double>::infinity();
  tab.best.assign(static_cast<std::size_t>(n + 1) * static_cast<std::size_t>(sets), inf);
  tab.from_i.assign(tab.best.size(), -1);
  tab.from_m.assign(tab.best.size(), -1);
  std::vector<double>& best = tab.best;
  best[tab.idx(0, 0)] = 0.0;
  // Sets in increasing size: U ∖ {m} is always done before U.
  std::vector<int> by_size(static_cast<std::size_t>(sets));
  for (int U = 0; U < sets; ++U) by_size[static_cast<std::size_t>(U)] = U;
  std::stable_sort(by_size.begin(), by_size.end(), [](int a, int b) { return std::popcount(static_cast<unsigned>(a)) < std::popcount(static_cast<unsigned>(b)); });
  for (int U : by_size) {
    const int used = std::popcount(static_cast<unsigned>(U));
    if (used == 0 || used > max_blocks) continue;
    for (int j = 1; j <= n; ++j)
      for (int m = 0; m < N; ++m) {
        if (!(U & (1 << m))) continue;
        const int rest = U & ~(1 << m);
        for (int i = used - 1; i < j; ++i) {  // each of the other blocks holds at least one op
          const double before = best[tab.idx(i, rest)];
          if (before >= best[tab.idx(j, U)]) continue;
          const double b = std::max(before, exact_cost(i, j, m));
          if (b < best[tab.idx(j, U)]) {
            best[tab.idx(j, U)] = b;
            tab.from_i[tab.idx(j, U)] = i;
            tab.from_m[tab.idx(j, U)] = m;
          }
        }
      }
  }
  return tab;
}

/// The slicing of the whole order onto exactly the nodes of U that the table holds.
NodeSlicing slicing_of(const SlicingTable& tab, std::span<const int> order, int U) {
  const int n = tab.n;
  NodeSlicing r;
  r.bottleneck_s = tab.best[tab.idx(n, U)];
  std::vector<std::pair<int, int>> segments;  // (start, node), last block first
  for (int j = n, u = U; j > 0;) {
    const int i = tab.from_i[tab.idx(j, u)], m = tab.from_m[tab.idx(j, u)];
    segments.emplace_back(i, m);
    u &= ~(1 << m);
    j = i;
  }
  std::reverse(segments.begin(), segments.end());
  r.blocks = static_cast<int>(segments.size());
  r.block_of.assign(static_cast<std::size_t>(n), 0);
  for (int b = 0; b < r.blocks; ++b) {
    const int end = b + 1 < r.blocks ? segments[static_cast<std::size_t>(b) + 1].first : n;
    for (int p = segments[static_cast<std::size_t>(b)].first; p < end; ++p) r.block_of[static_cast<std::size_t>(order[p])] = b;
    r.node_of_block.push_back(segments[static_cast<std::size_t>(b)].second);
  }
  return r;
}

}  // namespace

NodeSlicing slice_onto_nodes(const ModelGraph& g, std::span<const int> order, const std::vector<PlacementNode>& nodes,
                             int max_blocks, const ClientTraffic& client) {
  const SlicingTable tab = slicing_table(g, order, nodes, max_blocks, client, "slice_onto_nodes");
  if (tab.n == 0) return {};
  int best_U = -1;
  for (int U = 1; U < tab.sets; ++U)  // ties: fewer blocks, then the smaller set
    if (std::popcount(static_cast<unsigned>(U)) <= max_blocks &&
        (best_U < 0 || tab.best[tab.idx(tab.n, U)] < tab.best[tab.idx(tab.n, best_U)] * (1 - 1e-12) ||
         (tab.best[tab.idx(tab.n, U)] <= tab.best[tab.idx(tab.n, best_U)] * (1 + 1e-12) &&
          std::popcount(static_cast<unsigned>(U)) < std::popcount(static_cast<unsigned>(best_U)))))
      best_U = U;
  return slicing_of(tab, order, best_U);
}

std::vector<NodeSlicing> slice_onto_each_node_set(const ModelGraph& g, std::span<const int> order,
                                                  const std::vector<PlacementNode>& nodes, int max_blocks, const ClientTraffic& client) {
  const SlicingTable tab = slicing_table(g, order, nodes, max_blocks, client, "slice_onto_each_node_set");
  std::vector<NodeSlicing> r(static_cast<std::size_t>(tab.sets));
  for (auto& s : r) s.bottleneck_s = std::numeric_limits<double>::infinity();
  if (tab.n == 0) return r;
  for (int U = 1; U < tab.sets; ++U)
    if (std::isfinite(tab.best[tab.idx(tab.n, U)])) r[static_cast<std::size_t>(U)] = slicing_of(tab, order, U);
  return r;
}

std::vector<int> block_major_order(const ModelGraph& g, std::span<const int> block_of) {
  // Kahn's algorithm taking the ready op of the lowest block first: in a normalized acyclic
  // partition every op of block b becomes ready before any op of a later block needs to run.
  std::vector<double> keys(static_cast<std::size_t>(g.size()));
  for (int v = 0; v < g.size(); ++v) keys[static_cast<std::size_t>(v)] = block_of[static_cast<std::size_t>(v)];
  return g.kahn_order(keys);
}

}  // namespace swarmsim::partition
