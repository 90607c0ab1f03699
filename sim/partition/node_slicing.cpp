#include "sim/partition/node_slicing.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>

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

/// The sets of nodes the recurrence runs over, as counts of each class of interchangeable nodes
/// (a set of distinct nodes when every class has one member): every count vector of at most
/// max_blocks nodes, in increasing mixed-radix order, so that one node fewer always comes first.
struct CountStates {
  std::vector<std::vector<int>> members;  ///< per class, its nodes in index order
  std::vector<std::vector<int>> counts;   ///< per state, nodes taken from each class
  std::vector<std::vector<int>> without;  ///< per state and class: the state with one node fewer of it, or -1
  std::vector<int> used;                  ///< per state, nodes taken
};

std::vector<std::vector<int>> class_members(std::span<const int> class_of, int nodes) {
  std::vector<std::vector<int>> members;
  for (int j = 0; j < nodes; ++j) {
    const int c = class_of.empty() ? j : class_of[static_cast<std::size_t>(j)];
    if (c < 0) throw std::invalid_argument("node classes must not be negative");
    if (static_cast<std::size_t>(c) >= members.size()) members.resize(static_cast<std::size_t>(c) + 1);
    members[static_cast<std::size_t>(c)].push_back(j);
  }
  for (const auto& m : members)
    if (m.empty()) throw std::invalid_argument("node classes must be numbered 0, 1, ... without gaps");
  return members;
}

/// Count vectors of at most max_blocks nodes (the empty one first), or fewer than none when
/// there would be more than `limit`: the vector then holds limit + 1 of them.
std::vector<std::vector<int>> count_vectors(const std::vector<std::vector<int>>& members, int max_blocks, std::size_t limit) {
  std::vector<std::vector<int>> out;
  std::vector<int> c(members.size(), 0);
  int sum = 0;
  // Mixed-radix counting, the first class the least significant digit, stepping from each vector
  // to the next one of at most max_blocks nodes (a digit that cannot grow is cleared and carries):
  // a state with one node fewer of some class is always enumerated before it, and the vectors of
  // too many nodes are never visited (100 distinct nodes and one block are 101 vectors, not 2^100).
  while (true) {
    out.push_back(c);
    if (out.size() > limit) return out;
    std::size_t d = 0;
    for (; d < c.size(); ++d) {
      const int top = std::min(static_cast<int>(members[d].size()), max_blocks);
      if (c[d] < top && sum < max_blocks) {
        ++c[d];
        ++sum;
        break;
      }
      sum -= c[d];
      c[d] = 0;
    }
    if (d == c.size()) return out;
  }
}

CountStates count_states(std::span<const int> class_of, int nodes, int max_blocks, const char* who) {
  CountStates st;
  st.members = class_members(class_of, nodes);
  st.counts = count_vectors(st.members, max_blocks, kMaxSlicingStates);
  if (st.counts.size() > kMaxSlicingStates)
    throw std::invalid_argument(std::string(who) + ": more than " + std::to_string(kMaxSlicingStates) +
                                " sets of nodes to slice onto (slicing_states); group interchangeable nodes into classes or allow fewer blocks");
  std::map<std::vector<int>, int> index;
  for (std::size_t s = 0; s < st.counts.size(); ++s) index.emplace(st.counts[s], static_cast<int>(s));
  for (const auto& c : st.counts) {
    int sum = 0;
    std::vector<int> w(c.size(), -1);
    for (std::size_t k = 0; k < c.size(); ++k) {
      sum += c[k];
      if (c[k] == 0) continue;
      std::vector<int> fewer = c;
      --fewer[k];
      w[k] = index.at(fewer);
    }
    st.used.push_back(sum);
    st.without.push_back(std::move(w));
  }
  return st;
}

/// What a segment of the order costs on a node of each class: eq. 10 (f) and its compute part
/// (work + overflow), priced on the class's first node (every node of a class prices work,
/// memory and links alike).
struct SegmentPricer {
  SegmentTerms t;
  std::vector<std::vector<double>> work_prefix;  ///< per class, prefix sums of work(v) along the order
  std::vector<const PlacementNode*> node_of_class;

  SegmentPricer(const ModelGraph& g, std::span<const int> order, const std::vector<PlacementNode>& nodes, const CountStates& states,
                const ClientTraffic& client)
      : t(segment_terms(g, order, client)) {
    const int n = g.size();
    for (const auto& m : states.members) node_of_class.push_back(&nodes[static_cast<std::size_t>(m.front())]);
    // work(S) on a node is the sum of its ops' work there (each op bound by its own resource).
    work_prefix.assign(node_of_class.size(), std::vector<double>(static_cast<std::size_t>(n + 1), 0.0));
    for (std::size_t c = 0; c < node_of_class.size(); ++c)
      for (int p = 0; p < n; ++p)
        work_prefix[c][static_cast<std::size_t>(p + 1)] = work_prefix[c][static_cast<std::size_t>(p)] + node_of_class[c]->rates.work_s(order[p], g.op(order[p]));
  }
  /// work + overflow of π[i..j) on a node of class c (s).
  double compute(int i, int j, int c) const {
    const PlacementNode& node = *node_of_class[static_cast<std::size_t>(c)];
    const std::size_t cell = t.at(i, j);
    MtppParams p;
    p.fast_memory_bytes = node.memory_bytes;
    p.stream_Bps = node.stream_Bps;
    return work_prefix[static_cast<std::size_t>(c)][static_cast<std::size_t>(j)] - work_prefix[static_cast<std::size_t>(c)][static_cast<std::size_t>(i)] +
           overflow_cost(t.params[cell], t.peak[cell], p);
  }
  /// f_c(π[i..j)): seed 002, eq. 10 on a node of class c, with eq. 9's overflow as documented (mtpp_cost.hpp).
  double cost(int i, int j, int c) const {
    const PlacementNode& node = *node_of_class[static_cast<std::size_t>(c)];
    const std::size_t cell = t.at(i, j);
    return t.in_bytes[cell] / node.downlink_Bps + compute(i, j, c) + t.out_bytes[cell] / node.uplink_Bps;
  }
};

/// What the recurrence minimizes: the largest block cost (the bottleneck, node_slicing.hpp), or
/// the sum of each block's compute weighted by its class, among slicings whose every block
/// costs at most a cap.
struct SlicingObjective {
  bool weighted_work = false;
  std::vector<double> class_weight;  ///< per class (weighted_work)
  double cap_s = 0;                  ///< the most a block may cost (weighted_work)
};

/// best[j][S] of the recurrence, for every prefix j and state S (counts per class of at most
/// max_blocks nodes), with the last block's start and class of each entry.
struct SlicingTable {
  int n = 0;
  CountStates states;
  std::unique_ptr<SegmentPricer> pricer;
  std::vector<double> best;
  std::vector<int> from_i, from_c;
  std::size_t idx(int j, int S) const { return static_cast<std::size_t>(j) * states.counts.size() + static_cast<std::size_t>(S); }
};

SlicingTable slicing_table(const ModelGraph& g, std::span<const int> order, const std::vector<PlacementNode>& nodes, int max_blocks,
                           const ClientTraffic& client, std::span<const int> class_of, const char* who,
                           const SlicingObjective& objective = {}) {
  const int n = g.size();
  const int N = static_cast<int>(nodes.size());
  if (N < 1) throw std::invalid_argument(std::string(who) + ": needs at least one node");
  if (max_blocks < 1) throw std::invalid_argument(std::string(who) + ": max_blocks must be >= 1");
  if (!class_of.empty() && static_cast<int>(class_of.size()) != N)
    throw std::invalid_argument(std::string(who) + ": one class per node expected");
  if (static_cast<int>(order.size()) != n || !g.is_topological(order))
    throw std::invalid_argument(std::string(who) + ": the order is not a topological order of the graph");
  SlicingTable tab;
  tab.n = n;
  tab.states = count_states(class_of, N, max_blocks, who);
  if (n == 0) return tab;
  tab.pricer = std::make_unique<SegmentPricer>(g, order, nodes, tab.states, client);
  const SegmentPricer& price = *tab.pricer;
  const int C = static_cast<int>(tab.states.members.size());

  const std::size_t S = tab.states.counts.size();
  const double inf = std::numeric_limits<double>::infinity();
  tab.best.assign(static_cast<std::size_t>(n + 1) * S, inf);
  tab.from_i.assign(tab.best.size(), -1);
  tab.from_c.assign(tab.best.size(), -1);
  std::vector<double>& best = tab.best;
  best[tab.idx(0, 0)] = 0.0;  // state 0: no node
  // States in increasing order: the state with one node fewer is always done before.
  for (std::size_t u = 1; u < S; ++u) {
    const int used = tab.states.used[u];
    for (int j = 1; j <= n; ++j)
      for (int c = 0; c < C; ++c) {
        const int rest = tab.states.without[u][static_cast<std::size_t>(c)];
        if (rest < 0) continue;
        for (int i = used - 1; i < j; ++i) {  // each of the other blocks holds at least one op
          const double before = best[tab.idx(i, rest)];
          // Both objectives only grow with a block more (weights are not negative).
          if (before >= best[tab.idx(j, static_cast<int>(u))]) continue;
          double b;
          if (!objective.weighted_work) {
            b = std::max(before, price.cost(i, j, c));
          } else {
            if (price.cost(i, j, c) > objective.cap_s) continue;
            b = before + objective.class_weight[static_cast<std::size_t>(c)] * price.compute(i, j, c);
          }
          if (b < best[tab.idx(j, static_cast<int>(u))]) {
            best[tab.idx(j, static_cast<int>(u))] = b;
            tab.from_i[tab.idx(j, static_cast<int>(u))] = i;
            tab.from_c[tab.idx(j, static_cast<int>(u))] = c;
          }
        }
      }
  }
  return tab;
}

/// The slicing of the whole order onto the nodes of state S that the table holds: the blocks of
/// class c take its nodes in index order, the last block first.
NodeSlicing slicing_of(const SlicingTable& tab, std::span<const int> order, int S) {
  const int n = tab.n;
  NodeSlicing r;
  std::vector<std::pair<int, int>> segments;  // (start, node), last block first
  std::vector<std::size_t> next_member(tab.states.members.size(), 0);
  for (int j = n, u = S; j > 0;) {
    const int i = tab.from_i[tab.idx(j, u)], c = tab.from_c[tab.idx(j, u)];
    r.bottleneck_s = std::max(r.bottleneck_s, tab.pricer->cost(i, j, c));
    segments.emplace_back(i, tab.states.members[static_cast<std::size_t>(c)][next_member[static_cast<std::size_t>(c)]++]);
    u = tab.states.without[static_cast<std::size_t>(u)][static_cast<std::size_t>(c)];
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

std::vector<int> interchangeable_classes(const std::vector<PlacementNode>& nodes, std::span<const int> extra) {
  if (!extra.empty() && extra.size() != nodes.size()) throw std::invalid_argument("interchangeable_classes: one extra key per node expected");
  // What eq. 10 reads of a node, and the caller's key: equal tuples, one class.
  using Key = std::tuple<double, double, const void*, double, double, double, double, int>;
  std::map<Key, int> class_of_key;
  std::vector<int> class_of(nodes.size());
  for (std::size_t j = 0; j < nodes.size(); ++j) {
    const PlacementNode& a = nodes[j];
    const Key key{a.rates.flops_per_s, a.rates.mem_Bps, a.rates.op_seconds.get(), a.memory_bytes, a.stream_Bps, a.uplink_Bps, a.downlink_Bps, extra.empty() ? 0 : extra[j]};
    class_of[j] = class_of_key.emplace(key, static_cast<int>(class_of_key.size())).first->second;
  }
  return class_of;
}

std::size_t slicing_states(std::span<const int> class_of, int nodes, int max_blocks) {
  if (max_blocks < 1 || nodes < 1) return 0;
  return count_vectors(class_members(class_of, nodes), max_blocks, kMaxSlicingStates).size();
}

NodeSlicing slice_onto_nodes(const ModelGraph& g, std::span<const int> order, const std::vector<PlacementNode>& nodes,
                             int max_blocks, const ClientTraffic& client, std::span<const int> class_of) {
  const SlicingTable tab = slicing_table(g, order, nodes, max_blocks, client, class_of, "slice_onto_nodes");
  if (tab.n == 0) return {};
  int best_S = -1;
  const auto blocks = [&](int u) { return tab.states.used[static_cast<std::size_t>(u)]; };
  for (int u = 1; u < static_cast<int>(tab.states.counts.size()); ++u)  // ties: fewer blocks, then the earlier state
    if (best_S < 0 || tab.best[tab.idx(tab.n, u)] < tab.best[tab.idx(tab.n, best_S)] * (1 - 1e-12) ||
        (tab.best[tab.idx(tab.n, u)] <= tab.best[tab.idx(tab.n, best_S)] * (1 + 1e-12) && blocks(u) < blocks(best_S)))
      best_S = u;
  return slicing_of(tab, order, best_S);
}

std::vector<NodeSlicing> slice_onto_each_node_set(const ModelGraph& g, std::span<const int> order,
                                                  const std::vector<PlacementNode>& nodes, int max_blocks, const ClientTraffic& client,
                                                  std::span<const int> class_of) {
  const SlicingTable tab = slicing_table(g, order, nodes, max_blocks, client, class_of, "slice_onto_each_node_set");
  std::vector<NodeSlicing> r;
  for (std::size_t u = 1; u < tab.states.counts.size(); ++u) {
    if (tab.n > 0 && std::isfinite(tab.best[tab.idx(tab.n, static_cast<int>(u))])) {
      r.push_back(slicing_of(tab, order, static_cast<int>(u)));
    } else {
      r.emplace_back();  // no slicing onto this set: more nodes than ops
      r.back().bottleneck_s = std::numeric_limits<double>::infinity();
    }
  }
  return r;
}

std::vector<NodeSlicing> slice_onto_each_node_set_least_weighted_compute(const ModelGraph& g, std::span<const int> order,
                                                                          const std::vector<PlacementNode>& nodes, int max_blocks,
                                                                          std::span<const double> weight, double cap_s,
                                                                          const ClientTraffic& client, std::span<const int> class_of) {
  const char* who = "slice_onto_each_node_set_least_weighted_compute";
  if (weight.size() != nodes.size()) throw std::invalid_argument(std::string(who) + ": one weight per node expected");
  SlicingObjective objective;
  objective.weighted_work = true;
  objective.cap_s = cap_s;
  const std::vector<std::vector<int>> members = class_members(class_of, static_cast<int>(nodes.size()));
  for (const auto& m : members) {
    for (const int j : m)
      if (!(weight[static_cast<std::size_t>(j)] >= 0) || weight[static_cast<std::size_t>(j)] != weight[static_cast<std::size_t>(m.front())])
        throw std::invalid_argument(std::string(who) + ": weights must be finite, not negative, and equal within a class");
    objective.class_weight.push_back(weight[static_cast<std::size_t>(m.front())]);
  }
  const SlicingTable tab = slicing_table(g, order, nodes, max_blocks, client, class_of, who, objective);
  std::vector<NodeSlicing> r;
  for (std::size_t u = 1; u < tab.states.counts.size(); ++u) {
    if (tab.n > 0 && std::isfinite(tab.best[tab.idx(tab.n, static_cast<int>(u))])) {
      r.push_back(slicing_of(tab, order, static_cast<int>(u)));
    } else {
      r.emplace_back();  // no slicing onto this set within the cap
      r.back().bottleneck_s = std::numeric_limits<double>::infinity();
    }
  }
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
