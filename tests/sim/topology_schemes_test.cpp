// Topology states and precomputed schemes (seed 002, section 2.7), without SimGrid.
#include <gtest/gtest.h>

#include "gpu/shard_cost_model.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/topology_schemes.hpp"

using namespace swarmsim::sim;

namespace {
Scenario unstable() { return load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/topology/unstable-region.json"); }
}  // namespace

TEST(TopologySchemes, SnapshotFollowsTheReplayedEvents) {
  const Scenario sc = unstable();
  // At 50 s ist-0 and ist-1 are down (40 s .. 65 s): 6 servers up, links among them only.
  const auto snap = scenario_snapshot(sc, 50.0);
  ASSERT_EQ(snap.nodes.size(), 8u);
  int up = 0;
  for (const auto& n : snap.nodes) up += n.up;
  EXPECT_EQ(up, 6);
  EXPECT_FALSE(snap.nodes[4].up);
  EXPECT_FALSE(snap.nodes[5].up);
  EXPECT_EQ(snap.links.size(), 15u);  // C(6, 2)
  EXPECT_EQ(scenario_snapshot(sc, 30.0).links.size(), 28u);  // all up before the first drop
}

TEST(TopologySchemes, SchemeThroughputIsTheWeakestBlock) {
  const Scenario sc = unstable();
  const swarmsim::gpu::RooflineCostModel cost;
  const double one = server_throughput(sc.nodes[0], sc.model, cost);
  std::vector<BlockRange> ranges(8, BlockRange{0, 0});
  ranges[0] = {0, 16};
  ranges[1] = {16, 32};
  ranges[2] = {0, 16};
  std::vector<char> up(8, 1);
  // Blocks 16-31: one server. Block sums count micro-tokens/s (BlockLoad), hence the 1e-6.
  EXPECT_NEAR(scheme_throughput(sc, cost, ranges, up), one, 1e-6);
  up[1] = 0;
  EXPECT_DOUBLE_EQ(scheme_throughput(sc, cost, ranges, up), 0.0);  // uncovered
  // The assignment for the up servers covers every block when they can.
  std::vector<char> all(8, 1);
  EXPECT_GT(scheme_throughput(sc, cost, assign_for_up_servers(sc, cost, all), all), 0.0);
}

TEST(TopologySchemes, PlanFindsStatesAndASchemeForEach) {
  const Scenario sc = unstable();
  const swarmsim::gpu::RooflineCostModel cost;
  const TopologyPlan plan = plan_topology(sc, cost, 10.0, 3);
  EXPECT_EQ(plan.states.states(), 3);
  ASSERT_EQ(plan.schemes.size(), 3u);
  // The snapshot with everybody up and one with two Istanbul nodes down are different states,
  // and each state's scheme serves every block with the servers of its state's snapshots.
  const int calm = plan.states.classify(snapshot_features(plan, scenario_snapshot(sc, 30.0)));
  const int rough = plan.states.classify(snapshot_features(plan, scenario_snapshot(sc, 50.0)));
  EXPECT_NE(calm, rough);
  for (const ShardingScheme& s : plan.schemes) {
    std::vector<char> up(8, 0);
    for (std::size_t i = 0; i < 8; ++i) up[i] = !s.ranges[i].empty();
    EXPECT_GT(scheme_throughput(sc, cost, s.ranges, up), 0.0);
  }
}
