#include <gtest/gtest.h>

#include <cmath>

#include "gpu/shard_cost_model.hpp"
#include "sim/rng.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/swarm_state.hpp"
#include "tests/sim/forty_auto_servers.hpp"

using namespace swarmsim::sim;

TEST(BlockAssignment, LeastServedWindowIsLexicographicallySmallestSortedWindow) {
  // Blocks 0..5 with throughputs; windows of 2: [5,5] [5,0] [0,0] [0,3] [3,3]. Sorted: (5,5) (0,5)
  // (0,0) (0,3) (3,3): the smallest is (0,0), starting at block 2.
  EXPECT_EQ(choose_least_served_start({5, 5, 0, 0, 3, 3}, 2), 2);
  // Ties keep the lowest start.
  EXPECT_EQ(choose_least_served_start({0, 0, 0, 0}, 2), 0);
  // A window as long as the model starts at 0.
  EXPECT_EQ(choose_least_served_start({1, 2, 3}, 3), 0);
  // Two windows with the same minimum: the second-smallest element decides, (1,4) < (1,9).
  EXPECT_EQ(choose_least_served_start({9, 1, 4}, 2), 1);
}

TEST(BlockAssignment, ThroughputsSumOverCoveringServers) {
  std::vector<ServedRange> servers{{{0, 3}, 2.0}, {{2, 5}, 1.0}};
  EXPECT_EQ(block_throughputs(5, servers), (std::vector<double>{2, 2, 3, 1, 1}));
}

TEST(BlockAssignment, UncoveredBlocksAreGroupedIntoRuns) {
  std::vector<BlockRange> ranges{{0, 4}, {6, 7}};
  const auto gaps = uncovered_blocks(10, ranges);
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_EQ(gaps[0], (BlockRange{4, 6}));
  EXPECT_EQ(gaps[1], (BlockRange{7, 10}));
}

TEST(BlockAssignment, AutoNodesSpreadOverTheModel) {
  // Four L4 nodes capped at 8 blocks each of Llama-3-8B's 32: each joins on the least-served
  // window, so together they cover the model exactly once.
  Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json");
  NodeSpec n = sc.nodes[0];
  n.blocks.reset();
  n.max_blocks = 8;
  sc.nodes.assign(4, n);
  swarmsim::gpu::RooflineCostModel cost;
  const auto ranges = plan_initial_blocks(sc, cost);
  ASSERT_EQ(ranges.size(), 4u);
  EXPECT_EQ(ranges[0], (BlockRange{0, 8}));
  EXPECT_EQ(ranges[1], (BlockRange{8, 16}));
  EXPECT_EQ(ranges[2], (BlockRange{16, 24}));
  EXPECT_EQ(ranges[3], (BlockRange{24, 32}));
  EXPECT_TRUE(uncovered_blocks(32, ranges).empty());
}

TEST(BlockAssignment, MemorySizingOfAutoNodes) {
  Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json");
  NodeSpec n = sc.nodes[0];
  n.device = swarmsim::gpu::find_device("GTX-1650");
  n.blocks.reset();
  // GTX 1650: 4 GiB - 512 MiB runtime = 3.5 GiB = 3758096384 B usable; one Llama-3-8B block is
  // 218,112,000 params * 2 B = 436,224,000 B of weights plus 16384 tokens * 4096 B = 67,108,864 B of
  // KV budget: 503,332,864 B per block -> 7 blocks.
  EXPECT_DOUBLE_EQ(sc.model.block_params(), 218112000.0);
  EXPECT_EQ(blocks_that_fit(n, sc.model, sc.overheads), 7);
  n.max_blocks = 3;
  EXPECT_EQ(blocks_that_fit(n, sc.model, sc.overheads), 3);
}

// Block sums are exact: the same servers in any order give bit-equal throughputs, and removing a
// server gives exactly the sum of the others (so a swarm can keep them current at each change).
TEST(BlockLoad, SumsDoNotDependOnOrderAndRemovalIsExact) {
  Rng rng(5);
  std::vector<ServedRange> servers;
  for (int i = 0; i < 300; ++i) {
    const int start = static_cast<int>(rng.below(28));
    servers.push_back({{start, start + 1 + static_cast<int>(rng.below(4))}, 0.1 + 1000.0 * rng.uniform()});
  }
  const std::vector<double> forward = block_throughputs(32, servers);
  std::vector<ServedRange> reversed(servers.rbegin(), servers.rend());
  EXPECT_EQ(block_throughputs(32, reversed), forward);
  // Against plain double sums: equal to the rounding of each throughput to 1e-6 tokens/s.
  std::vector<double> naive(32, 0.0);
  for (const ServedRange& s : servers)
    for (int b = s.range.start; b < s.range.end; ++b) naive[static_cast<std::size_t>(b)] += s.throughput;
  for (int b = 0; b < 32; ++b) EXPECT_NEAR(forward[static_cast<std::size_t>(b)], naive[static_cast<std::size_t>(b)], 300 * 1e-6);
  // Remove server 17 from the whole load: equals the load built without it.
  BlockLoad load(32);
  for (const ServedRange& s : servers) load.add(s.range, s.throughput);
  load.remove(servers[17].range, servers[17].throughput);
  std::vector<ServedRange> others = servers;
  others.erase(others.begin() + 17);
  EXPECT_EQ(load.tokens_per_s(), block_throughputs(32, others));
  // Out-of-model blocks are ignored; a negative or NaN throughput counts as 0.
  BlockLoad edge(4);
  edge.add({-2, 6}, 1.5);
  edge.add({0, 4}, -3.0);
  edge.add({0, 4}, std::nan(""));
  EXPECT_EQ(edge.tokens_per_s(), (std::vector<double>{1.5, 1.5, 1.5, 1.5}));
}

// The swarm keeps the load of its servers assigned and up current through joins, failures,
// restarts and moves; it must always equal the sum over those servers computed afresh.
TEST(BlockLoad, SwarmKeepsTheLoadOfAssignedServersCurrent) {
  const Scenario sc = swarmsim::test::forty_auto_servers();
  swarmsim::gpu::RooflineCostModel cost;
  SwarmState swarm(sc, cost);
  Rng rng(9);
  for (int step = 0; step < 400; ++step) {
    const int i = static_cast<int>(rng.below(40));
    const double u = rng.uniform();
    if (u < 0.4)
      swarm.assign_blocks(i);
    else if (u < 0.6)
      swarm.host_down(i, step);
    else if (u < 0.8)
      swarm.host_up(i, step);
    else if (swarm[i].assigned) {
      const int start = static_cast<int>(rng.below(static_cast<std::uint64_t>(33 - swarm[i].blocks.size())));
      swarm.begin_move(i, {start, start + swarm[i].blocks.size()});
    }
    std::vector<ServedRange> served;
    for (int j = 0; j < 40; ++j)
      if (swarm[j].assigned && swarm[j].up) served.push_back({swarm[j].blocks, swarm.throughput(j)});
    ASSERT_EQ(swarm.assigned_up_load().tokens_per_s(), block_throughputs(32, served)) << "step " << step;
  }
}
