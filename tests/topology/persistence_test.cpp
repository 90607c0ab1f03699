// Known-answer tests of the flag filtration and its persistence (topology/persistence.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "sim/rng.hpp"
#include "tests/topology/metric_snapshots.hpp"
#include "topology/persistence.hpp"

using namespace swarmsim::topology;
using namespace swarmsim::topology::testing;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

PersistenceResult persistence_of(const SwarmSnapshot& s, FiltrationParams p = {}) {
  return compute_persistence(build_swarm_graph(s, distance_weights()), p);
}

void expect_diagram(const PersistenceDiagram& got, const PersistenceDiagram& want) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_DOUBLE_EQ(got[i].birth, want[i].birth) << "pair " << i;
    EXPECT_EQ(got[i].essential(), want[i].essential()) << "pair " << i;
    if (!want[i].essential()) {
      EXPECT_DOUBLE_EQ(got[i].death, want[i].death) << "pair " << i;
    }
  }
}

int count_longer_than(const PersistenceDiagram& d, double lifetime) {
  int n = 0;
  for (const PersistencePair& p : d) n += p.lifetime() > lifetime ? 1 : 0;
  return n;
}
}  // namespace

// Seed 002, Figure 4: three nodes on an equilateral triangle of side 1.
//
//        v2
//       /  \          scale 0: three components (beta0 = 3)
//      1    1         scale 1: the three edges AND the triangle enter together
//     /      \        (edges and face: all at scale 1)
//   v0 --1-- v1
//
// H0: three classes born at 0; two die at 1 (the merges), one lives forever.
// H1: in the Rips complex the cycle v0-v1-v2 is born at 1 and filled by the triangle at 1, a
// zero-length pair on the diagonal. GUDHI (min_interval_length = 0) drops pairs of length 0,
// and a diagram, being a multiset of points off the diagonal, does not have it either: H1 is
// empty. (Figure 4 draws growing discs, the Cech complex, where the hole lives from radius 1/2 to
// the circumradius 1/sqrt(3); in the Rips complex it has no room to live.)
TEST(Persistence, EquilateralTriangleFigure4) {
  SwarmSnapshot s = bare_snapshot(3);
  link(s, 0, 1, 1.0);
  link(s, 1, 2, 1.0);
  link(s, 0, 2, 1.0);
  const PersistenceResult r = persistence_of(s);
  expect_diagram(r.h0, {{0, 1}, {0, 1}, {0, kInf}});
  EXPECT_TRUE(r.h1.empty());
  EXPECT_EQ(r.simplices, 7u);  // 3 vertices, 3 edges, 1 triangle
}

// A hexagon with unit edges.
//
//      v1 --- v2
//     /         \        graph distances: neighbours 1, second neighbours 2, opposite 3
//   v0           v3
//     \         /
//      v5 --- v4
TEST(Persistence, HexagonWithGraphMetricFillsAtTwo) {
  SwarmSnapshot s = bare_snapshot(6);
  for (int i = 0; i < 6; ++i) link(s, i, (i + 1) % 6, 1.0);
  FiltrationParams p;
  p.geodesic = true;
  const PersistenceResult r = persistence_of(s, p);
  // Rips of the graph metric: the cycle is born at 1; at 2 every vertex sees all but its
  // opposite (an octahedron), whose triangles fill the cycle (and open a 2-sphere, not reported).
  expect_diagram(r.h1, {{1, 2}});
  expect_diagram(r.h0, {{0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, 1}, {0, kInf}});
}

TEST(Persistence, HexagonOfLinksOnlyNeverFills) {
  // Without the geodesic closure the flag complex has no triangle: the cycle is essential.
  SwarmSnapshot s = bare_snapshot(6);
  for (int i = 0; i < 6; ++i) link(s, i, (i + 1) % 6, 1.0);
  const PersistenceResult r = persistence_of(s);
  expect_diagram(r.h1, {{1, kInf}});
}

// Two squares of side 0.1, 10 apart.
//
//   a0 a1                     b0 b1
//   a3 a2  <----- 10 ----->   b3 b2
TEST(Persistence, TwoFarClustersHaveTwoLongLivedComponents) {
  std::vector<std::pair<double, double>> pts;
  for (double x0 : {0.0, 10.1})
    for (auto [dx, dy] : {std::pair{0.0, 0.0}, {0.1, 0.0}, {0.1, 0.1}, {0.0, 0.1}}) pts.emplace_back(x0 + dx, dy);
  const PersistenceResult r = persistence_of(point_snapshot(pts));
  ASSERT_EQ(r.h0.size(), 8u);
  EXPECT_EQ(count_longer_than(r.h0, 1.0), 2);
  EXPECT_TRUE(r.h0.back().essential());
  EXPECT_NEAR(r.h0[r.h0.size() - 2].death, 10.0, 1e-12);  // the inter-cluster distance (a1-b0, a2-b3)
  for (std::size_t i = 0; i + 2 < r.h0.size(); ++i) EXPECT_NEAR(r.h0[i].death, 0.1, 1e-12);
  // Each square is a cycle from its side 0.1 to its diagonal 0.1*sqrt(2). The bridge adds a
  // third, thin one: at 10 the edges a1-b0 and a2-b3 close the 0.1 x 10 rectangle a1-b0-b3-a2,
  // which its diagonal a1-b3 = sqrt(10^2 + 0.1^2) fills.
  ASSERT_EQ(r.h1.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_NEAR(r.h1[static_cast<std::size_t>(i)].birth, 0.1, 1e-12);
    EXPECT_NEAR(r.h1[static_cast<std::size_t>(i)].death, 0.1 * std::sqrt(2.0), 1e-12);
  }
  EXPECT_NEAR(r.h1[2].birth, 10.0, 1e-12);
  EXPECT_NEAR(r.h1[2].death, std::hypot(10.0, 0.1), 1e-12);

  // Below the inter-cluster distance both components stay alive: two essential classes.
  FiltrationParams bounded;
  bounded.max_scale_s = 5.0;
  const PersistenceResult b = persistence_of(point_snapshot(pts), bounded);
  EXPECT_EQ(count_longer_than(b.h0, 1.0), 2);
  EXPECT_TRUE(b.h0[b.h0.size() - 1].essential() && b.h0[b.h0.size() - 2].essential());
}

TEST(Persistence, EdgeCollapseKeepsTheDiagrams) {
  swarmsim::sim::Rng rng(5);
  std::vector<std::pair<double, double>> pts;
  for (int i = 0; i < 80; ++i) pts.emplace_back(rng.uniform(), rng.uniform());
  FiltrationParams plain, collapsed;
  plain.max_scale_s = collapsed.max_scale_s = 0.3;
  collapsed.collapse_edges = true;
  const PersistenceResult a = persistence_of(point_snapshot(pts), plain);
  const PersistenceResult b = persistence_of(point_snapshot(pts), collapsed);
  EXPECT_LT(b.edges_kept, a.edges_kept);
  EXPECT_EQ(a.edges_in, b.edges_in);
  expect_diagram(b.h0, a.h0);
  expect_diagram(b.h1, a.h1);
}

TEST(Persistence, CoefficientFieldMustBePrime) {
  SwarmSnapshot s = bare_snapshot(3);
  link(s, 0, 1, 1.0);
  FiltrationParams p;
  p.coefficient_field = 11;
  EXPECT_EQ(persistence_of(s, p).h0.size(), 3u);
  p.coefficient_field = 4;
  EXPECT_THROW(persistence_of(s, p), std::invalid_argument);
}

TEST(Persistence, DownNodesAreNotInTheComplex) {
  SwarmSnapshot s = bare_snapshot(3);
  link(s, 0, 1, 1.0);
  link(s, 1, 2, 1.0);
  s.nodes[2].up = false;
  const PersistenceResult r = persistence_of(s);
  EXPECT_EQ(r.vertices, 2);
  expect_diagram(r.h0, {{0, 1}, {0, kInf}});
}

TEST(Persistence, EmptyAndSingleNodeSwarms) {
  const PersistenceResult empty = persistence_of(bare_snapshot(0));
  EXPECT_TRUE(empty.h0.empty());
  EXPECT_TRUE(empty.h1.empty());
  const PersistenceResult one = persistence_of(bare_snapshot(1));
  expect_diagram(one.h0, {{0, kInf}});
  EXPECT_TRUE(one.h1.empty());
}
