// The weighted swarm graph (topology/swarm_graph.hpp).
#include <gtest/gtest.h>

#include <cmath>

#include "tests/topology/metric_snapshots.hpp"
#include "topology/swarm_graph.hpp"

using namespace swarmsim::topology;
using namespace swarmsim::topology::testing;

TEST(SwarmGraph, EdgeWeightByHand) {
  SwarmGraphParams p;  // D = 8192 B, F_ref = 1e14 FLOP/s, eta = 0.5
  // 10 ms + 8192 B / 1 MB/s = 18.192 ms, at the reference speed.
  EXPECT_NEAR(edge_weight_s(0.010, 1e6, 1e14, 1e14, p), 0.018192, 1e-15);
  // Both ends 4x slower than the reference: (1e14 / 25e12)^0.5 = 2.
  EXPECT_NEAR(edge_weight_s(0.010, 1e6, 25e12, 25e12, p), 0.036384, 1e-15);
  // One end 16x slower: sqrt(F_u F_v) = 25e12 again.
  EXPECT_NEAR(edge_weight_s(0.010, 1e6, 1e14, 6.25e12, p), 0.036384, 1e-15);
  EXPECT_TRUE(std::isinf(edge_weight_s(0.010, 0.0, 1e14, 1e14, p)));
  EXPECT_TRUE(std::isinf(edge_weight_s(0.010, 1e6, 0.0, 1e14, p)));
  p.compute_exponent = 0.0;
  EXPECT_NEAR(edge_weight_s(0.010, 1e6, 0.0, 1e14, p), 0.018192, 1e-15);  // compute ignored
}

TEST(SwarmGraph, SkipsDownNodesAndKeepsTheLighterDuplicate) {
  SwarmSnapshot s = bare_snapshot(4);
  s.nodes[3].up = false;
  link(s, 0, 1, 0.5);
  link(s, 1, 0, 0.2);  // the same pair again, lighter
  link(s, 1, 2, 0.3);
  link(s, 2, 3, 0.1);  // to a down node
  link(s, 0, 7, 0.1);  // out of range
  const SwarmGraph g = build_swarm_graph(s, distance_weights());
  ASSERT_EQ(boost::num_vertices(g), 3u);
  const std::vector<WeightedEdge> e = sorted_edges(g);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].u, 0);
  EXPECT_EQ(e[0].v, 1);
  EXPECT_DOUBLE_EQ(e[0].weight_s, 0.2);
  EXPECT_DOUBLE_EQ(e[1].weight_s, 0.3);
  EXPECT_EQ(g[2].snapshot_index, 2);

  link(s, 1, 1, 0.1);
  EXPECT_THROW(build_swarm_graph(s, distance_weights()), std::invalid_argument);
}

TEST(SwarmGraph, NearestNeighboursKeepsEachVertexsLightestEdges) {
  // Points on a line at 0, 1, 2, ..., 9, all pairs: with k = 1 every vertex keeps the edge to a
  // nearest neighbour, so the graph is the path 0-1-...-9 (ties go to the lower vertex index).
  std::vector<std::pair<double, double>> pts;
  for (int i = 0; i < 10; ++i) pts.emplace_back(i, 0.0);
  SwarmGraphParams p = distance_weights();
  p.nearest_neighbours = 1;
  const std::vector<WeightedEdge> e = sorted_edges(build_swarm_graph(point_snapshot(pts), p));
  ASSERT_EQ(e.size(), 9u);
  for (const WeightedEdge& x : e) EXPECT_DOUBLE_EQ(x.weight_s, 1.0);
  p.nearest_neighbours = 0;
  const SwarmGraph full = build_swarm_graph(point_snapshot(pts), p);
  EXPECT_EQ(boost::num_edges(full), 45u);
  EXPECT_DOUBLE_EQ(edge_weight_quantile(full, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(edge_weight_quantile(full, 1.0), 9.0);
}
