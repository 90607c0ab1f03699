#include <gtest/gtest.h>

#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/latency_table.hpp"
#include "tests/sim/two_cities.hpp"
#include "topology/geo.hpp"

using namespace swarmsim::sim;

namespace {
using swarmsim::test::kTwoCities;
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
    Scenario sc = load_scenario_text(kTwoCities, "two_cities.json");
    const NodeSpec proto = sc.nodes[0];
    sc.nodes.clear();
    for (int i = 0; i < 2400; ++i) {
      NodeSpec n = proto;
      n.name = "n" + std::to_string(i);
      const int place = i % distinct;
      n.location = swarmsim::topology::GeoPoint{-60.0 + 0.05 * place, -170.0 + 0.16 * place};
      sc.nodes.push_back(n);
    }
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
