// Node stability from PH0 and the reliability multiplier (topology/stability.hpp).
#include <gtest/gtest.h>

#include <cmath>

#include "tests/topology/metric_snapshots.hpp"
#include "topology/stability.hpp"

using namespace swarmsim::topology;
using namespace swarmsim::topology::testing;

// Three nodes on a line:   v0 -1- v1 ----2---- v2     (v0-v2 = 3)
// H0 merges: {v0, v1} at 1, everything at 2. With N = 3:
//   T = 2 (the last merge): s0 = s1 = (1*1 + 2*1) / (2*3) = 1/2,  s2 = (1*2) / (2*3) = 1/3
//   T = 4:                  s0 = s1 = (1*1 + 2*1 + 3*2) / (4*3) = 3/4,  s2 = (1*2 + 3*2) / 12 = 2/3
TEST(Stability, KnownAnswerOnALine) {
  SwarmSnapshot s = bare_snapshot(3);
  link(s, 0, 1, 1.0);
  link(s, 1, 2, 2.0);
  link(s, 0, 2, 3.0);
  const SwarmGraph g = build_swarm_graph(s, distance_weights());
  const std::vector<double> a = snapshot_stability(g, 3);
  EXPECT_DOUBLE_EQ(a[0], 0.5);
  EXPECT_DOUBLE_EQ(a[1], 0.5);
  EXPECT_DOUBLE_EQ(a[2], 1.0 / 3);
  StabilityParams fixed;
  fixed.scale_s = 4.0;
  const std::vector<double> b = snapshot_stability(g, 3, fixed);
  EXPECT_DOUBLE_EQ(b[0], 0.75);
  EXPECT_DOUBLE_EQ(b[2], 2.0 / 3);
  // A window that ends before the second merge: v2 never joins.
  fixed.scale_s = 1.5;
  const std::vector<double> c = snapshot_stability(g, 3, fixed);
  EXPECT_DOUBLE_EQ(c[0], (1 * 1 + 2 * 0.5) / (1.5 * 3));
  EXPECT_DOUBLE_EQ(c[2], 1.0 / 3);
}

TEST(Stability, DownNodeScoresZero) {
  SwarmSnapshot s = bare_snapshot(3);
  link(s, 0, 1, 1.0);
  s.nodes[2].up = false;
  const std::vector<double> a = snapshot_stability(build_swarm_graph(s, distance_weights()), 3);
  EXPECT_DOUBLE_EQ(a[2], 0.0);
  EXPECT_GT(a[0], 0.0);
}

// Ten nodes on a small ring (neighbours 0.1 apart) and a flapping node "v10" that sits next to
// v0 in odd snapshots and 50 away from everybody in even ones.
TEST(Stability, FlappingNodeGetsALowerMultiplier) {
  StabilityHistory history({}, distance_weights());
  for (int k = 0; k < 20; ++k) {
    std::vector<std::pair<double, double>> pts;
    for (int i = 0; i < 10; ++i) pts.emplace_back(0.1 * i, 0.01 * (i % 2));
    pts.emplace_back(k % 2 ? -0.1 : -50.0, 0.0);
    history.add(point_snapshot(pts, 10.0 * k));
  }
  EXPECT_EQ(history.snapshots(), 20);
  const auto m = history.multipliers();
  ASSERT_EQ(m.size(), 11u);
  double best = 0.0;
  for (const auto& [name, v] : m) {
    EXPECT_GE(v, 0.0);
    EXPECT_LE(v, 1.0);
    best = std::max(best, v);
  }
  EXPECT_DOUBLE_EQ(best, 1.0);
  for (int i = 0; i < 10; ++i) EXPECT_LT(m.at("v10"), m.at("v" + std::to_string(i)) - 0.2) << "v" << i;
  EXPECT_DOUBLE_EQ(history.multiplier("v10"), m.at("v10"));
  EXPECT_DOUBLE_EQ(history.multiplier("nobody"), 0.0);
}

TEST(Stability, HalfLifeWeighsRecentSnapshotsMore) {
  // v2 is far in the first snapshot (s2 = 1/3) and the nearest to v1 in the second, 100 s later
  // (merges at 0.5 and 1: s2 = (1 * 0.5 + 2 * 0.5) / (1 * 3) = 1/2).
  StabilityParams p;
  p.half_life_s = 10.0;
  StabilityHistory recent(p, distance_weights()), flat({}, distance_weights());
  for (double far : {100.0, 0.5}) {
    SwarmSnapshot s = bare_snapshot(3, far == 100.0 ? 0.0 : 100.0);
    link(s, 0, 1, 1.0);
    link(s, 1, 2, far);
    recent.add(s);
    flat.add(s);
  }
  EXPECT_GT(recent.stability("v2"), flat.stability("v2"));
  SwarmSnapshot older = bare_snapshot(3, 50.0);
  EXPECT_THROW(recent.add(older), std::invalid_argument);
}
