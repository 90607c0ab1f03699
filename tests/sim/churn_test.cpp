// Churn drawn from the servers' availability (sim/scenario/churn.hpp, the scenario's `churn`):
// alternating up and down periods whose long-run share up is the node's declared uptime, drawn
// per node name so a node's failures do not move when others are added, and the loader's errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "sim/scenario/churn.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/sim/scenario_diagnostics.hpp"

using namespace swarmsim::sim;

namespace {

NodeSpec node(const std::string& name, double uptime, double join_at = 0.0) {
  NodeSpec n;
  n.name = name;
  n.uptime = uptime;
  n.join_at_s = join_at;
  return n;
}

/// Share of [from, until) the node is up, from its alternating events.
double share_up(const std::vector<ReplayEvent>& ev, double from, double until) {
  double down = 0.0;
  for (std::size_t i = 0; i < ev.size(); i += 2) {
    const double end = i + 1 < ev.size() ? std::min(ev[i + 1].at_s, until) : until;
    down += std::max(0.0, end - ev[i].at_s);
  }
  return 1.0 - down / (until - from);
}

}  // namespace

TEST(Churn, ANodeAlternatesDownAndUpFromItsJoinUntilTheEnd) {
  const ChurnSpec c{60.0, 3600.0, std::nullopt, std::nullopt};
  const std::vector<ReplayEvent> ev = churn_events(c, node("gpu-7", 0.9, 100.0), 42);
  ASSERT_GE(ev.size(), 4u);
  double last = 100.0;
  for (std::size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].action, i % 2 == 0 ? EventAction::NodeDown : EventAction::NodeUp) << i;
    EXPECT_EQ(ev[i].node, "gpu-7");
    EXPECT_GT(ev[i].at_s, last) << i;  // after its join, each after the one before
    last = ev[i].at_s;
    if (i % 2 == 0) {
      EXPECT_LT(ev[i].at_s, 3600.0) << i;  // failures start before `until`
    }
  }
  EXPECT_EQ(ev.size() % 2, 0u);  // a node down at `until` still comes back
  EXPECT_EQ(churn_events(c, node("gpu-7", 0.9, 100.0), 42).size(), ev.size());  // the same draws
  EXPECT_NE(churn_events(c, node("gpu-7", 0.9, 100.0), 43)[0].at_s, ev[0].at_s);  // another seed
  EXPECT_NE(churn_events(c, node("gpu-8", 0.9, 100.0), 42)[0].at_s, ev[0].at_s);  // another node
}

// Alternating renewal: over a long span the share up is MTBF / (MTBF + MTTR) = the declared uptime,
// and the down periods last MTTR on average.
TEST(Churn, TheLongRunShareUpIsTheDeclaredUptimeAndDownPeriodsLastTheMttr) {
  const ChurnSpec c{120.0, 4e6, std::nullopt, std::nullopt};
  for (const double u : {0.5, 0.9, 0.98}) {
    const std::vector<ReplayEvent> ev = churn_events(c, node("n", u), 7);
    EXPECT_NEAR(share_up(ev, 0.0, 4e6), u, 0.01 * u) << u;
    // Four standard deviations: the mean of n exponential periods, and the count of n renewal cycles.
    const double n = static_cast<double>(ev.size() / 2), expected = churn_expected_events(c, node("n", u));
    double down = 0.0;
    for (std::size_t i = 0; i + 1 < ev.size(); i += 2) down += ev[i + 1].at_s - ev[i].at_s;
    EXPECT_NEAR(down / n, 120.0, 4.0 * 120.0 / std::sqrt(n)) << u;
    EXPECT_NEAR(static_cast<double>(ev.size()), expected, 2.0 * 4.0 * std::sqrt(expected / 2.0)) << u;
  }
  EXPECT_DOUBLE_EQ(churn_mtbf_s(c, node("n", 0.9)), 120.0 * 0.9 / 0.1);
  EXPECT_TRUE(churn_events(c, node("n", 1.0), 7).empty());  // uptime 1: never down
  const std::vector<ReplayEvent> gone = churn_events(c, node("n", 0.0, 5.0), 7);
  ASSERT_EQ(gone.size(), 1u);  // uptime 0: down from its join, for good
  EXPECT_EQ(gone[0].action, EventAction::NodeDown);
  EXPECT_EQ(gone[0].at_s, 5.0);
  // A set MTBF applies to every node, whatever its uptime.
  const ChurnSpec fixed{120.0, 4e6, 1080.0, std::nullopt};
  EXPECT_NEAR(share_up(churn_events(fixed, node("n", 1.0), 7), 0.0, 4e6), 0.9, 0.01);
}

// A node's own mttr and mtbf take the place of the scenario's: a datacenter server that fails
// rarely but stays down for long, beside volunteers that come and go.
TEST(Churn, ANodesOwnMeanPeriodsTakeThePlaceOfTheScenarios) {
  const ChurnSpec c{40.0, 4e6, std::nullopt, std::nullopt};
  NodeSpec dc = node("dc", 0.98);
  dc.mttr_s = 600.0;  // its up periods follow: 600 x 0.98 / 0.02 = 29,400 s, so still 98% up
  EXPECT_DOUBLE_EQ(churn_mttr_s(c, dc), 600.0);
  EXPECT_DOUBLE_EQ(churn_mtbf_s(c, dc), 600.0 * 0.98 / (1.0 - 0.98));
  const std::vector<ReplayEvent> ev = churn_events(c, dc, 7);
  const double n = static_cast<double>(ev.size() / 2);
  double down = 0.0;
  for (std::size_t i = 0; i + 1 < ev.size(); i += 2) down += ev[i + 1].at_s - ev[i].at_s;
  EXPECT_NEAR(down / n, 600.0, 4.0 * 600.0 / std::sqrt(n));  // its own repair time, not the scenario's 40 s
  EXPECT_NEAR(share_up(ev, 0.0, 4e6), 0.98, 0.01);
  // A node's own mtbf wins over the scenario's and over its uptime: this one declares 0.99 but is
  // up 1000 / (1000 + 40) of the time.
  const ChurnSpec fixed{40.0, 4e6, 50.0, std::nullopt};
  NodeSpec boaster = node("boaster", 0.99);
  boaster.mtbf_s = 1000.0;
  EXPECT_DOUBLE_EQ(churn_mtbf_s(fixed, boaster), 1000.0);
  EXPECT_DOUBLE_EQ(churn_mtbf_s(fixed, node("other", 0.99)), 50.0);
  EXPECT_NEAR(share_up(churn_events(fixed, boaster, 7), 0.0, 4e6), 1000.0 / 1040.0, 0.01);
  EXPECT_NEAR(churn_expected_events(fixed, boaster), 2.0 * 4e6 / 1040.0, 1e-6);
  // Even a node declaring uptime 1 fails when its own mtbf says so.
  NodeSpec sure = node("sure", 1.0);
  EXPECT_TRUE(churn_events(c, sure, 7).empty());
  sure.mtbf_s = 3600.0;
  EXPECT_FALSE(churn_events(c, sure, 7).empty());
}

TEST(ChurnScenario, ReadsANodesOwnPeriodsAndRefusesThemWhereNothingReadsThem) {
  using swarmsim::test::has_error;
  using swarmsim::test::scenario_errors;
  const std::string file = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/churn/volunteer-swarm.json";
  const Scenario sc = load_scenario_file(file, {parse_override(R"(churn={"mttr": "40s", "until": "2h"})"),
                                                parse_override(R"(nodes[2].mttr="10min")"), parse_override(R"(nodes[2].mtbf="20min")")});
  // nodes[2] is the entry of four L4s, dc-a: each copy has the entry's periods.
  int with_own = 0;
  for (const NodeSpec& n : sc.nodes) {
    if (!n.mtbf_s) continue;
    ++with_own;
    EXPECT_EQ(n.name.rfind("dc-a-", 0), 0u) << n.name;
    EXPECT_EQ(*n.mtbf_s, 1200.0) << n.name;
    EXPECT_EQ(n.mttr_s.value_or(0.0), 600.0) << n.name;
  }
  EXPECT_EQ(with_own, 4);
  int dc_a = 0, dc_b = 0;
  for (const ReplayEvent& e : sc.events) {
    if (e.action != EventAction::NodeDown) continue;
    dc_a += e.node.rfind("dc-a-", 0) == 0;
    dc_b += e.node.rfind("dc-b-", 0) == 0;
  }
  EXPECT_GT(dc_a, 6);  // four servers x 2 h / 30 min: about 16; dc-b at uptime 0.995 and 40 s repairs: about 1.5
  EXPECT_GT(dc_a, 2 * dc_b);

  const std::string two = "sanity/two_node.json";
  EXPECT_TRUE(has_error(scenario_errors(two, {parse_override(R"(nodes[0].mtbf="0s")"),
                                              parse_override(R"(churn={"mttr": "1min", "until": "1h"})")}),
                        "nodes[0].mtbf"));
  EXPECT_TRUE(has_error(scenario_errors(two, {parse_override(R"(churn={"mttr": "1min", "until": "1h"})"), parse_override(R"(nodes[0].mtbf="1h")"),
                                              parse_override(R"(events=[{"at": "40s", "action": "node_down", "node": "server"}])")}),
                        "nodes[0].mtbf: drawn churn spares \"server\": events[0] lists its failures"));
  EXPECT_TRUE(scenario_errors(two, {parse_override(R"(churn={"mttr": "1min", "until": "1h"})"), parse_override(R"(nodes[0].mttr="1h")")}).empty());
}

TEST(ChurnScenario, DrawsFailuresForTheServersNoListedEventNames) {
  // two_node has one server; the Table 2 swarm has six, l4-0 failing by a listed event.
  const std::string file = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/table2/llama3-8b-1gbps-rtt5ms.json";
  const std::vector<Override> churn{parse_override(R"(churn={"mttr": "30s", "mtbf": "5min", "until": "2h"})"),
                                    parse_override(R"(events=[{"at": "40s", "action": "node_down", "node": "l4-0"}])")};
  const Scenario sc = load_scenario_file(file, churn);
  ASSERT_TRUE(sc.churn.has_value());
  EXPECT_EQ(sc.churn->mttr_s, 30.0);
  EXPECT_EQ(sc.churn->until_s, 7200.0);
  int l4_0 = 0, others = 0;
  for (std::size_t i = 0; i < sc.events.size(); ++i) {
    if (i > 0) {
      EXPECT_LE(sc.events[i - 1].at_s, sc.events[i].at_s);  // in time order
    }
    (sc.events[i].node == "l4-0" ? l4_0 : others) += 1;
  }
  EXPECT_EQ(l4_0, 1);     // only its listed failure
  EXPECT_GT(others, 50);  // five servers x 2 h / 5.5 min, two events each: about 130
  for (const NodeSpec& n : sc.nodes) {  // the others' failures are their own draws, whatever the other nodes
    if (n.name == "l4-0") continue;
    std::vector<double> drawn, in_scenario;
    for (const ReplayEvent& e : churn_events(*sc.churn, n, sc.seed)) drawn.push_back(e.at_s);
    for (const ReplayEvent& e : sc.events)
      if (e.node == n.name) in_scenario.push_back(e.at_s);
    EXPECT_EQ(in_scenario, drawn) << n.name;
  }
}

TEST(ChurnScenario, RefusesBadValuesWithThePathAndTooManyEventsWithTheReason) {
  using swarmsim::test::has_error;
  using swarmsim::test::scenario_errors;
  const std::string two = "sanity/two_node.json";
  EXPECT_TRUE(has_error(scenario_errors(two, {parse_override(R"(churn={"until": "1h"})")}), "churn.mttr: missing"));
  EXPECT_TRUE(has_error(scenario_errors(two, {parse_override(R"(churn={"mttr": "1min"})")}), "churn.until: missing"));
  EXPECT_TRUE(has_error(scenario_errors(two, {parse_override(R"(churn={"mttr": "0s", "until": "1h"})")}), "churn.mttr"));
  EXPECT_TRUE(has_error(scenario_errors(two, {parse_override(R"(churn={"mttr": "1min", "until": "1h", "mtbf": "-5s"})")}), "churn.mtbf"));
  EXPECT_TRUE(has_error(scenario_errors(two, {parse_override(R"(churn={"mttr": "1min", "until": "1h", "mbtf": "5m"})")}),
                        "churn.mbtf: unknown key"));
  EXPECT_TRUE(has_error(scenario_errors(two, {parse_override(R"(churn=[])")}), "churn: expected"));
  const auto errs = scenario_errors(two, {parse_override(R"(churn={"mttr": "1ms", "mtbf": "1ms", "until": "1000d"})")});
  EXPECT_TRUE(has_error(errs, "churn: would draw about 8.64e+10 node_down/node_up events for 1 servers (at most 1000000)")) << errs.front();
  EXPECT_TRUE(scenario_errors(two, {parse_override(R"(churn={"mttr": "1min", "until": "1h"})")}).empty());  // uptime 1: valid, no failure
}

// Overlapping down periods (a server's own failure and its region's outage) make one.
TEST(Churn, DownPeriodsThatOverlapOrTouchAreOneFailure) {
  const std::vector<ReplayEvent> ev =
      down_periods_as_events({{20.0, std::numeric_limits<double>::infinity()}, {8.0, 12.0}, {5.0, 10.0}, {12.0, 15.0}, {16.0, 17.0}}, "n");
  ASSERT_EQ(ev.size(), 5u);
  const std::vector<std::pair<EventAction, double>> expected{
      {EventAction::NodeDown, 5.0}, {EventAction::NodeUp, 15.0}, {EventAction::NodeDown, 16.0}, {EventAction::NodeUp, 17.0}, {EventAction::NodeDown, 20.0}};
  for (std::size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].action, expected[i].first) << i;
    EXPECT_EQ(ev[i].at_s, expected[i].second) << i;
    EXPECT_EQ(ev[i].node, "n");
  }
}

// A regional outage takes down together every joined server within its radius of a server drawn
// as its centre, and no other.
TEST(Churn, ARegionalOutageTakesDownTheJoinedServersWithinItsRadiusTogether) {
  ChurnSpec c{60.0, 36000.0, std::nullopt, ChurnSpec::Regional{600.0, 120.0, 100.0}};
  std::vector<NodeSpec> nodes{node("paris-0", 1.0), node("paris-1", 1.0), node("versailles", 1.0), node("berlin", 1.0), node("late", 1.0, 18000.0)};
  const swarmsim::topology::GeoPoint paris{48.8566, 2.3522}, versailles{48.8049, 2.1204}, berlin{52.52, 13.405};
  nodes[0].location = nodes[1].location = nodes[4].location = paris;
  nodes[2].location = versailles;  // 18 km from Paris
  nodes[3].location = berlin;      // 880 km
  const std::vector<RegionalOutage> outages = regional_outages(c, nodes, 3);
  EXPECT_NEAR(static_cast<double>(outages.size()), 36000.0 / 600.0, 4.0 * std::sqrt(60.0));  // a Poisson count of mean 60
  int berlin_centred = 0, late_spared = 0, late_hit = 0;
  double last = 0.0;
  for (const RegionalOutage& o : outages) {
    EXPECT_GT(o.start_s, last);
    EXPECT_LT(o.start_s, 36000.0);
    EXPECT_GT(o.end_s, o.start_s);
    last = o.start_s;
    if (o.centre == 3) {
      ++berlin_centred;
      EXPECT_EQ(o.servers, (std::vector<int>{3}));
    } else if (o.start_s < 18000.0) {
      EXPECT_EQ(o.servers, (std::vector<int>{0, 1, 2}));  // "late" has not joined yet
      ++late_spared;
    } else {
      EXPECT_EQ(o.servers, (std::vector<int>{0, 1, 2, 4}));
      ++late_hit;
    }
  }
  EXPECT_GT(berlin_centred, 0);
  EXPECT_GT(late_spared, 0);
  EXPECT_GT(late_hit, 0);
  EXPECT_TRUE(regional_outages(ChurnSpec{60.0, 36000.0, std::nullopt, std::nullopt}, nodes, 3).empty());
}

TEST(ChurnScenario, RegionalOutagesJoinEachServersOwnFailuresAsOneAlternatingList) {
  const std::string file = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/churn/volunteer-swarm.json";
  // The volunteers in Frankfurt and the L4s 4 km away: an outage of radius 10 km takes all 16.
  const Scenario sc = load_scenario_file(file, {parse_override(R"(churn.regional={"every": "2min", "lasts": "20s", "radius": "10km"})")});
  const std::vector<RegionalOutage> outages = regional_outages(*sc.churn, sc.nodes, sc.seed);
  ASSERT_GT(outages.size(), 2u);
  for (const NodeSpec& n : sc.nodes) {
    bool down = false;
    for (const ReplayEvent& e : sc.events) {
      if (e.node != n.name) continue;
      EXPECT_EQ(e.action, down ? EventAction::NodeUp : EventAction::NodeDown) << n.name << " at " << e.at_s;
      down = !down;
    }
    // Every outage finds the server down: from it or from its own failure.
    for (const RegionalOutage& o : outages) {
      bool was_down = false;  // after its last event at or before the outage's start
      for (const ReplayEvent& e : sc.events)
        if (e.node == n.name && e.at_s <= o.start_s) was_down = e.action == EventAction::NodeDown;
      EXPECT_TRUE(was_down) << n.name << " up during the outage at " << o.start_s;
    }
  }
  using swarmsim::test::has_error;
  using swarmsim::test::scenario_errors;
  EXPECT_TRUE(has_error(scenario_errors("churn/volunteer-swarm.json", {parse_override(R"(churn.regional={"every": "2min", "lasts": "20s"})")}),
                        "churn.regional.radius: missing"));
  EXPECT_TRUE(has_error(scenario_errors("churn/volunteer-swarm.json", {parse_override(R"(churn.regional={"every": "2min", "lasts": "20s", "radius": "-3km"})")}),
                        "churn.regional.radius"));
  EXPECT_TRUE(has_error(scenario_errors("churn/volunteer-swarm.json", {parse_override(R"(churn.regional={"every": "1us", "lasts": "20s", "radius": "3km"})")}),
                        "churn: would draw about 6e+08 regional outages"));
}

// Which servers an outage takes down comes from where they are: a swarm known only by its RTT
// matrix cannot have regional outages.
TEST(ChurnScenario, RegionalOutagesNeedTheServersLocations) {
  const std::string text = R"({
    "name": "matrix", "model": {"name": "Llama-3-8B"},
    "nodes": [{"name": "s", "gpu": "L4", "uplink": "1Gbps", "downlink": "1Gbps", "blocks": {"start": 0, "end": 32}}],
    "clients": [{"name": "c", "device": "cpu-generic", "uplink": "1Gbps", "downlink": "1Gbps"}],
    "network": {"latency": "matrix", "rtt_matrix": {"hosts": ["s", "c"], "rtt": [["0ms", "10ms"], ["10ms", "0ms"]]}},
    "workload": {"sessions": 1, "prompt_tokens": 8, "new_tokens": 8},
    "churn": {"mttr": "1min", "until": "1h", "regional": {"every": "10min", "lasts": "1min", "radius": "50km"}}})";
  try {
    load_scenario_text(text, "matrix.json");
    FAIL() << "loaded";
  } catch (const ScenarioError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u);
    EXPECT_EQ(e.diagnostics()[0].path, "churn.regional");
    EXPECT_NE(e.diagnostics()[0].message.find("nodes[0] has none"), std::string::npos) << e.diagnostics()[0].message;
  }
}

// A client with its own mtbf fails under drawn churn, at its own periods (the scenario's mtbf is
// the servers'); a client without one never fails; the loader refuses a client's periods where
// nothing would read them or a listed event names it.
TEST(ChurnScenario, AClientWithItsOwnMtbfFailsAndTheOthersNever) {
  using swarmsim::test::has_error;
  using swarmsim::test::scenario_errors;
  const std::string file = "table2/llama3-8b-1gbps-rtt5ms.json";
  const Override clients = parse_override(
      R"(clients=[{"name": "fe-0", "device": "cpu-generic", "location": {"lat": 50.1, "lon": 8.66}, "uplink": "1Gbps", "downlink": "1Gbps"},
                  {"name": "fe-1", "device": "cpu-generic", "location": {"lat": 52.4, "lon": 4.9}, "uplink": "1Gbps", "downlink": "1Gbps",
                   "mtbf": "2min", "mttr": "30s"}])");
  const Override churn = parse_override(R"(churn={"mttr": "1min", "mtbf": "10min", "until": "200h"})");
  const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + file, {clients, churn});
  ASSERT_EQ(sc.clients.size(), 2u);
  EXPECT_EQ(sc.clients[1].mtbf_s.value_or(0.0), 120.0);
  EXPECT_EQ(sc.clients[1].mttr_s.value_or(0.0), 30.0);
  // fe-1's up and down periods: exponential of means 120 s and 30 s, over 200 h about 4,800 of each.
  std::vector<double> downs, ups;
  double last_up = 0.0;
  for (const ReplayEvent& e : sc.events) {
    EXPECT_NE(e.node, "fe-0") << "a client without an mtbf never fails";
    if (e.node != "fe-1") continue;
    if (e.action == EventAction::NodeDown) {
      ups.push_back(e.at_s - last_up);
      downs.push_back(-e.at_s);
    } else {
      downs.back() += e.at_s;
      last_up = e.at_s;
    }
  }
  ASSERT_GT(downs.size(), 4000u);
  if (sc.events.back().node == "fe-1" && sc.events.back().action == EventAction::NodeDown) downs.pop_back();  // still down at the end
  const auto mean = [](const std::vector<double>& v) {
    double s = 0.0;
    for (const double x : v) s += x;
    return s / static_cast<double>(v.size());
  };
  EXPECT_NEAR(mean(ups), 120.0, 5.0 * 120.0 / std::sqrt(static_cast<double>(ups.size())));
  EXPECT_NEAR(mean(downs), 30.0, 5.0 * 30.0 / std::sqrt(static_cast<double>(downs.size())));

  const std::string two = "sanity/two_node.json";
  const Override two_churn = parse_override(R"(churn={"mttr": "1min", "until": "1h"})");
  EXPECT_TRUE(has_error(scenario_errors(two, {two_churn, parse_override(R"(clients[0].mttr="1min")")}),
                        "clients[0].mttr: a client fails under drawn churn only with its own \"mtbf\""));
  EXPECT_TRUE(has_error(scenario_errors(two, {two_churn, parse_override(R"(clients[0].mtbf="1h")"),
                                              parse_override(R"(events=[{"at": "40s", "action": "node_down", "node": "client"}])")}),
                        "clients[0].mtbf: drawn churn spares \"client\": events[0] lists its failures"));
  EXPECT_TRUE(has_error(scenario_errors("pipeline/resnet50-l4-1gbps.json", {two_churn, parse_override(R"(clients[0].mtbf="1h")")}),
                        "clients[0].mtbf: a client's drawn failures apply to sessions that generate tokens, not to graph pipelines"));
  EXPECT_TRUE(scenario_errors(two, {two_churn, parse_override(R"(clients[0].mtbf="1h")")}).empty());
}

// With regional.clients, an outage takes down the clients within its radius too, over the same
// span: a client in Amsterdam goes down with every outage centred on an Amsterdam server, one in
// Brussels (170 km away, beyond 50 km) never; the servers' draws are the same with and without it.
TEST(ChurnScenario, RegionalOutagesTakeTheClientsWithinTheirRadiusWhenAsked) {
  using swarmsim::test::has_error;
  using swarmsim::test::scenario_errors;
  const std::string file = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/churn/two-cities.json";
  const Override clients = parse_override(
      R"(clients=[{"name": "client-ams", "device": "RTX-4090", "location": {"lat": 52.37, "lon": 4.9}, "uplink": "500Mbps", "downlink": "500Mbps"},
                  {"name": "client-bru", "device": "RTX-4090", "location": {"lat": 50.85, "lon": 4.35}, "uplink": "500Mbps", "downlink": "500Mbps"}])");
  const Override longer = parse_override(R"(churn.until="3h")");
  const Scenario with = load_scenario_file(file, {clients, longer, parse_override("churn.regional.clients=true")});
  const Scenario without = load_scenario_file(file, {clients, longer});
  ASSERT_TRUE(with.churn && with.churn->regional && with.churn->regional->clients);
  const auto events_of = [](const Scenario& sc, const std::string& name) {
    std::vector<std::pair<double, bool>> out;
    for (const ReplayEvent& e : sc.events)
      if (e.node == name) out.emplace_back(e.at_s, e.action == EventAction::NodeDown);
    return out;
  };
  for (const NodeSpec& n : with.nodes) EXPECT_EQ(events_of(with, n.name), events_of(without, n.name)) << n.name;
  EXPECT_TRUE(events_of(without, "client-ams").empty());
  EXPECT_TRUE(events_of(with, "client-bru").empty()) << "Brussels is beyond every outage's 50 km";
  // Amsterdam's client: the union of the outages centred in Amsterdam, from the same draws.
  std::vector<std::pair<double, double>> periods;
  for (const RegionalOutage& o : regional_outages(*with.churn, with.nodes, with.seed))
    if (with.nodes[static_cast<std::size_t>(o.centre)].name.rfind("ams-", 0) == 0) periods.emplace_back(o.start_s, o.end_s);
  ASSERT_FALSE(periods.empty()) << "no outage was centred in Amsterdam in 3 h";
  std::vector<std::pair<double, bool>> expected;
  for (const ReplayEvent& e : down_periods_as_events(periods, "client-ams")) expected.emplace_back(e.at_s, e.action == EventAction::NodeDown);
  EXPECT_EQ(events_of(with, "client-ams"), expected);

  EXPECT_TRUE(has_error(scenario_errors("pipeline/resnet50-l4-1gbps.json",
                                        {parse_override(R"(churn={"mttr": "1min", "until": "1h", "regional": {"every": "5min", "lasts": "1min", "radius": "10km", "clients": true}})")}),
                        "churn.regional.clients: a client's outage applies to sessions that generate tokens, not to graph pipelines"));
}
