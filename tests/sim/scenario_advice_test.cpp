// Advice on valid scenarios: the DHT's RPC timeout against the farthest round trip, and the
// farthest pair it is computed from.
#include <gtest/gtest.h>

#include <string>

#include "sim/scenario/scenario_advice.hpp"
#include "sim/rng.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/latency_table.hpp"
#include "tests/sim/farthest_pair_reference.hpp"
#include "tests/sim/two_cities.hpp"
#include "topology/geo.hpp"

using namespace swarmsim::sim;

namespace {

using swarmsim::test::kTwoCities;

/// The Paris-London RPC round trip under "tcp", from the geography alone.
double tcp_round_trip_s() {
  const double km = swarmsim::topology::great_circle_km({48.8566, 2.3522}, {51.5074, -0.1278});
  return 13.01 * 2.0 * (0.002 + 0.003 + km * 1.5 / 200000.0);  // about 197 ms
}

std::vector<Advisory> advice_with(double rpc_timeout_s, const char* model = "tcp", bool dht = true) {
  const std::string dht_value = std::string("{\"enabled\": ") + (dht ? "true" : "false") + ", \"rpc_timeout\": \"" +
                                std::to_string(rpc_timeout_s * 1000.0) + "ms\"}";
  return scenario_advisories(load_scenario_text(kTwoCities, "advice.json",
                                                {parse_override("policy.dht=" + dht_value),
                                                 parse_override(std::string("network.model=") + model)}));
}

}  // namespace

TEST(ScenarioAdvice, RpcTimeoutShorterThanTheFarthestTcpRoundTrip) {
  const double rtt = tcp_round_trip_s();
  const std::vector<Advisory> short_timeout = advice_with(rtt * 0.99);
  ASSERT_EQ(short_timeout.size(), 1u);
  EXPECT_EQ(short_timeout[0].path, "policy.dht.rpc_timeout");
  EXPECT_NE(short_timeout[0].message.find("paris and london"), std::string::npos) << short_timeout[0].message;
  EXPECT_NE(short_timeout[0].message.find("13.01"), std::string::npos) << short_timeout[0].message;
  EXPECT_TRUE(advice_with(rtt * 1.01).empty()) << "a timeout just above the round trip is fine";
  EXPECT_TRUE(advice_with(rtt * 0.99, "exact").empty()) << "without the latency factor the round trip is 15 ms";
  EXPECT_TRUE(advice_with(rtt * 0.99, "tcp", false).empty()) << "no DHT, no RPCs";
}

TEST(ScenarioAdvice, FarthestPairTakesTheLongestAccessAtALocation) {
  Scenario sc = load_scenario_text(kTwoCities, "advice.json");
  // A second Paris node with a slower access link, and a Tokyo node with a fast one.
  NodeSpec slow = sc.nodes[0];
  slow.name = "paris-slow";
  slow.access_latency_s = 0.040;
  NodeSpec tokyo = sc.nodes[0];
  tokyo.name = "tokyo";
  tokyo.location = swarmsim::topology::GeoPoint{35.68, 139.69};
  tokyo.access_latency_s = 0.0001;
  sc.nodes = {sc.nodes[0], slow, tokyo};  // hosts: paris 0, paris-slow 1, tokyo 2, london 3
  const LatencyTable t(sc);
  EXPECT_EQ(t.farthest_pair(), (std::pair<int, int>{1, 2}));
  // Tokyo next door to Paris: now paris-slow and london are the farthest (40 + 3 ms of access).
  sc.nodes[2].location = swarmsim::topology::GeoPoint{48.8566, 2.3522};
  EXPECT_EQ(LatencyTable(sc).farthest_pair(), (std::pair<int, int>{1, 3}));
  // Everyone in Paris (paris 0, paris-slow 1, london 2): the two slowest access links.
  sc.nodes = {sc.nodes[0], slow};
  sc.clients[0].location = sc.nodes[0].location;
  EXPECT_EQ(LatencyTable(sc).farthest_pair(), (std::pair<int, int>{1, 2}));
}

// The pruned search equals trying every pair of hosts, on random swarms: 150 locations (some
// shared by several hosts, a few near-antipodal pairs), random access latencies, both network
// models' factors.
TEST(ScenarioAdvice, FarthestPairEqualsTheExhaustiveSearch) {
  swarmsim::sim::Rng rng(59);
  for (int trial = 0; trial < 20; ++trial) {
    Scenario sc = load_scenario_text(kTwoCities, "advice.json");
    const NodeSpec model = sc.nodes[0];
    sc.nodes.clear();
    std::vector<swarmsim::topology::GeoPoint> places;
    for (int p = 0; p < 150; ++p) places.push_back({rng.uniform(-90, 90), rng.uniform(-180, 180)});
    if (trial % 2) places[1] = {-places[0].lat_deg, places[0].lon_deg > 0 ? places[0].lon_deg - 180 : places[0].lon_deg + 180};
    for (int h = 0; h < 300; ++h) {
      NodeSpec n = model;
      n.name = "n" + std::to_string(h);
      n.location = places[rng.below(places.size())];
      n.access_latency_s = trial % 3 == 0 ? 0.002 : rng.uniform(0.0, 0.05);  // equal access in a third of the trials
      sc.nodes.push_back(n);
    }
    sc.network.route_inflation = rng.uniform(1.0, 2.0);
    const LatencyTable t(sc);
    const std::pair<int, int> exhaustive = swarmsim::test::farthest_pair_exhaustive(t);
    const double longest = t.one_way(exhaustive.first, exhaustive.second) + t.one_way(exhaustive.second, exhaustive.first);
    const auto [a, b] = t.farthest_pair();
    ASSERT_GE(a, 0) << "trial " << trial;
    // Ties (replicated hosts, equal access) may pick another pair of the same round trip.
    EXPECT_EQ(t.one_way(a, b) + t.one_way(b, a), longest) << "trial " << trial;
    if (trial % 3 != 0) {
      EXPECT_EQ((std::pair<int, int>{a, b}), exhaustive) << "trial " << trial;
    }
  }
}

// Failback moves pipeline stages; on a swarm of blocks it does nothing, and the advice says so.
TEST(ScenarioAdvice, FailbackOnASwarmIsForPipelinesOnly) {
  const std::vector<Advisory> a =
      scenario_advisories(load_scenario_text(kTwoCities, "advice.json", {parse_override("policy.faults.failback=true")}));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].path, "policy.faults.failback");
  EXPECT_NE(a[0].message.find("pipelines only"), std::string::npos) << a[0].message;
  EXPECT_TRUE(scenario_advisories(load_scenario_text(kTwoCities, "advice.json")).empty());
}

// Split learning: a node whose fixed range lies inside the blocks the clients run serves nobody.
TEST(ScenarioAdvice, NodesServingOnlyTheClientsBlocksServeNobody) {
  const std::string table2 = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/table2/llama3-8b-1gbps-rtt5ms.json";
  const std::vector<Advisory> a = scenario_advisories(load_scenario_file(table2, {{"policy.privacy.client_blocks", "8"}}));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].path, "policy.privacy.client_blocks");
  EXPECT_NE(a[0].message.find("no session routes through 1 node serving only those: l4-0 (0-7)"), std::string::npos) << a[0].message;
  EXPECT_TRUE(scenario_advisories(load_scenario_file(table2, {{"policy.privacy.client_blocks", "7"}})).empty());
}

// Split learning with every session at once on a GTX-1650 client: 2.77 GiB of embedding, head and
// 2 blocks leave room for one 513 MiB session of 64 x 1,026 tokens (3.50 GiB usable), so of three
// sessions two wait; on the shipped CPU client (63.5 GiB usable) all three fit.
TEST(ScenarioAdvice, AClientThatCannotHoldTheSessionsArrivingTogetherMakesThemWait) {
  const std::string split = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/privacy/split-learning-llama3-8b.json";
  const std::vector<Override> at_once{{"workload.sessions", "3"}, {"workload.batch_size", "64"}, {"workload.prompt_tokens", "1024"},
                                      {"workload.new_tokens", "2"}, {"workload.arrival", R"({"process": "all_at_start"})"}};
  std::vector<Override> gtx = at_once;
  gtx.push_back({"clients[0].device", "\"GTX-1650\""});
  const std::vector<Advisory> a = scenario_advisories(load_scenario_file(split, gtx));
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].path, "clients[0]");
  EXPECT_NE(a[0].message.find("client (GTX-1650) holds 1 of the 3 sessions that arrive on it at once (513.00 MiB of KV cache each"),
            std::string::npos)
      << a[0].message;
  EXPECT_TRUE(scenario_advisories(load_scenario_file(split, at_once)).empty());
  gtx.push_back({"workload.arrival", R"({"process": "poisson", "rate": "1/s"})"});  // when they overlap depends on the run
  EXPECT_TRUE(scenario_advisories(load_scenario_file(split, gtx)).empty());
}

// Spot checks need three servers for every block: two cannot break a disagreement, one has no
// verifier. The shipped dishonest-server swarm has three everywhere; the straggler scenario's six
// servers cover every block twice.
TEST(ScenarioAdvice, SpotChecksNeedThreeServersPerBlock) {
  const auto shipped = [](const std::string& rel, std::vector<Override> o) {
    return scenario_advisories(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + rel, o));
  };
  EXPECT_TRUE(shipped("verification/dishonest-server.json", {}).empty());
  const std::vector<Advisory> a = shipped("verification/dishonest-server.json", {{"nodes[2].blocks", R"({"start": 16, "end": 32})"}});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].path, "policy.verification");
  EXPECT_NE(a[0].message.find("blocks 0-15 (2 servers)"), std::string::npos) << a[0].message;
  const std::vector<Advisory> b = shipped("routing/straggler.json", {{"policy.verification.rate", "0.1"}});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_NE(b[0].message.find("blocks 0-31 (2 servers) have fewer than three servers"), std::string::npos)
      << b[0].message;
}

// A tolerance below the distance between honest outputs of two servers that check each other, or
// at or above a cheater's magnitude, defeats the checks. Servers of different blocks never meet.
TEST(ScenarioAdvice, AToleranceThatHonestRoundingOrASubtleCheatDefeats) {
  const auto advice = [](std::vector<Override> o) {
    return scenario_advisories(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/verification/dishonest-server.json", o));
  };
  EXPECT_TRUE(advice({{"nodes[3].divergence", "0.002"}, {"policy.verification.tolerance", "0.003"}}).empty());
  const std::vector<Advisory> a = advice({{"nodes[3].divergence", "0.004"}, {"policy.verification.tolerance", "0.003"}});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].path, "policy.verification.tolerance");
  EXPECT_EQ(a[0].message.rfind("0.003 is less than the 0.004 between honest outputs of l4-b0 (L4, divergence 0.004) and l4-b1 (L4, divergence 0)", 0), 0u)
      << a[0].message;
  const std::vector<Advisory> b = advice({{"nodes[1].dishonest.magnitude", "0.003"}, {"policy.verification.tolerance", "0.003"}});
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].message.rfind("0.003 lets l4-a1's wrong outputs (magnitude 0.003) agree", 0), 0u) << b[0].message;
  EXPECT_TRUE(advice({{"nodes[1].dishonest.magnitude", "0.003"}, {"policy.verification.tolerance", "0.0029"}}).empty());
}

TEST(ScenarioAdvice, FineTuningWithoutCheckpointsLosesItsAdaptersToAFailure) {
  const auto shipped = [](std::vector<Override> o) {
    return scenario_advisories(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/fine-tuning/lora-llama3-8b.json", o));
  };
  EXPECT_TRUE(shipped({}).empty());  // it saves them every few steps
  const std::vector<Advisory> a = shipped({{"workload.fine_tuning.checkpoint_every", "0"}});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].path, "workload.fine_tuning.checkpoint_every");
  EXPECT_NE(a[0].message.find("3090-b0 goes down at 60"), std::string::npos) << a[0].message;
  EXPECT_TRUE(shipped({{"workload.fine_tuning.checkpoint_every", "0"}, {"events", "[]"}}).empty());  // nothing fails
  EXPECT_TRUE(shipped({{"workload.fine_tuning.checkpoint_every", "0"}, {"workload.fine_tuning.replicas", "2"}}).empty());  // replicas give them back
}

// Jobs of three or more replicas that average every step: ZeRO synchronizes as often for fewer bytes.
TEST(ScenarioAdvice, JobsThatAverageEveryStepHearOfZero) {
  const auto shipped = [](std::vector<Override> o) {
    return scenario_advisories(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/fine-tuning/lora-llama3-8b.json", o));
  };
  const std::vector<Advisory> a = shipped({{"workload.fine_tuning.replicas", "4"}});
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].path, "workload.fine_tuning.zero");
  EXPECT_NE(a[0].message.find("jobs of 4 replicas average every step: each server sends its adapters to 3 peers"), std::string::npos)
      << a[0].message;
  EXPECT_NE(a[0].message.find("2/4 of the bytes"), std::string::npos) << a[0].message;
  EXPECT_TRUE(shipped({{"workload.fine_tuning.replicas", "4"}, {"workload.fine_tuning.zero", "1"}}).empty());
  EXPECT_TRUE(shipped({{"workload.fine_tuning.replicas", "4"}, {"workload.fine_tuning.sync_every", "5"}}).empty());
  EXPECT_TRUE(shipped({{"workload.fine_tuning.replicas", "2"}}).empty());  // the same bytes at two
}

// churn without mtbf draws from the nodes' uptime: a swarm that declares uptime 1 everywhere never fails.
TEST(ScenarioAdvice, ChurnOnASwarmThatNeverFailsSaysSo) {
  const std::string two = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json";
  const auto churn = parse_override(R"(churn={"mttr": "1min", "until": "1h"})");
  const auto advice = scenario_advisories(load_scenario_file(two, {churn}));
  ASSERT_EQ(advice.size(), 1u);
  EXPECT_EQ(advice[0].path, "churn");
  EXPECT_NE(advice[0].message.find("every server declares uptime 1"), std::string::npos);
  EXPECT_TRUE(scenario_advisories(load_scenario_file(two, {churn, parse_override("nodes[0].uptime=0.9")})).empty());
  EXPECT_TRUE(scenario_advisories(load_scenario_file(two, {parse_override(R"(churn={"mttr": "1min", "until": "1h", "mtbf": "1h"})")})).empty());
  // A node's own mtbf makes it fail, whatever it declares.
  EXPECT_TRUE(scenario_advisories(load_scenario_file(two, {churn, parse_override(R"(nodes[0].mtbf="30min")")})).empty());
}

// A node's own repair time without a top-level churn is read by nothing (as after --set
// churn=null): it loads, and validate says so.
TEST(ScenarioAdvice, ANodesOwnChurnPeriodsWithoutChurnSaySo) {
  const std::string file = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/churn/volunteer-swarm.json";
  const auto advice = scenario_advisories(
      load_scenario_file(file, {parse_override("churn=null"), parse_override(R"(nodes[2].mttr="20min")")}));
  ASSERT_EQ(advice.size(), 1u);
  EXPECT_EQ(advice[0].path, "nodes");
  EXPECT_NE(advice[0].message.find("dc-a-0, dc-a-1, dc-a-2, dc-a-3 set their own \"mtbf\" or \"mttr\", which only drawn churn reads"),
            std::string::npos)
      << advice[0].message;
  EXPECT_TRUE(scenario_advisories(load_scenario_file(file, {parse_override(R"(nodes[2].mttr="20min")")})).empty());
}

// The same for a client's own mtbf; and a client with one under churn is a failure drawn, so a
// swarm of servers that never fail gets no "draws no failure" advice.
TEST(ScenarioAdvice, AClientsOwnChurnPeriodsWithoutChurnSaySo) {
  const std::string two = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json";
  const auto advice = scenario_advisories(load_scenario_file(two, {parse_override(R"(clients[0].mtbf="1h")")}));
  ASSERT_EQ(advice.size(), 1u);
  EXPECT_EQ(advice[0].path, "clients");
  EXPECT_NE(advice[0].message.find("client sets its own \"mtbf\" or \"mttr\", which only drawn churn reads"), std::string::npos)
      << advice[0].message;
  const Override churn = parse_override(R"(churn={"mttr": "1min", "until": "1h"})");
  EXPECT_TRUE(scenario_advisories(load_scenario_file(two, {churn, parse_override(R"(clients[0].mtbf="1h")")})).empty());
  ASSERT_EQ(scenario_advisories(load_scenario_file(two, {churn})).size(), 1u);  // no server or client ever fails
}

// Users who leave hold their KV caches for the session timeout: by Little's law 0.1 sessions/s x
// 30% x 300 s = 9 sessions' caches at once, most of what the GTX 1650s (blocks 24-26 and 27-29,
// 3 blocks on 4 GB each) have free per block. A 1-minute timeout (1.8 held), caches freed at once,
// or arrivals without a rate give no advice.
TEST(ScenarioAdvice, UsersWhoLeaveHoldMemoryForTheSessionTimeout) {
  const std::string file = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/churn/users-leave.json";
  const std::vector<Advisory> shipped = scenario_advisories(load_scenario_file(file));
  ASSERT_EQ(shipped.size(), 1u);
  EXPECT_EQ(shipped[0].path, "workload.abandon_share");
  EXPECT_NE(shipped[0].message.find("hold about 9 abandoned sessions' KV caches at once"), std::string::npos) << shipped[0].message;
  EXPECT_NE(shipped[0].message.find("free memory for blocks 24-29"), std::string::npos) << shipped[0].message;
  const std::vector<Advisory> fixed =
      scenario_advisories(load_scenario_file(file, {{"workload.arrival", R"({"process": "fixed", "interval": "10s"})"}}));
  ASSERT_EQ(fixed.size(), 1u);
  EXPECT_NE(fixed[0].message.find("about 9 "), std::string::npos) << fixed[0].message;
  EXPECT_TRUE(scenario_advisories(load_scenario_file(file, {{"policy.faults.session_timeout", "\"1min\""}})).empty());
  EXPECT_TRUE(scenario_advisories(load_scenario_file(file, {{"policy.faults.session_timeout", "\"0s\""}})).empty());
  EXPECT_TRUE(scenario_advisories(load_scenario_file(file, {{"workload.arrival", R"({"process": "all_at_start"})"}})).empty());
  EXPECT_TRUE(scenario_advisories(load_scenario_file(file, {{"workload.abandon_share", "0"}})).empty());
}
