// Features of persistence diagrams (topology/ph_features.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "sim/rng.hpp"
#include "tests/topology/metric_snapshots.hpp"
#include "topology/ph_features.hpp"

using namespace swarmsim::topology;
using namespace swarmsim::topology::testing;

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

double feature(const FeatureVector& f, const FeatureParams& p, const std::string& name) {
  const std::vector<std::string> names = feature_names(p);
  const auto it = std::find(names.begin(), names.end(), name);
  if (it == names.end()) throw std::out_of_range("no feature " + name);
  return f[static_cast<std::size_t>(it - names.begin())];
}

FeatureVector features_of(const SwarmSnapshot& s, const FeatureParams& p, const SwarmGraphParams& g = distance_weights()) {
  return diagram_features(compute_persistence(build_swarm_graph(s, g)), p);
}
}  // namespace

TEST(PhFeatures, NamesMatchValues) {
  FeatureParams p;
  p.grid_points = 5;
  p.landscape_levels = 2;
  const FeatureVector f = diagram_features({}, {}, p);
  EXPECT_EQ(f.size(), feature_names(p).size());
  EXPECT_EQ(f.size(), 2u * (5 + 5 + 2 * 5));
  EXPECT_EQ(feature_names(p)[0], "betti0_00");
  EXPECT_EQ(feature_names(p).back(), "landscape1_2_04");
  p.grid_points = 1;
  EXPECT_THROW(feature_names(p), std::invalid_argument);
}

TEST(PhFeatures, TriangleKnownValues) {
  // H0 = {(0,1), (0,1), (0,inf)}, H1 = {} (persistence_test.cpp), window [0, 2] on 5 points.
  FeatureParams p;
  p.scale_max_s = 2.0;
  p.grid_points = 5;  // t = 0, 0.5, 1, 1.5, 2
  p.landscape_levels = 2;
  const PersistenceDiagram h0{{0, 1}, {0, 1}, {0, kInf}};
  const FeatureVector f = diagram_features(h0, {}, p);
  EXPECT_EQ(feature(f, p, "betti0_00"), 3);
  EXPECT_EQ(feature(f, p, "betti0_01"), 3);
  EXPECT_EQ(feature(f, p, "betti0_02"), 1);  // at t = 1 the two merges have happened
  EXPECT_EQ(feature(f, p, "count0"), 2);
  EXPECT_EQ(feature(f, p, "essential0"), 1);
  EXPECT_DOUBLE_EQ(feature(f, p, "total_persistence0"), 1 + 1 + 2);  // inf truncated to the window end
  EXPECT_DOUBLE_EQ(feature(f, p, "max_persistence0"), 2);
  EXPECT_NEAR(feature(f, p, "entropy0"), -(2 * 0.25 * std::log(0.25) + 0.5 * std::log(0.5)), 1e-12);
  // Tents: (0,1) -> min(t, 1-t); (0,2) -> min(t, 2-t). At t = 0.5: 0.5, 0.5, 0.5.
  EXPECT_DOUBLE_EQ(feature(f, p, "landscape0_1_01"), 0.5);
  EXPECT_DOUBLE_EQ(feature(f, p, "landscape0_2_01"), 0.5);
  EXPECT_DOUBLE_EQ(feature(f, p, "landscape0_1_02"), 1.0);  // t = 1: only the essential class
  EXPECT_DOUBLE_EQ(feature(f, p, "landscape0_2_02"), 0.0);
  EXPECT_DOUBLE_EQ(feature(f, p, "landscape0_1_03"), 0.5);
  EXPECT_EQ(feature(f, p, "betti1_00"), 0);
  EXPECT_EQ(feature(f, p, "entropy1"), 0);
}

TEST(PhFeatures, InvariantUnderNodeRelabelling) {
  swarmsim::sim::Rng rng(3);
  SwarmSnapshot s;
  for (int i = 0; i < 40; ++i)
    s.nodes.push_back({"n" + std::to_string(i), {rng.uniform(-40, 60), rng.uniform(-120, 140)}, rng.uniform(2e13, 3e14), true});
  for (int i = 0; i < 40; ++i)
    for (int j = i + 1; j < 40; ++j)
      s.links.push_back({i, j, great_circle_km(s.nodes[static_cast<std::size_t>(i)].location, s.nodes[static_cast<std::size_t>(j)].location) / 1e5 + 0.004,
                         rng.uniform(1e7, 1.25e8)});
  // The same swarm with nodes listed in another order (and links listed in another order).
  std::vector<int> perm(40);
  std::iota(perm.begin(), perm.end(), 0);
  for (int i = 39; i > 0; --i) std::swap(perm[static_cast<std::size_t>(i)], perm[rng.below(static_cast<std::uint64_t>(i) + 1)]);
  SwarmSnapshot t;
  t.nodes.resize(40);
  for (int i = 0; i < 40; ++i) t.nodes[static_cast<std::size_t>(perm[static_cast<std::size_t>(i)])] = s.nodes[static_cast<std::size_t>(i)];
  for (auto it = s.links.rbegin(); it != s.links.rend(); ++it)
    t.links.push_back({perm[static_cast<std::size_t>(it->b)], perm[static_cast<std::size_t>(it->a)], it->latency_s, it->bandwidth_Bps});

  FeatureParams p;
  p.scale_max_s = 0.2;
  const FeatureVector a = features_of(s, p, {}), b = features_of(t, p, {});
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-12) << feature_names(p)[i];
  EXPECT_GT(feature(a, p, "count1"), 0);  // the test is not vacuous: there are cycles
}

TEST(PhFeatures, CuttingALinkChangesThem) {
  FeatureParams p;
  p.scale_max_s = 4.0;
  // A ring of six links: one essential cycle. Cut one link: a path, no cycle.
  SwarmSnapshot ring = bare_snapshot(6);
  for (int i = 0; i < 6; ++i) link(ring, i, (i + 1) % 6, 1.0);
  SwarmSnapshot cut = ring;
  cut.links.pop_back();
  const FeatureVector a = features_of(ring, p), b = features_of(cut, p);
  EXPECT_EQ(feature(a, p, "essential1"), 1);
  EXPECT_EQ(feature(b, p, "essential1"), 0);
  EXPECT_NE(a, b);

  // Two triangles joined by one bridge. Raising the bridge's latency far beyond the window leaves
  // two components alive at its end: H0 changes.
  SwarmSnapshot bridged = bare_snapshot(6);
  for (int base : {0, 3}) {
    link(bridged, base, base + 1, 0.5);
    link(bridged, base + 1, base + 2, 0.5);
    link(bridged, base, base + 2, 0.5);
  }
  link(bridged, 2, 3, 1.0);
  SwarmSnapshot slow = bridged;
  slow.links.back().latency_s = 1e9;
  const FeatureVector c = features_of(bridged, p), d = features_of(slow, p);
  EXPECT_EQ(feature(c, p, "betti0_15"), 1);  // t = 4: one component
  EXPECT_EQ(feature(d, p, "betti0_15"), 2);  // two
  EXPECT_NE(c, d);
}
