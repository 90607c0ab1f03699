// metrics.json's latency breakdown: each token step's latency split into the session's spans
// between the previous token and this one (compute alone and its contention, message latency,
// software time, transmission) and the waiting no span covers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/flow/flow_simulation.hpp"
#include "sim/metrics/run_metrics.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/swarm/session_plan.hpp"
#include "tests/sim/two_cities.hpp"
#include "tests/sim/flow_run.hpp"

using namespace swarmsim::sim;
using nlohmann::json;

// Hand-made spans of two steps of session 0, with another session's spans in between: every part
// is the sum of its spans, waiting is what they leave uncovered, and the other session's spans
// count for it alone.
TEST(LatencyBreakdown, EachPartSumsTheSessionsSpansOfTheStep) {
  Scenario sc = load_scenario_text(swarmsim::test::kTwoCities, "two.json", {parse_override("workload.sessions=2")});
  RunMetrics metrics(sc, "roofline");
  SimSignals s;
  metrics.connect(s);
  const int server = 0, client = 1;
  s.on_session_started(SessionStarted{1.0, 0, client});
  s.on_session_started(SessionStarted{1.0, 1, client});
  // Prefill of session 0: embed 2 ms alone in 3 ms; a message (5 ms latency, 10 ms software, 2 ms
  // of bytes); blocks 30 ms; the way back (4 + 6 ms, no bytes to speak of); head 1 ms.
  s.on_compute(ComputeSpan{1.000, 1.003, client, 0, 0, {}, "embed", 0.002});
  s.on_transfer(TransferSpan{1.003, 1.020, client, server, 0, 0, 4096, 0.005, 0.010});
  s.on_compute(ComputeSpan{1.020, 1.050, server, 0, 0, {0, 32}, "blocks", 0.030});
  s.on_compute(ComputeSpan{1.020, 1.090, server, 1, 0, {0, 32}, "blocks", 0.030});  // session 1
  s.on_transfer(TransferSpan{1.050, 1.060, server, client, 0, 0, 4096, 0.004, 0.006});
  s.on_compute(ComputeSpan{1.060, 1.061, client, 0, 0, {}, "head", 0.001});
  s.on_step(StepCompleted{1.070, 0, 0, 0.070});  // 9 ms after the head: waiting
  // Decode step 1: an orchestrator-style message without a step still counts for the session.
  s.on_transfer(TransferSpan{1.070, 1.080, client, server, 0, -1, 256, 0.004, 0.001});
  s.on_compute(ComputeSpan{1.080, 1.100, server, 0, 1, {0, 32}, "blocks", 0.010});
  s.on_step(StepCompleted{1.100, 0, 1, 0.030});
  const json m = metrics.to_json(2.0, {NodeSummary{}}, WallClock{});
  const json& ttft = m["latency_breakdown_s"]["time_to_first_token"];
  EXPECT_EQ(ttft["steps"], 1);
  EXPECT_NEAR(ttft["latency"].get<double>(), 0.070, 1e-12);
  EXPECT_NEAR(ttft["client_compute"].get<double>(), 0.003, 1e-12);
  EXPECT_NEAR(ttft["server_compute"].get<double>(), 0.030, 1e-12);
  EXPECT_NEAR(ttft["contention"].get<double>(), 0.001, 1e-12);
  EXPECT_NEAR(ttft["propagation"].get<double>(), 0.009, 1e-12);
  EXPECT_NEAR(ttft["software"].get<double>(), 0.016, 1e-12);
  EXPECT_NEAR(ttft["transmission"].get<double>(), 0.002, 1e-12);
  EXPECT_NEAR(ttft["waiting"].get<double>(), 0.009, 1e-12);
  const json& token = m["latency_breakdown_s"]["per_token"];
  EXPECT_EQ(token["steps"], 1);
  EXPECT_NEAR(token["server_compute"].get<double>(), 0.010, 1e-12);
  EXPECT_NEAR(token["contention"].get<double>(), 0.010, 1e-12);  // 20 ms for 10 ms of work
  EXPECT_NEAR(token["propagation"].get<double>(), 0.004, 1e-12);
  EXPECT_NEAR(token["software"].get<double>(), 0.001, 1e-12);
  EXPECT_NEAR(token["transmission"].get<double>(), 0.005, 1e-12);
  EXPECT_EQ(token["waiting"].get<double>(), 0.0);
  EXPECT_EQ(token["client_compute"].get<double>(), 0.0);
}

// Table 2's swarm on the flow engine, with the calibrated per-message time but no extra round
// trips: a decode step is 7 messages (client, 6 servers, client), so its software time is 7 x
// (RPC + serialization and checksum of its bytes at both ends), and its latency 7 one-way
// latencies along the chain times LV08's factor; one session alone neither waits nor shares.
TEST(LatencyBreakdown, Table2StepIsSevenMessagesOfTheCalibratedOverheads) {
  const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/table2/llama3-8b-1gbps-rtt5ms.json",
                                   {parse_override("overheads.round_trips=0")});
  SimSignals signals;
  std::vector<int> chain;
  signals.on_chain_formed.connect([&](const ChainFormed& e) { chain = e.servers; });
  const RunReport r = swarmsim::test::flow_run(sc, signals);
  ASSERT_EQ(chain.size(), 6u);
  const json& b = r.metrics["latency_breakdown_s"]["per_token"];
  const double bytes = hidden_state_bytes(sc, 1) + sc.overheads.header_bytes;
  const double software = 7 * (sc.overheads.rpc_s + 2 * bytes / sc.overheads.serialization_Bps + 2 * bytes / sc.policy.faults.checksum_Bps);
  EXPECT_NEAR(b["software"].get<double>(), software, 1e-12 * software);
  const LatencyTable latencies(sc);
  const int client = static_cast<int>(sc.nodes.size());
  double one_way = 0;
  for (std::size_t h = 0, prev = static_cast<std::size_t>(client); h <= chain.size(); ++h) {
    const int to = h == chain.size() ? client : chain[h];
    one_way += latencies.one_way(static_cast<int>(prev), to);
    prev = static_cast<std::size_t>(to);
  }
  EXPECT_NEAR(b["propagation"].get<double>(), 13.01 * one_way, 1e-12);
  EXPECT_EQ(b["waiting"].get<double>(), 0.0);
  EXPECT_EQ(b["contention"].get<double>(), 0.0);
  double parts = 0;
  for (const char* k : {"server_compute", "client_compute", "contention", "propagation", "software", "transmission", "waiting"})
    parts += b[k].get<double>();
  EXPECT_NEAR(parts, b["latency"].get<double>(), 1e-12);
  EXPECT_NEAR(b["latency"].get<double>(), r.metrics["latency_s"]["per_token"]["mean"].get<double>(), 1e-9);
}

// On every shipped routed scenario (failures, retries, recoveries, link changes, contention) the
// spans of a step never add up to more than its latency, and no part is negative.
TEST(LatencyBreakdown, PartsNeverExceedTheStepOnShippedScenarios) {
  for (const char* rel : {"routing/churn.json", "routing/congested-link.json", "routing/flapping-node.json",
                          "routing/geo-spread.json", "routing/straggler.json", "topology/unstable-region.json"}) {
    const json m = swarmsim::test::flow_run(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + rel)).metrics;
    for (const char* which : {"time_to_first_token", "per_token"}) {
      const json& b = m["latency_breakdown_s"][which];
      double spans = 0;
      for (const char* k : {"server_compute", "client_compute", "contention", "propagation", "software", "transmission"}) {
        EXPECT_GE(b[k].get<double>(), 0.0) << rel << " " << which << " " << k;
        spans += b[k].get<double>();
      }
      const double latency = b["latency"].get<double>();
      EXPECT_LE(spans, latency * (1 + 1e-9)) << rel << " " << which;
      EXPECT_NEAR(spans + b["waiting"].get<double>(), latency, 1e-9 * latency) << rel << " " << which;
    }
  }
}
