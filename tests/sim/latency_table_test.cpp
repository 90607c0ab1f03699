#include <gtest/gtest.h>

#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/latency_table.hpp"
#include "topology/geo.hpp"

using namespace swarmsim::sim;

namespace {
const char* kTwoCities = R"({
  "name": "latency", "model": {"name": "Llama-3-8B"},
  "nodes": [{"name": "paris", "gpu": "L4", "location": {"lat": 48.8566, "lon": 2.3522}, "uplink": "1Gbps",
             "downlink": "1Gbps", "access_latency": "2ms", "blocks": {"start": 0, "end": 32}}],
  "clients": [{"name": "london", "device": "cpu-generic", "location": {"lat": 51.5074, "lon": -0.1278},
               "uplink": "1Gbps", "downlink": "1Gbps", "access_latency": "3ms"}],
  "network": {"fiber_speed": "200000km/s", "route_inflation": 1.5},
  "workload": {"sessions": 1, "prompt_tokens": 8, "new_tokens": 2}
})";
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
