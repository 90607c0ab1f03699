#include <gtest/gtest.h>

#include "gpu/shard_cost_model.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/block_assignment.hpp"

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
