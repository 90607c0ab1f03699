// The MTPP partitioner: eq. 8-11 on a hand-worked graph, SliceGraph against exhaustive search,
// the fast exact SliceGraph against the O(n²k) DP, BRKGA, every strategy's validity, placement.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <limits>
#include <map>
#include <cmath>
#include <functional>
#include <numeric>

#include "sim/partition/brkga.hpp"
#include "sim/partition/mtpp_cost.hpp"
#include "sim/partition/node_slicing.hpp"
#include "sim/partition/placement.hpp"
#include "sim/partition/slice_graph.hpp"
#include "sim/partition/strategies.hpp"
#include "sim/rng.hpp"

using namespace swarmsim::partition;
using swarmsim::sim::Rng;

namespace {

Op make_op(const char* name, double flops, double param, double out) {
  Op o;
  o.name = name;
  o.kind = "op";
  o.flops = flops;
  o.param_bytes = param;
  o.out_bytes = out;
  return o;
}

/// a -> b, a -> c, a -> d, b -> d, c -> d: a diamond whose source feeds the sink directly too.
ModelGraph hand_graph() {
  return ModelGraph("hand", {make_op("a", 1, 0, 100), make_op("b", 2, 40, 50), make_op("c", 3, 60, 30), make_op("d", 4, 10, 10)},
                    {{0, 1}, {0, 2}, {0, 3}, {1, 3}, {2, 3}});
}

MtppParams hand_params() {
  MtppParams p;
  p.device.flops_per_s = 1;  // work(v) = flops(v) seconds
  p.link_Bps = 10;           // B
  p.fast_memory_bytes = 100; // M
  p.stream_Bps = 20;
  return p;
}

/// A random DAG on n ops: edge i -> j (i < j) with probability `density`, then ids shuffled so
/// that id order is not a topological order.
ModelGraph random_dag(int n, double density, Rng& rng) {
  std::vector<int> label(static_cast<std::size_t>(n));
  std::iota(label.begin(), label.end(), 0);
  for (int i = n - 1; i > 0; --i) std::swap(label[i], label[rng.below(static_cast<std::uint64_t>(i) + 1)]);
  std::vector<Op> ops(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    Op& o = ops[label[i]];
    o.name = "v" + std::to_string(label[i]);
    o.flops = std::round(rng.uniform(1, 100));
    o.mem_bytes = std::round(rng.uniform(0, 400));
    o.param_bytes = std::round(rng.uniform(0, 50));
    o.out_bytes = std::round(rng.uniform(1, 60));
  }
  std::vector<std::pair<int, int>> edges;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j)
      if (rng.uniform() < density) edges.emplace_back(label[i], label[j]);
  return ModelGraph("random", std::move(ops), edges);
}

MtppParams random_params(Rng& rng) {
  MtppParams p;
  p.device.flops_per_s = rng.uniform(0.5, 2);
  p.device.mem_Bps = rng.uniform() < 0.5 ? 0.0 : rng.uniform(5, 50);
  p.link_Bps = rng.uniform(2, 40);
  p.fast_memory_bytes = rng.uniform() < 0.3 ? 1e300 : rng.uniform(50, 300);
  p.stream_Bps = rng.uniform(5, 50);
  return p;
}

/// Every set partition of n ops into at most k blocks (restricted growth strings).
void for_each_set_partition(int n, int k, const std::function<void(const std::vector<int>&, int)>& visit) {
  std::vector<int> a(static_cast<std::size_t>(n), 0);
  std::function<void(int, int)> rec = [&](int i, int used) {
    if (i == n) {
      visit(a, used);
      return;
    }
    for (int b = 0; b <= std::min(used, k - 1); ++b) {
      a[i] = b;
      rec(i + 1, std::max(used, b + 1));
    }
  };
  rec(0, 0);
}

/// Every topological order, up to `cap` of them; returns false when there were more.
bool for_each_topological_order(const ModelGraph& g, long cap, const std::function<void(const std::vector<int>&)>& visit) {
  const int n = g.size();
  std::vector<int> indeg(static_cast<std::size_t>(n)), order;
  for (int v = 0; v < n; ++v) indeg[v] = static_cast<int>(g.preds(v).size());
  std::vector<char> placed(static_cast<std::size_t>(n), 0);
  long count = 0;
  std::function<bool()> rec = [&]() {
    if (static_cast<int>(order.size()) == n) {
      visit(order);
      return ++count < cap;
    }
    for (int v = 0; v < n; ++v) {
      if (placed[v] || indeg[v] != 0) continue;
      placed[v] = 1;
      order.push_back(v);
      for (int w : g.succs(v)) --indeg[w];
      const bool go_on = rec();
      for (int w : g.succs(v)) ++indeg[w];
      order.pop_back();
      placed[v] = 0;
      if (!go_on) return false;
    }
    return true;
  };
  return rec();
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::max({1.0, std::abs(a), std::abs(b)}); }

}  // namespace

TEST(MtppCost, HandWorkedEquations8To10) {
  const ModelGraph g = hand_graph();
  const MtppParams p = hand_params();
  const BlockMask S{1, 1, 0, 0}, T{0, 0, 1, 1};
  // eq. 8: N⁻(T) = {a, b, c}; ∩ S = {a, b}; a feeds c and d but counts once: (100 + 50) / 10.
  EXPECT_DOUBLE_EQ(io_cost(g, S, T, p), 15.0);
  EXPECT_DOUBLE_EQ(io_cost(g, T, S, p), 0.0);  // nothing of T feeds S
  // peak: b holds a's 100 and its own 50; d holds 10 + a 100 + b 50 + c 30.
  EXPECT_DOUBLE_EQ(peak_bytes(g, S), 150.0);
  EXPECT_DOUBLE_EQ(peak_bytes(g, T), 190.0);
  // eq. 9: S: 40 + 150 - 100 = 90 bytes over, plus 150 spilled, at 20 B/s.
  EXPECT_DOUBLE_EQ(overflow_cost(param_bytes(g, S), peak_bytes(g, S), p), 12.0);
  EXPECT_DOUBLE_EQ(overflow_cost(param_bytes(g, T), peak_bytes(g, T), p), (70 + 190 - 100 + 190) / 20.0);
  EXPECT_DOUBLE_EQ(overflow_cost(10, 20, p), 0.0);  // fits in M: nothing streams
  // eq. 10: f(S) = 0 + (1 + 2) + 12 + 15;  f(T) = 15 + (3 + 4) + 17.5 + 0 (d is the graph's output).
  EXPECT_DOUBLE_EQ(block_cost(g, S, p), 30.0);
  EXPECT_DOUBLE_EQ(block_cost(g, T, p), 39.5);
  const std::vector<int> part{0, 0, 1, 1};
  const auto costs = block_costs(g, part, 2, p);
  EXPECT_DOUBLE_EQ(costs[0].total(), 30.0);
  EXPECT_DOUBLE_EQ(costs[1].total(), 39.5);
  EXPECT_DOUBLE_EQ(bottleneck(g, part, 2, p), 39.5);  // eq. 11's objective
  // The incremental segment scanner over the order a, b, c, d agrees.
  SegmentCostScanner scan(g, std::vector<int>{0, 1, 2, 3}, p);
  scan.begin(0);
  scan.extend();
  EXPECT_DOUBLE_EQ(scan.extend(), 30.0);
  scan.begin(2);
  scan.extend();
  EXPECT_DOUBLE_EQ(scan.extend(), 39.5);
}

TEST(MtppCost, PartitionQualityOnTheHandGraph) {
  const ModelGraph g = hand_graph();
  Partition part;
  part.block_of = {0, 0, 1, 1};
  part.blocks = 2;
  const PartitionQuality q = partition_quality(g, part, hand_params());
  EXPECT_DOUBLE_EQ(q.bottleneck_s, 39.5);
  EXPECT_DOUBLE_EQ(q.load_stddev_s, 4.75);        // costs 30 and 39.5 around 34.75
  EXPECT_DOUBLE_EQ(q.communication_bytes, 150.0); // a and b, once each
  EXPECT_EQ(q.critical_path_blocks, 2);
  EXPECT_DOUBLE_EQ(q.critical_path_s, 69.5);
  EXPECT_DOUBLE_EQ(q.peak_memory_bytes, 70.0 + 190.0);
}

TEST(MtppCost, AcyclicityChecker) {
  const ModelGraph g = hand_graph();
  EXPECT_TRUE(is_acyclic_partition(g, std::vector<int>{0, 1, 1, 1}, 2));
  EXPECT_TRUE(is_acyclic_partition(g, std::vector<int>{0, 1, 2, 3}, 4));
  EXPECT_FALSE(is_acyclic_partition(g, std::vector<int>{0, 1, 1, 0}, 2));  // a,d | b,c: a -> b -> d cycles
  EXPECT_FALSE(is_acyclic_partition(g, std::vector<int>{0, 0, 0, 2}, 3));  // block 1 empty
  EXPECT_FALSE(is_acyclic_partition(g, std::vector<int>{0, 0, 0, 3}, 3));  // block out of range
  EXPECT_FALSE(is_acyclic_partition(g, std::vector<int>{0, 0, 0}, 1));     // not every op
}

TEST(SliceGraph, BestOrderMatchesExhaustiveSearchOnSmallDags) {
  // Every acyclic partition is a slicing of some topological order (sort the quotient DAG, then
  // each block), and f(S) depends on the set S alone, so min over orders of SliceGraph must equal
  // the exhaustive optimum over all acyclic partitions into at most k blocks: always.
  Rng rng(2026);
  int checked = 0;
  for (int trial = 0; trial < 400 && checked < 60; ++trial) {
    const int n = 4 + static_cast<int>(rng.below(9));  // 4..12 ops
    const int k = 1 + static_cast<int>(rng.below(n <= 10 ? 4 : 3));
    const ModelGraph g = random_dag(n, rng.uniform(0.2, 0.6), rng);
    const MtppParams p = random_params(rng);
    double by_orders = INFINITY;
    const bool all_orders = for_each_topological_order(g, 5000, [&](const std::vector<int>& order) {
      const Slicing s = slice_graph(g, order, k, p);
      by_orders = std::min(by_orders, s.bottleneck_s);
    });
    if (!all_orders) continue;  // too many orders to enumerate for this instance
    double exhaustive = INFINITY;
    for_each_set_partition(n, k, [&](const std::vector<int>& part, int blocks) {
      if (!is_acyclic_partition(g, part, blocks)) return;
      exhaustive = std::min(exhaustive, bottleneck(g, part, blocks, p));
    });
    ASSERT_LT(rel_diff(by_orders, exhaustive), 1e-9) << "n=" << n << " k=" << k << " trial " << trial;
    // BRKGA searches orders: never worse than Kahn's single order, never better than the optimum.
    BrkgaParams bp;
    bp.population = 16;
    bp.generations = 15;
    bp.seed = static_cast<std::uint64_t>(trial);
    const double kahn = slice_graph(g, g.kahn_order(), k, p).bottleneck_s;
    const BrkgaResult r = brkga_partition(g, k, p, bp);
    EXPECT_LE(r.best.bottleneck_s, kahn);
    EXPECT_GE(r.best.bottleneck_s, exhaustive * (1 - 1e-12));
    ++checked;
  }
  EXPECT_GE(checked, 60);
}

TEST(SliceGraph, FastExactVariantEqualsTheReferenceDp) {
  Rng rng(7);
  for (int trial = 0; trial < 3000; ++trial) {
    const int n = 1 + static_cast<int>(rng.below(60));
    const int k = 1 + static_cast<int>(rng.below(10));
    const ModelGraph g = random_dag(n, rng.uniform(0.02, 0.4), rng);
    const MtppParams p = random_params(rng);
    std::vector<double> keys(static_cast<std::size_t>(n));
    for (double& x : keys) x = rng.uniform();
    const std::vector<int> order = g.kahn_order(keys);
    const Slicing fast = slice_graph(g, order, k, p);
    const Slicing ref = slice_graph_dp(g, order, k, p);
    ASSERT_EQ(fast.bottleneck_s, ref.bottleneck_s) << "trial " << trial << " n=" << n << " k=" << k;
    ASSERT_LE(fast.blocks(), k);
    // The DP's value is the real bottleneck of the slicing it returns.
    ASSERT_LT(rel_diff(bottleneck(g, fast.block_of, fast.blocks(), p), fast.bottleneck_s), 1e-9);
    ASSERT_TRUE(is_acyclic_partition(g, fast.block_of, fast.blocks()));
  }
}

TEST(SliceGraph, MoreBlocksNeverHurtAndOneBlockIsTheWholeGraph) {
  Rng rng(11);
  const ModelGraph g = random_dag(40, 0.1, rng);
  const MtppParams p = random_params(rng);
  const auto order = g.kahn_order();
  double previous = INFINITY;
  for (int k = 1; k <= 12; ++k) {
    const double b = slice_graph(g, order, k, p).bottleneck_s;
    EXPECT_LE(b, previous);
    previous = b;
  }
  const BlockMask all(static_cast<std::size_t>(g.size()), 1);
  EXPECT_LT(rel_diff(slice_graph(g, order, 1, p).bottleneck_s, block_cost(g, all, p)), 1e-12);
}

TEST(SliceGraph, RejectsBadInput) {
  const ModelGraph g = hand_graph();
  EXPECT_THROW(slice_graph(g, std::vector<int>{0, 3, 1, 2}, 2, hand_params()), std::invalid_argument);  // d before b
  EXPECT_THROW(slice_graph(g, std::vector<int>{0, 1, 2, 3}, 0, hand_params()), std::invalid_argument);
}

TEST(Brkga, SameSeedSameRunAndALogThatNeverGetsWorse) {
  Rng rng(5);
  const ModelGraph g = random_dag(60, 0.08, rng);
  const MtppParams p = random_params(rng);
  BrkgaParams bp;
  bp.population = 20;
  bp.generations = 25;
  bp.stall_generations = 0;
  bp.seed = 99;
  const BrkgaResult a = brkga_partition(g, 6, p, bp);
  const BrkgaResult b = brkga_partition(g, 6, p, bp);
  EXPECT_EQ(a.best.block_of, b.best.block_of);
  ASSERT_EQ(a.log.size(), 25u);
  for (std::size_t i = 1; i < a.log.size(); ++i) {
    EXPECT_LE(a.log[i].best_s, a.log[i - 1].best_s);
    EXPECT_GT(a.log[i].evaluations, a.log[i - 1].evaluations);
  }
  EXPECT_LE(a.best.bottleneck_s, slice_graph(g, g.kahn_order(), 6, p).bottleneck_s);
  bp.crossover = Crossover::Blend;
  const BrkgaResult c = brkga_partition(g, 6, p, bp);
  EXPECT_TRUE(is_acyclic_partition(g, c.best.block_of, c.best.blocks()));
  EXPECT_LE(c.best.bottleneck_s, slice_graph(g, g.kahn_order(), 6, p).bottleneck_s);
}

TEST(Strategies, EveryMethodReturnsAnAcyclicPartitionCoveringEveryOpOnce) {
  Rng rng(3);
  for (int trial = 0; trial < 30; ++trial) {
    const int n = 5 + static_cast<int>(rng.below(200));
    const ModelGraph g = random_dag(n, rng.uniform(0.01, 0.2), rng);
    const MtppParams p = random_params(rng);
    for (int k : {1, 2, 3, 8, 16}) {
      double slicegraph = 0, lower = bottleneck_lower_bound(g, k, p);
      for (const auto& name : method_names()) {
        const Method m = *method_from_string(name);
        BrkgaParams bp;
        bp.population = 8;
        bp.generations = 4;
        const Partition part = partition_graph(g, k, m, p, bp);
        ASSERT_EQ(static_cast<int>(part.block_of.size()), n) << name;
        ASSERT_GE(part.blocks, 1) << name;
        ASSERT_LE(part.blocks, k) << name;
        ASSERT_TRUE(is_acyclic_partition(g, part.block_of, part.blocks)) << name << " k=" << k << " trial " << trial;
        const PartitionQuality q = partition_quality(g, part, p);
        EXPECT_GE(q.bottleneck_s, lower * (1 - 1e-12)) << name;
        if (m == Method::SliceGraph) slicegraph = q.bottleneck_s;
        // Layer-wise and pipeline cut Kahn's order into at most k segments: SliceGraph's optimum
        // over that order can only be better.
        if (m == Method::LayerWise || m == Method::Pipeline) {
          EXPECT_LE(slicegraph, q.bottleneck_s * (1 + 1e-12)) << name;
        }
        if (m == Method::SliceGraphDp) {
          EXPECT_LT(rel_diff(q.bottleneck_s, slicegraph), 1e-12);
        }
        if (m == Method::Brkga) {
          EXPECT_LE(q.bottleneck_s, slicegraph * (1 + 1e-12));  // Kahn's order is in its population
        }
      }
    }
  }
}

TEST(Placement, OptimalEqualsExhaustiveAndBeatsGreedy) {
  Rng rng(17);
  for (int trial = 0; trial < 300; ++trial) {
    const int k = 1 + static_cast<int>(rng.below(6));
    const int m = k + static_cast<int>(rng.below(3));
    PlacementCosts cost(static_cast<std::size_t>(k), std::vector<double>(static_cast<std::size_t>(m)));
    for (auto& row : cost)
      for (double& c : row) c = std::round(rng.uniform(1, 30));  // many ties
    const Placement opt = place_optimal(cost);
    const Placement brute = place_exhaustive(cost);
    ASSERT_EQ(opt.bottleneck_s, brute.bottleneck_s) << "trial " << trial;
    std::vector<int> used = opt.node_of_block;
    std::sort(used.begin(), used.end());
    ASSERT_TRUE(std::adjacent_find(used.begin(), used.end()) == used.end()) << "a node got two blocks";
  }
  // On a graph: faster nodes take the heavier blocks, and greedy is never better than optimal.
  Rng r2(23);
  const ModelGraph g = random_dag(80, 0.08, r2);
  MtppParams p;
  p.link_Bps = 1e9;
  const Partition part = partition_graph(g, 4, Method::SliceGraph, p);
  std::vector<PlacementNode> nodes;
  for (int j = 0; j < 6; ++j) {
    PlacementNode n;
    n.name = "n" + std::to_string(j);
    n.rates.flops_per_s = 1.0 + j;
    n.memory_bytes = 1e12;
    n.x = j;
    n.latency_s_per_unit = 1e-3;
    nodes.push_back(n);
  }
  const PlacementCosts cost = placement_costs(g, part, nodes);
  // A node twice as fast halves the work term exactly.
  const auto unit = block_costs(g, part.block_of, part.blocks, p);
  EXPECT_NEAR(cost[0][1] - unit[0].in_bytes / 1e9 - unit[0].out_bytes / 1e9, unit[0].work_s / 2.0, 1e-9 * unit[0].work_s);
  const Placement opt = place_optimal(cost);
  const Placement greedy = place_greedy(g, part, nodes);
  EXPECT_LE(opt.bottleneck_s, greedy.bottleneck_s);
  for (int b : opt.node_of_block) EXPECT_GE(b, 2);  // the four fastest of six nodes
  EXPECT_THROW(place_greedy(g, part, std::vector<PlacementNode>(nodes.begin(), nodes.begin() + 2)), std::invalid_argument);
}

namespace {

/// Random nodes: FLOP/s, memory bandwidth, fast memory (small enough that blocks overflow) and
/// access links that differ by up to 8x.
std::vector<PlacementNode> random_nodes(int count, Rng& rng) {
  std::vector<PlacementNode> nodes;
  for (int j = 0; j < count; ++j) {
    PlacementNode n;
    n.name = "n" + std::to_string(j);
    n.rates.flops_per_s = rng.uniform(1, 8);
    n.rates.mem_Bps = rng.uniform(20, 160);
    n.memory_bytes = rng.uniform(60, 300);
    n.stream_Bps = rng.uniform(5, 40);
    n.uplink_Bps = rng.uniform(5, 40);
    n.downlink_Bps = rng.uniform(5, 40);
    nodes.push_back(n);
  }
  return nodes;
}

/// The cost of every block of `block_of` on every node with the client's traffic: eq. 10 by
/// placement_costs (block_costs, an independent implementation), plus client bytes over the links.
PlacementCosts costs_with_client(const ModelGraph& g, const std::vector<int>& block_of, int blocks,
                                 const std::vector<PlacementNode>& nodes, const std::vector<double>& cin,
                                 const std::vector<double>& cout) {
  Partition part;
  part.block_of = block_of;
  part.blocks = blocks;
  PlacementCosts c = placement_costs(g, part, nodes);
  for (int v = 0; v < g.size(); ++v)
    for (std::size_t j = 0; j < nodes.size(); ++j)
      c[block_of[v]][j] += cin[v] / nodes[j].downlink_Bps + cout[v] / nodes[j].uplink_Bps;
  return c;
}

/// A random slicing problem: a DAG of 3 to 2 + op_span ops, 1-4 random nodes, a block limit, the
/// client's bytes into the sources and out of the sinks, and Kahn's order.
struct SlicingCase {
  ModelGraph g;
  std::vector<PlacementNode> nodes;
  int max_blocks = 1;
  std::vector<double> cin, cout;
  std::vector<int> order;
  ClientTraffic client() const { return {cin, cout}; }
};

SlicingCase random_slicing_case(Rng& rng, int op_span) {
  SlicingCase c;
  const int n = 3 + static_cast<int>(rng.below(static_cast<std::uint64_t>(op_span)));
  c.g = random_dag(n, 0.35, rng);
  c.nodes = random_nodes(1 + static_cast<int>(rng.below(4)), rng);
  c.max_blocks = 1 + static_cast<int>(rng.below(c.nodes.size()));
  c.cin.assign(static_cast<std::size_t>(n), 0.0);
  c.cout = c.cin;
  for (int v = 0; v < n; ++v) {
    if (c.g.preds(v).empty()) c.cin[v] = rng.uniform(0, 30);
    if (c.g.succs(v).empty()) c.cout[v] = rng.uniform(0, 30);
  }
  c.order = c.g.kahn_order();
  return c;
}

/// The sets of 1 to max_blocks of N distinct nodes, as masks in increasing order: how
/// slice_onto_each_node_set lists them when every node is its own class.
std::vector<int> node_sets(int N, int max_blocks) {
  std::vector<int> sets;
  for (int U = 1; U < (1 << N); ++U)
    if (std::popcount(static_cast<unsigned>(U)) <= max_blocks) sets.push_back(U);
  return sets;
}

/// The nodes of mask U, ascending.
std::vector<int> members_of(int U, int N) {
  std::vector<int> members;
  for (int m = 0; m < N; ++m)
    if (U & (1 << m)) members.push_back(m);
  return members;
}

/// Calls visit(block_of, node_of_block) for every cut of `order` into members.size() contiguous
/// blocks and every bijection of `members` (ascending) onto the blocks: brute force.
template <class Visit>
void for_each_cut_and_assignment(const std::vector<int>& order, const std::vector<int>& members, Visit visit) {
  const int n = static_cast<int>(order.size()), blocks = static_cast<int>(members.size());
  for (unsigned cuts = 0; cuts < (1u << (n - 1)); ++cuts) {  // bit p: a block starts at position p + 1
    if (1 + std::popcount(cuts) != blocks) continue;
    std::vector<int> block_of(static_cast<std::size_t>(n));
    for (int p = 0, b = 0; p < n; ++p) {
      if (p > 0 && (cuts & (1u << (p - 1)))) ++b;
      block_of[order[p]] = b;
    }
    std::vector<int> perm = members;
    do visit(block_of, perm);
    while (std::next_permutation(perm.begin(), perm.end()));
  }
}

}  // namespace

// Exhaustive check of slice_onto_nodes: on 120 random DAGs of 3-8 ops and 1-4 random nodes, its
// bottleneck equals the best over every slicing of the same order into at most max_blocks blocks
// and every injective assignment of nodes (place_exhaustive), priced by placement_costs; and the
// slicing it returns costs what it says.
TEST(NodeSlicing, EqualsExhaustiveSearchOverSlicingsAndAssignments) {
  Rng rng(2718);
  for (int trial = 0; trial < 120; ++trial) {
    const SlicingCase sc = random_slicing_case(rng, 6);
    const auto& [g, nodes, max_blocks, cin, cout, order] = sc;
    const int n = g.size();
    const NodeSlicing got = slice_onto_nodes(g, order, nodes, max_blocks, {cin, cout});

    double brute = std::numeric_limits<double>::infinity();
    for (unsigned cuts = 0; cuts < (1u << (n - 1)); ++cuts) {  // bit p: a block starts at position p + 1
      const int blocks = 1 + std::popcount(cuts);
      if (blocks > max_blocks) continue;
      std::vector<int> block_of(static_cast<std::size_t>(n));
      for (int p = 0, b = 0; p < n; ++p) {
        if (p > 0 && (cuts & (1u << (p - 1)))) ++b;
        block_of[order[p]] = b;
      }
      brute = std::min(brute, place_exhaustive(costs_with_client(g, block_of, blocks, nodes, cin, cout)).bottleneck_s);
    }
    ASSERT_NEAR(got.bottleneck_s, brute, 1e-9 * brute) << "trial " << trial;
    ASSERT_EQ(got.node_of_block.size(), static_cast<std::size_t>(got.blocks));
    ASSERT_LE(got.blocks, max_blocks);
    ASSERT_TRUE(is_acyclic_partition(g, got.block_of, got.blocks));
    const PlacementCosts c = costs_with_client(g, got.block_of, got.blocks, nodes, cin, cout);
    double placed = 0;
    std::vector<int> used;
    for (int b = 0; b < got.blocks; ++b) {
      placed = std::max(placed, c[b][got.node_of_block[b]]);
      used.push_back(got.node_of_block[b]);
    }
    std::sort(used.begin(), used.end());
    EXPECT_EQ(std::adjacent_find(used.begin(), used.end()), used.end()) << "a node runs two blocks";
    EXPECT_NEAR(placed, got.bottleneck_s, 1e-9 * placed) << "trial " << trial;
  }
}

// Exhaustive check of slice_onto_each_node_set: on 80 random DAGs of 3-7 ops and 1-4 random
// nodes, every set U of nodes gets the best slicing of the order into exactly |U| blocks over
// every bijection of U onto them (brute force over cuts and permutations), uses exactly U, and
// costs what it says; sets of more nodes than ops have none, sets of more than allowed are not listed.
TEST(NodeSlicing, EachNodeSetGetsItsBestSlicingOntoExactlyThoseNodes) {
  Rng rng(31337);
  for (int trial = 0; trial < 80; ++trial) {
    const SlicingCase sc = random_slicing_case(rng, 5);
    const auto& [g, nodes, max_blocks, cin, cout, order] = sc;
    const int N = static_cast<int>(nodes.size());
    const std::vector<NodeSlicing> each = slice_onto_each_node_set(g, order, nodes, max_blocks, {cin, cout});
    // Every node its own class: the sets are the masks of 1 to max_blocks nodes, in increasing order.
    const std::vector<int> sets = node_sets(N, max_blocks);
    ASSERT_EQ(each.size(), sets.size());
    for (std::size_t e = 0; e < sets.size(); ++e) {
      const int U = sets[e];
      const std::vector<int> members = members_of(U, N);
      const int blocks = static_cast<int>(members.size());
      double brute = std::numeric_limits<double>::infinity();
      for_each_cut_and_assignment(order, members, [&](const std::vector<int>& block_of, const std::vector<int>& node_of_block) {
        const PlacementCosts c = costs_with_client(g, block_of, blocks, nodes, cin, cout);
        double worst = 0;
        for (int b = 0; b < blocks; ++b) worst = std::max(worst, c[b][node_of_block[b]]);
        brute = std::min(brute, worst);
      });
      const NodeSlicing& got = each[e];
      if (!std::isfinite(brute)) {
        EXPECT_EQ(got.blocks, 0) << "trial " << trial << " set " << U;
        EXPECT_TRUE(std::isinf(got.bottleneck_s));
        continue;
      }
      ASSERT_NEAR(got.bottleneck_s, brute, 1e-9 * brute) << "trial " << trial << " set " << U;
      ASSERT_EQ(got.blocks, blocks);
      ASSERT_TRUE(is_acyclic_partition(g, got.block_of, got.blocks));
      std::vector<int> used = got.node_of_block;
      std::sort(used.begin(), used.end());
      EXPECT_EQ(used, members) << "trial " << trial << " set " << U;
      const PlacementCosts c = costs_with_client(g, got.block_of, got.blocks, nodes, cin, cout);
      double placed = 0;
      for (int b = 0; b < got.blocks; ++b) placed = std::max(placed, c[b][got.node_of_block[b]]);
      EXPECT_NEAR(placed, got.bottleneck_s, 1e-9 * placed);
    }
  }
}

// Exhaustive check of the least weighted compute: on 80 random DAGs of 3-7 ops and 1-4 random
// nodes with random weights and a cap between the least and the largest single-node cost, every
// set of nodes gets the slicing minimizing Σ weight x (work + overflow) among those whose every
// block costs at most the cap (brute force over cuts and bijections, costs by block_costs and
// placement_costs), or none when no slicing fits under the cap.
TEST(NodeSlicing, LeastWeightedComputeUnderACapEqualsBruteForce) {
  Rng rng(8086);
  int capped_out = 0, found = 0;
  for (int trial = 0; trial < 80; ++trial) {
    const SlicingCase sc = random_slicing_case(rng, 5);
    const auto& [g, nodes, max_blocks, cin, cout, order] = sc;
    const int n = g.size(), N = static_cast<int>(nodes.size());
    std::vector<double> weight;
    for (int m = 0; m < N; ++m) weight.push_back(rng.uniform(0, 5));
    std::vector<int> whole(static_cast<std::size_t>(n), 0);
    const PlacementCosts alone = costs_with_client(g, whole, 1, nodes, cin, cout);
    const double cap = rng.uniform(0.2, 1.2) * *std::max_element(alone[0].begin(), alone[0].end());
    // compute[b][m] of a slicing: work + overflow of block b on node m (block_costs).
    const auto compute_of = [&](const std::vector<int>& block_of, int blocks) {
      std::vector<std::vector<double>> c(static_cast<std::size_t>(blocks), std::vector<double>(nodes.size()));
      for (int m = 0; m < N; ++m) {
        MtppParams p;
        p.device = nodes[m].rates;
        p.fast_memory_bytes = nodes[m].memory_bytes;
        p.stream_Bps = nodes[m].stream_Bps;
        const auto bc = block_costs(g, block_of, blocks, p);
        for (int b = 0; b < blocks; ++b) c[b][m] = bc[b].work_s + bc[b].overflow_s;
      }
      return c;
    };
    const std::vector<NodeSlicing> each = slice_onto_each_node_set_least_weighted_compute(g, order, nodes, max_blocks, weight, cap, {cin, cout});
    const std::vector<int> sets = node_sets(N, max_blocks);
    ASSERT_EQ(each.size(), sets.size());
    for (std::size_t e = 0; e < sets.size(); ++e) {
      const std::vector<int> members = members_of(sets[e], N);
      const int blocks = static_cast<int>(members.size());
      double brute = std::numeric_limits<double>::infinity();
      for_each_cut_and_assignment(order, members, [&](const std::vector<int>& block_of, const std::vector<int>& node_of_block) {
        const PlacementCosts c = costs_with_client(g, block_of, blocks, nodes, cin, cout);
        const auto w = compute_of(block_of, blocks);
        double sum = 0;
        bool fits = true;
        for (int b = 0; b < blocks; ++b) {
          fits &= c[b][node_of_block[b]] <= cap;
          sum += weight[node_of_block[b]] * w[b][node_of_block[b]];
        }
        if (fits) brute = std::min(brute, sum);
      });
      const NodeSlicing& got = each[e];
      if (!std::isfinite(brute)) {
        EXPECT_EQ(got.blocks, 0) << "trial " << trial << " set " << sets[e];
        ++capped_out;
        continue;
      }
      ++found;
      ASSERT_EQ(got.blocks, blocks) << "trial " << trial << " set " << sets[e];
      ASSERT_TRUE(is_acyclic_partition(g, got.block_of, got.blocks));
      const PlacementCosts c = costs_with_client(g, got.block_of, got.blocks, nodes, cin, cout);
      const auto w = compute_of(got.block_of, got.blocks);
      double sum = 0, worst = 0;
      for (int b = 0; b < got.blocks; ++b) {
        EXPECT_LE(c[b][got.node_of_block[b]], cap * (1 + 1e-12)) << "trial " << trial;
        sum += weight[got.node_of_block[b]] * w[b][got.node_of_block[b]];
        worst = std::max(worst, c[b][got.node_of_block[b]]);
      }
      EXPECT_NEAR(sum, brute, 1e-9 * (brute + 1e-12)) << "trial " << trial << " set " << sets[e];
      EXPECT_NEAR(got.bottleneck_s, worst, 1e-9 * worst);
    }
  }
  EXPECT_GT(capped_out, 10) << "the caps must rule some sets out";
  EXPECT_GT(found, 100);
}

// Interchangeable nodes: on 60 random DAGs, nodes drawn from 2-3 kinds with 1-4 copies each (a
// copy differs only in name and position). Slicing over classes of copies finds the bottleneck of
// slicing over every node apart, and its best slicing onto each count of each kind is the best
// over the sets of distinct nodes with those counts.
TEST(NodeSlicing, ClassesOfInterchangeableNodesGiveTheSameOptimaAsDistinctNodes) {
  Rng rng(4242);
  for (int trial = 0; trial < 60; ++trial) {
    const int n = 3 + static_cast<int>(rng.below(5));
    const ModelGraph g = random_dag(n, 0.35, rng);
    const std::vector<PlacementNode> kinds = random_nodes(2 + static_cast<int>(rng.below(2)), rng);
    std::vector<PlacementNode> nodes;
    for (const PlacementNode& k : kinds)
      for (int c = 1 + static_cast<int>(rng.below(3)); c > 0; --c) {
        nodes.push_back(k);
        nodes.back().name += "-" + std::to_string(c);
        nodes.back().x = rng.uniform(0, 10);  // where it is does not change what eq. 10 charges
      }
    for (std::size_t i = nodes.size(); i > 1; --i) std::swap(nodes[i - 1], nodes[rng.below(i)]);  // Fisher-Yates
    if (nodes.size() > 10) nodes.resize(10);
    const int N = static_cast<int>(nodes.size());
    const int max_blocks = 1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(N)));
    const std::vector<int> classes = interchangeable_classes(nodes);
    int distinct = 0;
    for (const int c : classes) distinct = std::max(distinct, c + 1);
    ASSERT_LE(distinct, static_cast<int>(kinds.size()));
    const std::vector<int> order = g.kahn_order();
    const NodeSlicing apart = slice_onto_nodes(g, order, nodes, max_blocks);
    const NodeSlicing grouped = slice_onto_nodes(g, order, nodes, max_blocks, {}, classes);
    ASSERT_NEAR(grouped.bottleneck_s, apart.bottleneck_s, 1e-12 * apart.bottleneck_s) << "trial " << trial;
    std::vector<int> used = grouped.node_of_block;
    std::sort(used.begin(), used.end());
    EXPECT_EQ(std::adjacent_find(used.begin(), used.end()), used.end()) << "a node runs two blocks";

    // Per count vector: the best over the sets of distinct nodes with those counts.
    const std::vector<NodeSlicing> each_apart = slice_onto_each_node_set(g, order, nodes, max_blocks);
    const std::vector<NodeSlicing> each_grouped = slice_onto_each_node_set(g, order, nodes, max_blocks, {}, classes);
    std::map<std::vector<int>, double> best_by_counts;
    for (const NodeSlicing& s : each_apart) {
      if (s.blocks == 0) continue;
      std::vector<int> counts(static_cast<std::size_t>(distinct), 0);
      for (const int m : s.node_of_block) ++counts[static_cast<std::size_t>(classes[static_cast<std::size_t>(m)])];
      auto [it, fresh] = best_by_counts.emplace(counts, s.bottleneck_s);
      if (!fresh) it->second = std::min(it->second, s.bottleneck_s);
    }
    std::size_t feasible = 0;
    for (const NodeSlicing& s : each_grouped) {
      if (s.blocks == 0) continue;
      ++feasible;
      std::vector<int> counts(static_cast<std::size_t>(distinct), 0);
      for (const int m : s.node_of_block) ++counts[static_cast<std::size_t>(classes[static_cast<std::size_t>(m)])];
      ASSERT_TRUE(best_by_counts.count(counts)) << "trial " << trial;
      EXPECT_NEAR(s.bottleneck_s, best_by_counts[counts], 1e-12 * s.bottleneck_s) << "trial " << trial;
    }
    EXPECT_EQ(feasible, best_by_counts.size()) << "trial " << trial;
  }
}

// Known answers for the classes: copies share a class, a difference in one rate or one extra key
// splits them; 100 copies of one node sliced into at most 8 blocks are 9 sets (0 to 8 of them).
TEST(NodeSlicing, InterchangeableClassesKnownAnswers) {
  Rng rng(7);
  const std::vector<PlacementNode> kinds = random_nodes(2, rng);
  std::vector<PlacementNode> nodes{kinds[0], kinds[1], kinds[0], kinds[0]};
  nodes[3].uplink_Bps *= 2;
  EXPECT_EQ(interchangeable_classes(nodes), (std::vector<int>{0, 1, 0, 2}));
  EXPECT_EQ(interchangeable_classes(nodes, std::vector<int>{5, 5, 6, 5}), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_THROW(interchangeable_classes(nodes, std::vector<int>{1}), std::invalid_argument);
  const std::vector<PlacementNode> hundred(100, kinds[0]);
  const std::vector<int> one_class = interchangeable_classes(hundred);
  EXPECT_EQ(slicing_states(one_class, 100, 8), 9u);
  EXPECT_GT(slicing_states({}, 100, 8), kMaxSlicingStates) << "100 distinct nodes";
  EXPECT_EQ(slicing_states({}, 100, 1), 101u) << "100 distinct nodes, one block: none or one of them (2^100 vectors never visited)";
  EXPECT_EQ(slicing_states({}, 12, 12), 4096u);
  EXPECT_EQ(slicing_states(std::vector<int>{0, 0, 1, 1, 2}, 5, 2), 1u + 3 + 5) << "{} + 3 singles + 2 of one kind or 2 kinds";
  const ModelGraph g = random_dag(12, 0.3, rng);
  const NodeSlicing s = slice_onto_nodes(g, g.kahn_order(), hundred, 8, {}, one_class);
  const NodeSlicing eight = slice_onto_nodes(g, g.kahn_order(), std::vector<PlacementNode>(8, kinds[0]), 8);
  EXPECT_NEAR(s.bottleneck_s, eight.bottleneck_s, 1e-12 * eight.bottleneck_s);
  EXPECT_LE(s.blocks, 8);
}

// The block-major order keeps every block of an acyclic partition contiguous, so slicing it onto
// one node per block can reproduce the partition: never worse than placing the partition.
TEST(NodeSlicing, BlockMajorOrderKeepsBlocksContiguous) {
  Rng rng(99);
  for (int trial = 0; trial < 30; ++trial) {
    const ModelGraph g = random_dag(12, 0.3, rng);
    MtppParams p;
    p.device.flops_per_s = 4;
    p.link_Bps = 20;
    const Partition part = partition_graph(g, 4, Method::SliceGraph, p);
    const std::vector<int> order = block_major_order(g, part.block_of);
    ASSERT_TRUE(g.is_topological(order));
    for (int q = 1; q < g.size(); ++q) ASSERT_LE(part.block_of[order[q - 1]], part.block_of[order[q]]) << "trial " << trial;
    const std::vector<PlacementNode> nodes = random_nodes(part.blocks, rng);
    const Placement placed = place_optimal(placement_costs(g, part, nodes));
    EXPECT_LE(slice_onto_nodes(g, order, nodes, part.blocks).bottleneck_s, placed.bottleneck_s * (1 + 1e-12));
  }
}

TEST(NodeSlicing, RejectsBadInput) {
  const ModelGraph g = hand_graph();
  Rng rng(1);
  const auto nodes = random_nodes(2, rng);
  EXPECT_THROW(slice_onto_nodes(g, std::vector<int>{3, 2, 1, 0}, nodes, 2), std::invalid_argument);
  EXPECT_THROW(slice_onto_nodes(g, g.kahn_order(), {}, 2), std::invalid_argument);
  EXPECT_THROW(slice_onto_nodes(g, g.kahn_order(), random_nodes(13, rng), 13), std::invalid_argument) << "8,192 sets of 13 distinct nodes";
  EXPECT_THROW(slice_onto_nodes(g, g.kahn_order(), nodes, 2, {}, std::vector<int>{0, 2}), std::invalid_argument) << "class 1 has no node";
  EXPECT_THROW(slice_onto_nodes(g, g.kahn_order(), nodes, 2, {}, std::vector<int>{0}), std::invalid_argument) << "one class per node";
  EXPECT_THROW(slice_onto_nodes(g, g.kahn_order(), nodes, 0), std::invalid_argument);
  EXPECT_THROW(slice_onto_each_node_set(g, g.kahn_order(), random_nodes(13, rng), 13), std::invalid_argument);
  EXPECT_THROW(slice_onto_each_node_set(g, std::vector<int>{3, 2, 1, 0}, nodes, 2), std::invalid_argument);
  EXPECT_THROW(slice_onto_each_node_set_least_weighted_compute(g, g.kahn_order(), nodes, 2, std::vector<double>{1.0}, 1.0),
               std::invalid_argument) << "one weight per node";
  EXPECT_THROW(slice_onto_each_node_set_least_weighted_compute(g, g.kahn_order(), nodes, 2, std::vector<double>{1.0, -1.0}, 1.0),
               std::invalid_argument) << "a negative weight";
  EXPECT_THROW(slice_onto_each_node_set_least_weighted_compute(g, g.kahn_order(), {nodes[0], nodes[0]}, 2, std::vector<double>{1.0, 2.0}, 1.0,
                                                               {}, std::vector<int>{0, 0}),
               std::invalid_argument) << "weights differ within a class";
}

// Costs that overflow (an op's output of 1e308 bytes, summed with others into infinity) give a
// clear error, not a crash; the graph file loader refuses such sizes before they get here.
TEST(SliceGraph, OverflowingCostsAreAnErrorNotACrash) {
  ModelGraph g("overflow", {make_op("a", 1, 0, 1e308), make_op("b", 2, 0, 1e308), make_op("c", 3, 0, 1e308)},
               {{0, 1}, {1, 2}, {0, 2}});
  for (const int k : {1, 2, 3}) {
    try {
      const Slicing s = slice_graph(g, g.kahn_order(), k, hand_params());
      EXPECT_FALSE(std::isfinite(s.bottleneck_s)) << "k = " << k;  // a slicing, if any, must say it is infinite
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("no slicing with a finite bottleneck"), std::string::npos) << e.what();
    }
  }
}
