// When clients are down (ClientOutages): known answers from listed node_down/node_up events.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/client_outages.hpp"

using namespace swarmsim::sim;

namespace {

// The two-node swarm with two clients, fe-0 and fe-1 (hosts 1 and 2 after the one server).
Scenario two_clients(const std::string& events) {
  return load_scenario_file(
      std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json",
      {{"clients", R"([{"name": "fe-0", "device": "cpu-generic", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps"},
                       {"name": "fe-1", "device": "cpu-generic", "location": {"lat": 48.86, "lon": 2.35}, "uplink": "1Gbps", "downlink": "1Gbps"}])"},
       {"events", events}});
}

}  // namespace

TEST(ClientOutages, ADownClientStaysDownUntilItsNextNodeUp) {
  // Listed out of time order, with a second node_down while down (no change) and a last outage
  // that never ends.
  const Scenario sc = two_clients(R"([{"at": "8s", "action": "node_down", "node": "fe-1"},
                                      {"at": "2s", "action": "node_down", "node": "fe-1"},
                                      {"at": "3s", "action": "node_down", "node": "fe-1"},
                                      {"at": "5s", "action": "node_up", "node": "fe-1"},
                                      {"at": "4s", "action": "node_down", "node": "server"}])");
  const ClientOutages o(sc);
  ASSERT_TRUE(o.any());
  const int fe0 = 1, fe1 = 2;
  EXPECT_FALSE(o.down(fe1, 1.999));
  EXPECT_TRUE(o.down(fe1, 2.0));  // from the node_down's instant
  EXPECT_TRUE(o.down(fe1, 4.999));
  EXPECT_FALSE(o.down(fe1, 5.0));  // back at the node_up's instant
  EXPECT_FALSE(o.down(fe1, 7.999));
  EXPECT_TRUE(o.down(fe1, 8.0));
  EXPECT_TRUE(o.down(fe1, 1e9));  // never back
  EXPECT_DOUBLE_EQ(o.down_since(fe1, 4.0, 4.0), 2.0);  // the node_down at 3 s changed nothing
  EXPECT_DOUBLE_EQ(o.down_since(fe1, 100.0, 100.0), 8.0);
  EXPECT_TRUE(std::isnan(o.down_since(fe1, 6.0, 6.0)));
  // A session that arrived at 1 s has lost its client by 6 s, although the client is back then.
  EXPECT_TRUE(o.down_within(fe1, 1.0, 6.0));
  EXPECT_DOUBLE_EQ(o.down_since(fe1, 1.0, 6.0), 2.0);
  EXPECT_FALSE(o.down_within(fe1, 1.0, 1.999));
  EXPECT_FALSE(o.down_within(fe1, 5.0, 7.9)) << "arrived after the first outage, checked before the second";
  EXPECT_TRUE(o.down_within(fe1, 5.0, 8.0));
  EXPECT_DOUBLE_EQ(o.down_since(fe1, 5.0, 9.0), 8.0);
  EXPECT_DOUBLE_EQ(o.down_since(fe1, 4.0, 9.0), 2.0) << "the first outage that meets the span";
  for (const double t : {0.0, 2.0, 4.5, 9.0}) {
    EXPECT_FALSE(o.down(fe0, t)) << t;
    EXPECT_FALSE(o.down(0, t)) << "a server's node_down is not a client's outage, at " << t;
  }
}

TEST(ClientOutages, NoClientEventMeansNoOutage) {
  const ClientOutages o(two_clients(R"([{"at": "4s", "action": "node_down", "node": "server"}])"));
  EXPECT_FALSE(o.any());
  EXPECT_FALSE(o.down(2, 5.0));
  EXPECT_FALSE(o.down(7, 5.0)) << "an index past the hosts is no client";
}

TEST(ClientOutages, TheReasonNamesTheClientAndWhenItWentDown) {
  EXPECT_EQ(client_lost_reason("fe-1", 60.0, "decode step 5"), "its client fe-1 went down at 60.000 s (decode step 5)");
  EXPECT_EQ(client_lost_reason("fe-1", 60.0, "arrival"), "its client fe-1 was down when it arrived (since 60.000 s)");
}

TEST(ClientOutages, RefusedWhereSessionsDoNotGenerateTokens) {
  const std::string graph = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/pipeline/resnet50-l4-1gbps.json";
  try {
    load_scenario_file(graph, {{"events", R"([{"at": "1s", "action": "node_down", "node": "client"}])"}});
    FAIL() << "a client's outage in a graph pipeline was accepted";
  } catch (const ScenarioError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("events[0].node"), std::string::npos) << what;
    EXPECT_NE(what.find("not to graph pipelines"), std::string::npos) << what;
  }
}
