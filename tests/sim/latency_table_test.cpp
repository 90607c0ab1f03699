#include <gtest/gtest.h>

#include <cmath>

#include "sim/rng.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/latency_table.hpp"
#include "tests/sim/two_cities.hpp"
#include "topology/geo.hpp"

using namespace swarmsim::sim;

namespace {
using swarmsim::test::kTwoCities;

/// The two-cities scenario with its nodes replaced by `count` copies of its first, named n0, n1,
/// ..., each set up by place(i, node) (location, access latency) in index order.
template <class Place>
Scenario two_cities_with_nodes(int count, Place place) {
  Scenario sc = load_scenario_text(kTwoCities, "two_cities.json");
  const NodeSpec proto = sc.nodes[0];
  sc.nodes.clear();
  for (int i = 0; i < count; ++i) {
    NodeSpec n = proto;
    n.name = "n" + std::to_string(i);
    place(i, n);
    sc.nodes.push_back(n);
  }
  return sc;
}
}  // namespace

TEST(LatencyTable, GeoLatencyIsAccessPlusPropagation) {
  const Scenario sc = load_scenario_text(kTwoCities, "two_cities.json");
  LatencyTable t(sc);
  const double km = swarmsim::topology::great_circle_km({48.8566, 2.3522}, {51.5074, -0.1278});
  const double expected = 0.002 + 0.003 + km * 1.5 / 200000.0;  // about 7.6 ms
  EXPECT_NEAR(t.one_way(0, 1), expected, 1e-15);
  EXPECT_DOUBLE_EQ(t.one_way(0, 1), t.one_way(1, 0));
  EXPECT_DOUBLE_EQ(t.one_way(1, 1), 0.0);
}

TEST(LatencyTable, ReplayedChangesOverrideAccessAndPairs) {
  const Scenario sc = load_scenario_text(kTwoCities, "two_cities.json");
  LatencyTable t(sc);
  t.set_access(0, 0.010);
  EXPECT_NEAR(t.one_way(0, 1), 0.010 + 0.003 + t.base(0, 1), 1e-15);
  t.set_pair(1, 0, 0.050);
  EXPECT_DOUBLE_EQ(t.base(0, 1), 0.050);
  EXPECT_DOUBLE_EQ(t.one_way(0, 1), 0.010 + 0.003 + 0.050);
}

TEST(LatencyTable, MatrixGivesHalfTheRoundTrip) {
  std::string text = kTwoCities;
  text.replace(text.find(R"("network": {)"), 12,
               R"("network": {"latency": "matrix", "rtt_matrix": {"hosts": ["london", "paris"], "rtt": [["0ms", "18ms"], ["18ms", "0ms"]]}, )");
  const Scenario sc = load_scenario_text(text, "matrix.json");
  LatencyTable t(sc);
  EXPECT_DOUBLE_EQ(t.base(0, 1), 0.009);
  EXPECT_DOUBLE_EQ(t.one_way(0, 1), 0.002 + 0.003 + 0.009);
}

// Hosts at one location share a cache row; with more distinct locations than the cache holds,
// delays are computed each time. Both must give the great-circle delay of the hosts' own points,
// to the last bit (the engines' goldens depend on it).
TEST(LatencyTable, SharedAndUncachedLocationsGiveTheGreatCircleDelay) {
  for (const int distinct : {3, 2100}) {
    const Scenario sc = two_cities_with_nodes(2400, [&](int i, NodeSpec& n) {
      const int place = i % distinct;
      n.location = swarmsim::topology::GeoPoint{-60.0 + 0.05 * place, -170.0 + 0.16 * place};
    });
    LatencyTable t(sc);
    for (const auto& [i, j] : std::vector<std::pair<int, int>>{{0, 1}, {1, 0}, {0, 3}, {5, 2399}, {2399, 5}, {2100, 7}, {4, 2400}}) {
      const auto& pi = i < 2400 ? *sc.nodes[static_cast<std::size_t>(i)].location : *sc.clients[0].location;
      const auto& pj = j < 2400 ? *sc.nodes[static_cast<std::size_t>(j)].location : *sc.clients[0].location;
      const double expected = swarmsim::topology::great_circle_km(pi, pj) * 1.5 / 200000.0;
      for (int again = 0; again < 2; ++again)  // the second ask may come from the cache
        EXPECT_EQ(t.base(i, j), expected) << distinct << " locations, hosts " << i << " and " << j;
    }
    EXPECT_EQ(t.base(0, distinct), 0.0) << "hosts 0 and " << distinct << " share a location";
  }
}

// The chord floor the eq. 18 router prunes with: never above the latency, close to it for nearby
// places (an arc and its chord differ by a fraction of the square of the angle), exact for a
// replayed pair and for "matrix".
TEST(LatencyTable, TheFloorIsBelowTheLatencyAndCloseForNearbyPlaces) {
  Rng rng(9);
  Scenario sc = two_cities_with_nodes(3000, [&](int, NodeSpec& n) {  // more places than the table caches
    n.location = swarmsim::topology::GeoPoint{rng.uniform(-89.0, 89.0), rng.uniform(-180.0, 180.0)};
    n.access_latency_s = rng.uniform(0.0, 0.01);
  });
  sc.nodes[1].location = swarmsim::topology::GeoPoint{-sc.nodes[0].location->lat_deg, sc.nodes[0].location->lon_deg + 180.0};
  sc.nodes[3].location = swarmsim::topology::GeoPoint{sc.nodes[2].location->lat_deg + 0.5, sc.nodes[2].location->lon_deg};
  LatencyTable t(sc);
  EXPECT_TRUE(t.floor_is_cheaper());
  for (int k = 0; k < 20000; ++k) {
    const int i = static_cast<int>(rng.below(3001)), j = static_cast<int>(rng.below(3001));
    const double exact = t.one_way(i, j), floor = t.one_way_floor(i, j);
    ASSERT_LE(floor, exact) << "hosts " << i << " and " << j;
    if (i != j) {
      ASSERT_GE(floor, t.access(i) + t.access(j));
    }
  }
  // Antipodes: a chord of 2 radii against an arc of pi radii.
  EXPECT_NEAR(t.one_way_floor(0, 1) - t.access(0) - t.access(1), t.base(0, 1) * 2 / M_PI, 1e-9);
  // 56 km apart: the chord falls short of the arc by theta^2 / 24 of it, 3.1e-6.
  EXPECT_LT(t.one_way(2, 3) - t.one_way_floor(2, 3), 5e-6 * t.base(2, 3));
  EXPECT_LE(t.one_way_floor(2, 3), t.one_way(2, 3));
  t.set_pair(5, 6, 0.0001);
  EXPECT_EQ(t.one_way_floor(5, 6), t.one_way(5, 6));
  EXPECT_EQ(t.one_way_floor(7, 7), 0.0);

  std::string text = kTwoCities;
  text.replace(text.find(R"("network": {)"), 12,
               R"("network": {"latency": "matrix", "rtt_matrix": {"hosts": ["london", "paris"], "rtt": [["0ms", "18ms"], ["18ms", "0ms"]]}, )");
  const LatencyTable m(load_scenario_text(text, "matrix.json"));
  EXPECT_FALSE(m.floor_is_cheaper());
  EXPECT_EQ(m.one_way_floor(0, 1), m.one_way(0, 1));
}

// The region floor the eq. 18 router rules out whole regions with: never above the latency to
// any host of the region (at several sizes, so at several grid sizes, with some hosts sharing a
// place and replayed access changes), close to it for a region far away, and no regions once a
// replayed pair overrides the geometry or for "matrix".
TEST(LatencyTable, ARegionsFloorIsBelowTheLatencyToEachOfItsHosts) {
  for (const int nodes : {40, 1000, 3000}) {
    Rng rng(static_cast<std::uint64_t>(nodes));
    swarmsim::topology::GeoPoint last;
    const Scenario sc = two_cities_with_nodes(nodes, [&](int i, NodeSpec& n) {
      if (i % 7 != 6) last = swarmsim::topology::GeoPoint{rng.uniform(-89.0, 89.0), rng.uniform(-180.0, 180.0)};
      n.location = last;  // every seventh shares the place before it
      n.access_latency_s = rng.uniform(0.0, 0.01);
    });
    LatencyTable t(sc);
    const int R = t.regions();
    ASSERT_GT(R, 0);
    EXPECT_LE(R, nodes);
    std::vector<std::vector<int>> members(static_cast<std::size_t>(R));
    for (int h = 0; h < t.hosts(); ++h) {
      ASSERT_GE(t.region_of(h), 0);
      ASSERT_LT(t.region_of(h), R);
      members[static_cast<std::size_t>(t.region_of(h))].push_back(h);
    }
    for (const auto& m : members) EXPECT_FALSE(m.empty()) << "every region holds a host";
    for (int round = 0; round < 2; ++round) {
      for (int k = 0; k < 200; ++k) {
        const int i = static_cast<int>(rng.below(static_cast<std::uint64_t>(t.hosts())));
        for (int r = 0; r < R; ++r) {
          const double floor = t.one_way_floor_to_region(i, r);
          for (const int j : members[static_cast<std::size_t>(r)])
            ASSERT_LE(floor, t.one_way(i, j)) << nodes << " nodes, host " << i << ", region " << r << ", host " << j;
        }
      }
      for (int k = 0; k < 50; ++k)  // replayed access changes: the regions' least access follows
        t.set_access(static_cast<int>(rng.below(static_cast<std::uint64_t>(nodes))), rng.uniform(0.0, 0.02));
    }
  }
  // Two clusters 90 degrees apart: the floor from one to the other is within their spread.
  LatencyTable t(two_cities_with_nodes(200, [](int i, NodeSpec& n) {
    n.location = swarmsim::topology::GeoPoint{0.01 * (i % 100), (i < 100 ? 0.0 : 90.0) + 0.01 * (i % 10)};
    n.access_latency_s = 0.002;
  }));
  ASSERT_NE(t.region_of(0), t.region_of(150));
  EXPECT_GT(t.one_way_floor_to_region(0, t.region_of(150)), 0.9 * t.one_way_floor(0, 150));
  EXPECT_EQ(t.one_way_floor_to_region(0, t.region_of(0)), 0.0);  // its own region may be itself
  t.set_pair(5, 6, 0.0001);
  EXPECT_EQ(t.regions(), 0);

  std::string text = kTwoCities;
  text.replace(text.find(R"("network": {)"), 12,
               R"("network": {"latency": "matrix", "rtt_matrix": {"hosts": ["london", "paris"], "rtt": [["0ms", "18ms"], ["18ms", "0ms"]]}, )");
  EXPECT_EQ(LatencyTable(load_scenario_text(text, "matrix.json")).regions(), 0);
}
