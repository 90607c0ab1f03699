// The flow engine against the SimGrid engine on the same scenarios: it models the same network
// and device sharing, so the shipped static scenarios must give the same metrics (to rounding
// where no routing decision can flip, within a few percent where routing is chaotic).
// SimGrid runs go through run_isolated (one SimGrid run per process); flow runs need no isolation.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <tuple>
#include <string>
#include <vector>

#include "sim/engine/isolated_run.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/flow/flow_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/rng.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/block_coverage.hpp"
#include "sim/swarm/model_coverage.hpp"
#include "sim/swarm/session_plan.hpp"
#include "tests/bench/swarm_generator.hpp"
#include "tests/golden/json_compare.hpp"
#include "tests/json_mutation.hpp"
#include "tests/temp_path.hpp"

using namespace swarmsim;
using namespace swarmsim::sim;

namespace {

RunOptions quiet() {
  RunOptions o;
  o.progress = RunOptions::Progress::Never;
  return o;
}

Scenario shipped(const std::string& rel, std::vector<Override> overrides = {}) {
  return load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + rel, overrides);
}

/// Metrics of `sc` on the flow engine (in this process) and on SimGrid (in a child).
std::pair<nlohmann::json, nlohmann::json> both_engines(Scenario sc) {
  sc.engine = EngineKind::SimGrid;
  const nlohmann::json simgrid = run_isolated(sc, quiet()).metrics;
  sc.engine = EngineKind::Flow;
  SwarmSimulation flow(sc, make_cost_model(sc));
  const nlohmann::json flowed = flow.run(quiet()).metrics;
  return {simgrid, flowed};
}

std::vector<std::string> differences(const nlohmann::json& expected, const nlohmann::json& actual, double tol) {
  std::vector<std::string> d;
  swarmsim::testing::json_diff(expected, actual, "", tol, {"wall_clock", "engine", "latency_breakdown_s"}, d);
  // The latency breakdown's contention, transmission and waiting are differences of span times,
  // so the engines' last-bit differences in those times (~1e-11 s over a run) weigh more
  // relative to them: each part must agree within `tol` of its step's latency.
  if (expected.contains("latency_breakdown_s") != actual.contains("latency_breakdown_s")) {
    d.push_back("latency_breakdown_s: in one engine's metrics only");
    return d;
  }
  if (!expected.contains("latency_breakdown_s")) return d;  // graph-model pipelines report requests instead
  for (const char* which : {"time_to_first_token", "per_token"}) {
    const nlohmann::json& e = expected["latency_breakdown_s"][which];
    const nlohmann::json& a = actual["latency_breakdown_s"][which];
    const double scale = std::max(e["latency"].get<double>(), 1e-3);
    for (const auto& [key, value] : e.items())
      if (std::abs(value.get<double>() - a[key].get<double>()) > tol * scale)
        d.push_back(std::string("latency_breakdown_s.") + which + "." + key + ": expected " + value.dump() + ", got " + a[key].dump());
  }
  return d;
}

std::string lines(const std::vector<std::string>& d) {
  std::string s;
  for (std::size_t i = 0; i < d.size() && i < 20; ++i) s += "\n  " + d[i];
  return s;
}

double tokens_per_s(const nlohmann::json& m) { return m["throughput"]["tokens_per_s"].get<double>(); }

}  // namespace

// Fixed chains (one server, or Table 2's fixed ranges): every figure is the same to rounding, on
// both network models, which shows the LV08 factors, window, penalties and cross-traffic match.
TEST(FlowEngine, MatchesSimGridOnTheShippedStaticScenarios) {
  for (const std::string rel : {"sanity/two_node.json", "table2/llama3-8b-1gbps-rtt5ms.json", "table2/llama3-8b-100mbps-rtt10ms.json",
                                "table2/mixtral-8x7b-1gbps-rtt5ms.json", "table2/mixtral-8x7b-100mbps-rtt10ms.json"}) {
    const auto [simgrid, flowed] = both_engines(shipped(rel));
    EXPECT_EQ(flowed["engine"], "flow");
    EXPECT_EQ(simgrid["engine"], "simgrid");
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << rel << " differs in " << d.size() << " places:" << lines(d);
  }
}

// Four sessions in flight on Table 2's 100 Mbit/s swarm, with 4 MiB prefill messages: flows
// contend on every access link (cross-traffic, RTT-unfair penalties) and servers run several
// sessions' blocks at once; the timings still agree to rounding.
TEST(FlowEngine, MatchesSimGridUnderContention) {
  const auto [simgrid, flowed] = both_engines(shipped("table2/llama3-8b-100mbps-rtt10ms.json",
                                                      {{"workload.sessions", "4"},
                                                       {"workload.arrival", R"({"process": "poisson", "rate": "1/s"})"},
                                                       {"workload.batch_size", "16"},
                                                       {"workload.prompt_tokens", "256"},
                                                       {"workload.new_tokens", "8"}}));
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << d.size() << " differences:" << lines(d);
  // The sessions did overlap: the run is shorter than four sessions back to back.
  EXPECT_LT(simgrid["throughput"]["window_s"].get<double>(), 4 * simgrid["latency_s"]["session"]["mean"].get<double>());
}

// The queueing schedulers: one request (or one batch of decode steps) at a time per server,
// picked in arrival order, by priority and deadline, or batched up to batch_max.
TEST(FlowEngine, MatchesSimGridWithQueueingSchedulers) {
  for (const std::string scheduler : {R"({"kind": "fcfs"})", R"({"kind": "priority"})",
                                      R"({"kind": "batch", "batch_max": 3, "batch_wait": "20ms"})"}) {
    const auto [simgrid, flowed] = both_engines(shipped("table2/llama3-8b-1gbps-rtt5ms.json",
                                                        {{"workload.sessions", "6"},
                                                         {"workload.arrival", R"({"process": "poisson", "rate": "4/s"})"},
                                                         {"workload.deadline", "\"20s\""},
                                                         {"workload.prompt_tokens", "128"},
                                                         {"workload.new_tokens", "12"},
                                                         {"policy.scheduler", scheduler}}));
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << scheduler << ": " << d.size() << " differences:" << lines(d);
  }
}

// Orchestrator round trips and checksum resends draw the same random numbers at the same points.
TEST(FlowEngine, MatchesSimGridWithOrchestratorAndCorruption) {
  const auto [simgrid, flowed] = both_engines(shipped(
      "sanity/two_node.json", {{"policy.orchestrator", "true"}, {"policy.faults", R"({"corruption_rate": 0.2})"}}));
  EXPECT_GT(simgrid["resilience"]["corrupted_messages"].get<int>(), 0) << simgrid["resilience"].dump();
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << d.size() << " differences:" << lines(d);
}

/// Table 2's 100 Mbit/s swarm (one server per block range) with four sessions of 256-token prompts
/// and the given replayed events: every failure and change hits a fixed chain, so both engines
/// must time everything alike.
Scenario table2_with(const std::string& events, const std::string& model = "tcp") {
  return shipped("table2/llama3-8b-100mbps-rtt10ms.json",
                 {{"events", events},
                  {"network.model", "\"" + model + "\""},
                  {"workload.sessions", "4"},
                  {"workload.arrival", R"({"process": "poisson", "rate": "1/s"})"},
                  {"workload.prompt_tokens", "256"}});
}

// Node failures: messages cut when an end goes down, sender timeouts and backoffs, crashed work
// noticed by timeout or missed heartbeats, recovery through a restarted server with the KV cache
// replayed, and sessions that fail for good.
TEST(FlowEngine, MatchesSimGridWithNodeFailures) {
  const std::vector<std::string> cases{
      R"([{"at": "33s", "action": "node_down", "node": "l4-1"}, {"at": "36s", "action": "node_up", "node": "l4-1"}])",
      R"([{"at": "30.5s", "action": "node_down", "node": "l4-2"}])",
      R"([{"at": "31s", "action": "node_down", "node": "l4-0"}, {"at": "50s", "action": "node_up", "node": "l4-0"}])",
      R"([{"at": "32.4s", "action": "node_down", "node": "gtx1650-2"}, {"at": "33s", "action": "node_up", "node": "gtx1650-2"},
          {"at": "40s", "action": "node_down", "node": "l4-1"}, {"at": "41s", "action": "node_up", "node": "l4-1"}])"};
  int recoveries = 0, failed = 0, retries = 0;
  for (const std::string& events : cases) {
    const auto [simgrid, flowed] = both_engines(table2_with(events));
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << events << ": " << d.size() << " differences:" << lines(d);
    recoveries += simgrid["resilience"]["recoveries"].get<int>();
    retries += simgrid["resilience"]["transfer_retries"].get<int>();
    failed += simgrid["sessions"]["failed"].get<int>();
  }
  // The cases do exercise recovery, retries and failed sessions.
  EXPECT_GT(recoveries, 0);
  EXPECT_GT(retries, 0);
  EXPECT_GT(failed, 0);
}

namespace {

/// One "kv" line of events.jsonl.
struct Kv {
  double t;
  std::string node;
  double bytes;
  int waiting;  ///< -1 when absent (a server)
};

/// Runs `sc` on `engine` with its outputs in a folder `dir` of this process: its metrics, its "kv"
/// lines and its node_down lines (t, node).
std::tuple<nlohmann::json, std::vector<Kv>, std::vector<std::pair<double, std::string>>> run_with_events(Scenario sc, EngineKind engine,
                                                                                                         const std::string& dir) {
  sc.engine = engine;
  RunOptions o = quiet();
  o.out_dir = swarmsim::test::temp_path(dir);
  std::filesystem::create_directories(o.out_dir);
  const nlohmann::json metrics = engine == EngineKind::SimGrid ? run_isolated(sc, o).metrics : SwarmSimulation(sc, make_cost_model(sc)).run(o).metrics;
  std::vector<Kv> kv;
  std::vector<std::pair<double, std::string>> downs;
  std::ifstream in(o.out_dir / "events.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j["type"] == "kv")
      kv.push_back({j["t"].get<double>(), j["node"].get<std::string>(), j["bytes"].get<double>(), j.value("waiting", -1)});
    if (j["type"] == "node_down") downs.emplace_back(j["t"].get<double>(), j["node"].get<std::string>());
  }
  return {metrics, kv, downs};
}

/// Both engines' "kv" lines are the same, to 1e-9 in time and bytes.
void expect_same_kv(const std::vector<Kv>& simgrid, const std::vector<Kv>& flowed) {
  ASSERT_EQ(simgrid.size(), flowed.size());
  for (std::size_t i = 0; i < simgrid.size(); ++i) {
    EXPECT_NEAR(simgrid[i].t, flowed[i].t, 1e-9 * simgrid[i].t) << "kv line " << i;
    EXPECT_EQ(simgrid[i].node, flowed[i].node) << "kv line " << i;
    EXPECT_NEAR(simgrid[i].bytes, flowed[i].bytes, 1e-9 * simgrid[i].bytes) << "kv line " << i;
    EXPECT_EQ(simgrid[i].waiting, flowed[i].waiting) << "kv line " << i;
  }
}

}  // namespace

// KV memory over time ("kv" lines of events.jsonl): both engines report the same changes, a
// server's most reserved at once is metrics.json's kv_peak_bytes, a server that goes down holds
// none from that instant, and every server holds none once every session has ended.
TEST(FlowEngine, KvChangesMatchSimGridAndPeakAtTheMetricsPeak) {
  const Scenario sc = table2_with(R"([{"at": "31s", "action": "node_down", "node": "l4-0"}, {"at": "50s", "action": "node_up", "node": "l4-0"}])");
  const auto run = [&](EngineKind engine, const std::string& dir) { return run_with_events(sc, engine, dir); };
  const auto [simgrid, sg_kv, sg_downs] = run(EngineKind::SimGrid, "kv-simgrid");
  const auto [flowed, flow_kv, flow_downs] = run(EngineKind::Flow, "kv-flow");
  ASSERT_GT(sg_kv.size(), 8u);
  expect_same_kv(sg_kv, flow_kv);
  for (const Kv& k : sg_kv) EXPECT_EQ(k.waiting, -1) << k.node << ": no client holds blocks without split learning";
  ASSERT_EQ(sg_downs.size(), 1u);
  bool dropped = false;  // l4-0 held caches when it went down, and lost them then
  for (const Kv& k : sg_kv)
    if (k.node == "l4-0" && k.t == sg_downs[0].first) dropped = k.bytes == 0.0;
  EXPECT_TRUE(dropped) << "no kv line of 0 bytes for l4-0 at its node_down";
  for (const auto& n : simgrid["nodes"]) {
    double peak = 0.0, last = 0.0;
    for (const Kv& k : sg_kv)
      if (k.node == n["name"]) {
        peak = std::max(peak, k.bytes);
        last = k.bytes;
      }
    EXPECT_DOUBLE_EQ(peak, n["kv_peak_bytes"].get<double>()) << n["name"];
    EXPECT_EQ(last, 0.0) << n["name"] << " still holds KV caches after every session ended";
  }
}

// Queueing schedulers on servers that fail: a session polls its queued work every second and
// loses it once the server went down since it queued it (also when the server is back: the batch
// it was running died with it); a restarted worker fails what was queued before the crash; a
// KV replay goes through the queue like any work; a woken worker sees everything queued at its
// instant before it decides to wait for a batch.
TEST(FlowEngine, MatchesSimGridWithQueueingSchedulersAndNodeFailures) {
  const std::vector<std::string> cases{
      R"([{"at": "33s", "action": "node_down", "node": "l4-1"}, {"at": "36s", "action": "node_up", "node": "l4-1"}])",
      R"([{"at": "32.4s", "action": "node_down", "node": "gtx1650-2"}, {"at": "33s", "action": "node_up", "node": "gtx1650-2"},
          {"at": "40s", "action": "node_down", "node": "l4-1"}, {"at": "41s", "action": "node_up", "node": "l4-1"}])"};
  int recoveries = 0;
  for (const std::string scheduler : {R"({"kind": "fcfs"})", R"({"kind": "priority"})",
                                      R"({"kind": "batch", "batch_max": 3, "batch_wait": "20ms"})"})
    for (const std::string& events : cases) {
      const auto [simgrid, flowed] = both_engines(shipped("table2/llama3-8b-100mbps-rtt10ms.json",
                                                          {{"events", events},
                                                           {"workload.sessions", "4"},
                                                           {"workload.arrival", R"({"process": "poisson", "rate": "1/s"})"},
                                                           {"workload.prompt_tokens", "256"},
                                                           {"policy.scheduler", scheduler}}));
      const auto d = differences(simgrid, flowed, 1e-9);
      EXPECT_TRUE(d.empty()) << scheduler << " " << events << ": " << d.size() << " differences:" << lines(d);
      recoveries += simgrid["resilience"]["recoveries"].get<int>();
    }
  EXPECT_GE(recoveries, 3 * (4 + 7));  // every case recovers its sessions
}

// Bandwidth drops while 8 MiB prefills are on the wire (SimGrid's LV08 moves the weight-S penalty
// of the flows on a link to its new bandwidth; the flow engine does too), and latency changes.
// Three sessions at 2/s: no message is still paying its latency on a link when that link
// changes. There SimGrid 3.32 starts the flow early and can lose it (the stall the SimGrid
// engine guards against with timeouts), where the flow engine lets it wait out its latency.
TEST(FlowEngine, MatchesSimGridWithBandwidthAndLatencyChanges) {
  const std::string events = R"([{"at": "30.3s", "action": "set_bandwidth", "node": "l4-0", "bandwidth": "50Mbps"},
      {"at": "31.2s", "action": "set_bandwidth", "node": "l4-1", "bandwidth": "30Mbps", "direction": "down"},
      {"at": "32s", "action": "set_bandwidth", "node": "client", "bandwidth": "40Mbps"},
      {"at": "33s", "action": "set_latency", "node": "l4-2", "latency": "30ms"},
      {"at": "34s", "action": "set_latency", "node": "l4-0", "peer": "client", "latency": "12ms"}])";
  for (const std::string model : {"tcp", "exact"}) {
    Scenario sc = table2_with(events, model);
    sc.workload.prompt_tokens = 2048;
    sc.workload.sessions = 3;
    sc.workload.rate_per_s = 2.0;
    const auto [simgrid, flowed] = both_engines(sc);
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << model << ": " << d.size() << " differences:" << lines(d);
  }
}

// Rebalancing (seed 002, eq. 3): the server holding blocks 16-31 fails for good, and the next
// period moves another one there; sessions recover through it once it has loaded them.
TEST(FlowEngine, MatchesSimGridWithRebalancing) {
  const Scenario sc = load_scenario_text(R"JSON({"$schema": "../../docs/scenario.schema.json", "name": "two-node", "description": "Three auto L4s; s1 (blocks 16-31) fails for good at 12 s and rebalancing moves s0 to cover them.", "seed": 7, "model": {"name": "Llama-3-8B"}, "nodes": [{"name": "s0", "gpu": "L4", "location": {"lat": 50.1, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps", "access_latency": "2ms", "blocks": "auto", "max_blocks": 16}, {"name": "s1", "gpu": "L4", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps", "access_latency": "2ms", "blocks": "auto", "max_blocks": 16}, {"name": "s2", "gpu": "L4", "location": {"lat": 50.120000000000005, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps", "access_latency": "2ms", "blocks": "auto", "max_blocks": 16}], "clients": [{"name": "client", "device": "cpu-generic", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "100Mbps", "downlink": "100Mbps", "access_latency": "3ms"}], "network": {"model": "tcp"}, "workload": {"sessions": 3, "start": "10s", "arrival": {"process": "fixed", "interval": "4s"}, "batch_size": 1, "prompt_tokens": 64, "new_tokens": 40}, "policy": {"router": "eq18", "rebalance": {"period": "5s"}}, "events": [{"at": "12s", "action": "node_down", "node": "s1"}]})JSON", "rebalance.json");
  const auto [simgrid, flowed] = both_engines(sc);
  EXPECT_EQ(simgrid["resilience"]["blocks_moved"].get<int>(), 1);
  EXPECT_GT(simgrid["resilience"]["recoveries"].get<int>(), 0);
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << d.size() << " differences:" << lines(d);
}

// Topology monitoring: persistent homology of every snapshot, states, schemes, stability as eq.
// 18's reliability, on a region that keeps failing (the shipped scenario, its golden on SimGrid).
TEST(FlowEngine, MatchesSimGridWithTopologyMonitoring) {
  const auto [simgrid, flowed] = both_engines(shipped("topology/unstable-region.json"));
  EXPECT_GT(simgrid["topology"]["switches"].get<int>(), 0);
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << d.size() << " differences:" << lines(d);
}

// Sessions whose KV caches fit nowhere retry admission every second until the timeout, then fail
// with the same reason on both engines.
TEST(FlowEngine, MatchesSimGridWhenAdmissionFails) {
  const auto [simgrid, flowed] = both_engines(shipped(
      "sanity/two_node.json", {{"workload.batch_size", "512"}, {"workload.prompt_tokens", "8192"}, {"workload.sessions", "3"}}));
  EXPECT_EQ(simgrid["sessions"]["failed"].get<int>(), 3);
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << d.size() << " differences:" << lines(d);
}

Scenario with_dht(Scenario sc) {
  sc.policy.dht.enabled = true;
  return sc;
}

// The DHT (policy.dht): every host runs a Kademlia node, servers announce their blocks, clients
// look them up before each admission, and the RPCs share the access links with the hidden
// states. On fixed chains every figure agrees, the DHT's own counters and lookup delays
// included, also when a server fails and its node restarts and announces again.
TEST(FlowEngine, MatchesSimGridWithTheDht) {
  for (const std::string rel : {"sanity/two_node.json", "table2/llama3-8b-1gbps-rtt5ms.json", "table2/mixtral-8x7b-100mbps-rtt10ms.json"}) {
    const auto [simgrid, flowed] = both_engines(with_dht(shipped(rel)));
    ASSERT_TRUE(flowed.contains("dht")) << rel;
    EXPECT_GT(flowed["dht"]["lookups"].get<int>(), 32) << rel;  // the joins and one lookup per block
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << rel << " differs in " << d.size() << " places:" << lines(d);
  }
  const auto [simgrid, flowed] =
      both_engines(with_dht(table2_with(R"([{"at": "33s", "action": "node_down", "node": "l4-1"}, {"at": "36s", "action": "node_up", "node": "l4-1"}])")));
  EXPECT_GT(simgrid["resilience"]["recoveries"].get<int>(), 0);
  EXPECT_GT(simgrid["dht"]["stores"].get<int>(), 0);
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << "with a failure: " << d.size() << " differences:" << lines(d);
}

// A client too small for all its sessions at once (split learning on a GTX-1650): sessions wait
// for its memory in arrival order, on both engines alike, and it never holds more than it has.
// Inference sessions arriving 1 s apart, and two data-parallel fine-tuning jobs of two sessions
// each (the second job waits for the first).
TEST(FlowEngine, MatchesSimGridWhenSessionsWaitForTheirClientsMemory) {
  const Override gtx{"clients[0].device", "GTX-1650"}, split{"policy.privacy.client_blocks", "2"};
  const std::string one_client = R"([{"name": "lab-0", "device": "GTX-1650", "location": {"lat": 48.86, "lon": 2.35}, "uplink": "500Mbps", "downlink": "500Mbps"}])";
  const Scenario cases[] = {
      shipped("privacy/split-learning-llama3-8b.json", {gtx, {"workload.sessions", "4"}, {"workload.batch_size", "64"},
                                                        {"workload.prompt_tokens", "1024"}, {"workload.new_tokens", "3"},
                                                        {"workload.arrival", R"({"process": "poisson", "rate": "1/s"})"}}),
      shipped("fine-tuning/lora-llama3-8b-jobs.json",
              // Sessions 0 and 1 retry their admission until the servers have loaded, at 4 s, when
              // session 2 arrives and waits: each engine takes the retries first, 0 then 1.
              {split, {"workload.batch_size", "32"}, {"workload.fine_tuning.steps", "6"}, {"clients", one_client}, {"events", "[]"}}),
  };
  for (const Scenario& sc : cases) {
    const auto [simgrid, sg_kv, sg_downs] = run_with_events(sc, EngineKind::SimGrid, "held-back-simgrid");
    const auto [flowed, flow_kv, flow_downs] = run_with_events(sc, EngineKind::Flow, "held-back-flow");
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << sc.name << " differs in " << d.size() << " places:" << lines(d);
    expect_same_kv(sg_kv, flow_kv);
    // The client's kv lines: its sessions' bytes within what its memory leaves them, sessions
    // waiting at some point, and nothing held or waiting at the end.
    const nlohmann::json& c = simgrid["clients"][0];
    double most = 0.0;
    int most_waiting = 0;
    const Kv* last = nullptr;
    for (const Kv& k : sg_kv)
      if (k.node == c["name"]) {
        most = std::max(most, k.bytes);
        most_waiting = std::max(most_waiting, k.waiting);
        last = &k;
      }
    ASSERT_NE(last, nullptr) << sc.name;
    EXPECT_NEAR(most, c["memory_peak_bytes"].get<double>() - c["memory_fixed_bytes"].get<double>(), 1.0) << sc.name;
    EXPECT_GT(most_waiting, 0) << sc.name;
    EXPECT_EQ(last->bytes, 0.0) << sc.name;
    EXPECT_EQ(last->waiting, 0) << sc.name;
    EXPECT_GT(c["memory_waits"].get<int>(), 0) << sc.name;
    EXPECT_GT(c["memory_wait_seconds"].get<double>(), 0.0) << sc.name;
    EXPECT_LE(c["memory_peak_bytes"].get<double>(), c["memory_usable_bytes"].get<double>()) << sc.name;
    EXPECT_EQ(simgrid["sessions"]["completed"].get<int>(), sc.workload.sessions) << sc.name;
  }
}

// Split learning (policy.privacy.client_blocks): the client's blocks on its own device, chains
// from block 3, and the recovery of a chain's first server, whose input comes from the client.
TEST(FlowEngine, MatchesSimGridWithSplitLearning) {
  const Override split{"policy.privacy.client_blocks", "3"};
  for (const std::string rel : {"sanity/two_node.json", "table2/llama3-8b-100mbps-rtt10ms.json"}) {
    const auto [simgrid, flowed] = both_engines(shipped(rel, {split}));
    EXPECT_EQ(simgrid["privacy"]["client_blocks"].get<int>(), 3);
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << rel << " differs in " << d.size() << " places:" << lines(d);
  }
  Scenario failing = table2_with(R"([{"at": "31s", "action": "node_down", "node": "l4-0"}, {"at": "50s", "action": "node_up", "node": "l4-0"}])");
  failing.policy.privacy.client_blocks = 3;
  const auto [simgrid, flowed] = both_engines(failing);
  EXPECT_GT(simgrid["resilience"]["recoveries"].get<int>() + simgrid["sessions"]["failed"].get<int>(), 0);
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << "with l4-0 failing: " << d.size() << " differences:" << lines(d);
  const auto [simgrid_dht, flowed_dht] = both_engines(with_dht(shipped("table2/llama3-8b-1gbps-rtt5ms.json", {split})));
  const auto dd = differences(simgrid_dht, flowed_dht, 1e-9);
  EXPECT_TRUE(dd.empty()) << "with the DHT: " << dd.size() << " differences:" << lines(dd);
}

// Dishonest servers and spot checks: the checks' messages and recomputations share links and
// devices with the sessions, and a ban moves sessions off the liar. Sessions one after another,
// so that routing (by load) sees the same swarm in both engines.
TEST(FlowEngine, MatchesSimGridWithSpotChecksAndABan) {
  const auto [simgrid, flowed] = both_engines(shipped("verification/dishonest-server.json",
                                                      {{"workload.sessions", "8"},
                                                       {"workload.arrival", R"({"process": "fixed", "interval": "12s"})"},
                                                       {"nodes[1].dishonest.from", "\"20s\""},
                                                       {"policy.verification.rate", "0.2"}}));
  ASSERT_EQ(simgrid["verification"]["banned"].size(), 1u);
  EXPECT_GT(simgrid["verification"]["checks"]["agreed"].get<int>(), 0);
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << d.size() << " differences:" << lines(d);
  // A lazy cheater's steps take it no device time (l4-a0, on chains from the start; l4-a1 cheats from 40 s).
  const auto [simgrid_lazy, flowed_lazy] = both_engines(shipped("verification/dishonest-server.json",
                                                                {{"workload.sessions", "8"},
                                                                 {"workload.arrival", R"({"process": "fixed", "interval": "12s"})"},
                                                                 {"nodes[0].dishonest", R"({"from": "20s", "lazy": true})"},
                                                                 {"policy.verification.rate", "0.05"}}));
  EXPECT_GT(simgrid_lazy["verification"]["corrupted_tokens"].get<int>(), 0);
  const auto dl = differences(simgrid_lazy, flowed_lazy, 1e-9);
  EXPECT_TRUE(dl.empty()) << "lazy: " << dl.size() << " differences:" << lines(dl);
  // A cartel of l4-a0 and l4-a1 outvotes l4-a2.
  const auto [simgrid_cartel, flowed_cartel] = both_engines(shipped("verification/dishonest-server.json",
                                                                    {{"workload.sessions", "8"},
                                                                     {"workload.arrival", R"({"process": "fixed", "interval": "12s"})"},
                                                                     {"nodes[0].dishonest", R"({"from": "20s", "cartel": "c"})"},
                                                                     {"nodes[1].dishonest", R"({"from": "20s", "cartel": "c"})"},
                                                                     {"policy.verification.rate", "0.2"}}));
  EXPECT_GT(simgrid_cartel["verification"]["wrong_outputs_passed"].get<int>(), 0);
  const auto dc = differences(simgrid_cartel, flowed_cartel, 1e-9);
  EXPECT_TRUE(dc.empty()) << "cartel: " << dc.size() << " differences:" << lines(dc);
  // A tolerance too tight for l4-a0's rounding bans it, honest as it is.
  const auto [simgrid_tight, flowed_tight] = both_engines(shipped("verification/dishonest-server.json",
                                                                  {{"workload.sessions", "8"},
                                                                   {"workload.arrival", R"({"process": "fixed", "interval": "12s"})"},
                                                                   {"nodes[1].dishonest.magnitude", "0.002"},
                                                                   {"nodes[0].divergence", "0.004"},
                                                                   {"policy.verification", R"({"rate": 0.2, "tolerance": 0.003})"}}));
  EXPECT_EQ(simgrid_tight["verification"]["honest_servers_banned"].get<int>(), 1);
  const auto dt = differences(simgrid_tight, flowed_tight, 1e-9);
  EXPECT_TRUE(dt.empty()) << "tolerance: " << dt.size() << " differences:" << lines(dt);
}

// The DHT on routed swarms with churn: RPCs time out at failed servers, records expire, clients
// refresh; the aggregates agree as on routed swarms without it.
TEST(FlowEngine, AgreesWithSimGridWithTheDhtUnderChurn) {
  for (const std::string rel : {"routing/churn.json", "routing/flapping-node.json"}) {
    const auto [simgrid, flowed] = both_engines(with_dht(shipped(rel)));
    EXPECT_EQ(flowed["sessions"]["completed"], simgrid["sessions"]["completed"]) << rel;
    EXPECT_NEAR(tokens_per_s(flowed) / tokens_per_s(simgrid), 1.0, 0.05) << rel;
    EXPECT_GT(simgrid["dht"]["rpc_timeouts"].get<double>(), 0) << rel;
    for (const char* key : {"lookups", "rpc_timeouts", "messages"})
      EXPECT_NEAR(flowed["dht"][key].get<double>() / simgrid["dht"][key].get<double>(), 1.0, 0.05) << rel << " dht." << key;
  }
}

// Drawn churn (the scenario's `churn`) is a list of failures like a listed one: both engines replay
// it, and a router blind to reliability pays recoveries on the volunteers that eq. 18 avoids.
TEST(FlowEngine, AgreesWithSimGridOnDrawnChurn) {
  const auto [simgrid, flowed] = both_engines(shipped("churn/volunteer-swarm.json", {parse_override("policy.router=shortest_path")}));
  EXPECT_EQ(flowed["sessions"]["completed"], simgrid["sessions"]["completed"]);
  EXPECT_NEAR(tokens_per_s(flowed) / tokens_per_s(simgrid), 1.0, 0.05);
  const double recoveries = simgrid["resilience"]["recoveries"].get<double>();
  EXPECT_GT(recoveries, 10);
  EXPECT_NEAR(flowed["resilience"]["recoveries"].get<double>() / recoveries, 1.0, 0.2);
  const auto [eq18, eq18_flow] = both_engines(shipped("churn/volunteer-swarm.json"));
  EXPECT_EQ(eq18["resilience"]["recoveries"], 0);
  EXPECT_EQ(eq18_flow["resilience"]["recoveries"], 0);
}

// metrics.json counts each server's failures: the node_down events that found it up before the
// run ended (a node_down of a server already down is not another failure), on both engines.
TEST(FlowEngine, AndSimGridCountEachServersFailures) {
  // Each server's own failures, and with two-cities regional outages joined to them.
  for (const std::string rel : {"churn/volunteer-swarm.json", "churn/two-cities.json"}) {
    const Scenario sc = shipped(rel, {parse_override("policy.router=shortest_path")});
    const auto [simgrid, flowed] = both_engines(sc);
    int total = 0;
    for (const auto* m : {&simgrid, &flowed}) {
      const double end = (*m)["simulated_time_s"].get<double>();
      const nlohmann::json& nodes = (*m)["nodes"];
      ASSERT_EQ(nodes.size(), sc.nodes.size());
      for (std::size_t i = 0; i < sc.nodes.size(); ++i) {
        int downs = 0;  // drawn churn alternates node_down and node_up
        for (const ReplayEvent& e : sc.events) downs += e.action == EventAction::NodeDown && e.node == sc.nodes[i].name && e.at_s < end;
        EXPECT_EQ(nodes[i]["failures"].get<int>(), downs) << rel << " " << (*m)["engine"] << " " << sc.nodes[i].name;
        total += downs;
      }
    }
    EXPECT_GT(total, 2 * 10) << rel;
    EXPECT_EQ(flowed["sessions"]["completed"], simgrid["sessions"]["completed"]) << rel;
    EXPECT_NEAR(flowed["resilience"]["recoveries"].get<double>() / simgrid["resilience"]["recoveries"].get<double>(), 1.0, 0.2) << rel;
  }
  // rtx of flapping-node goes down at 30, 46, 62, 78 and 94 s, and the run ends at 97 s; a second
  // node_down at 32 s finds it down already.
  std::string events = R"(events=[{"at": "32s", "action": "node_down", "node": "rtx"})";
  for (int t = 30; t < 100; t += 16)
    events += R"(, {"at": ")" + std::to_string(t) + R"(s", "action": "node_down", "node": "rtx"}, {"at": ")" + std::to_string(t + 6) +
              R"(s", "action": "node_up", "node": "rtx"})";
  const auto [flapping, flapping_flow] = both_engines(shipped("routing/flapping-node.json", {parse_override(events + "]")}));
  for (const auto* m : {&flapping, &flapping_flow}) {
    ASSERT_LT((*m)["simulated_time_s"].get<double>(), 100.0);
    for (const nlohmann::json& n : (*m)["nodes"]) EXPECT_EQ(n["failures"].get<int>(), n["name"] == "rtx" ? 5 : 0) << n["name"];
  }
}

// What validate foresees of the blocks' coverage (sim/swarm/block_coverage.hpp) is what a run
// does: each server serves from its node_joined (a load time after its join or restart) to its
// next failure, as serving_intervals says, on both engines; and metrics.json's
// resilience.model_unserved_s is the forecast's time with some block unserved.
TEST(FlowEngine, AndSimGridServeWhenBlockCoverageSaysTheServersServe) {
  Scenario sc = shipped("churn/two-cities.json", {parse_override(R"(churn.regional.radius="1000km")")});
  sc.outputs.trace = false;
  for (const EngineKind engine : {EngineKind::Flow, EngineKind::SimGrid}) {
    sc.engine = engine;
    RunOptions options = quiet();
    options.out_dir = swarmsim::test::temp_path(std::string("coverage-") + to_string(engine));
    const nlohmann::json metrics = run_isolated(sc, options).metrics;
    const double end = metrics["simulated_time_s"].get<double>();
    // What the run measured of the model's coverage is what the forecast says of the same window.
    const auto foreseen = block_coverage(sc, sc.workload.start_s, end);
    ASSERT_TRUE(foreseen.has_value());
    EXPECT_GT(metrics["resilience"]["model_unserved_s"].get<double>(), 60.0) << to_string(engine);
    EXPECT_NEAR(metrics["resilience"]["model_unserved_s"].get<double>(), (end - sc.workload.start_s) - foreseen->all_covered_s, 1e-6)
        << to_string(engine);
    // And block by block: the same ranges, each unserved as long as the forecast says.
    const std::vector<UnservedRange> ranges = unserved_ranges(foreseen->uncovered_s);
    const nlohmann::json& measured = metrics["resilience"]["unserved_blocks"];
    ASSERT_EQ(measured.size(), ranges.size()) << to_string(engine) << " " << measured.dump();
    for (std::size_t k = 0; k < ranges.size(); ++k) {
      EXPECT_EQ(measured[k]["blocks"]["start"].get<int>(), ranges[k].blocks.start) << to_string(engine);
      EXPECT_EQ(measured[k]["blocks"]["end"].get<int>(), ranges[k].blocks.end) << to_string(engine);
      EXPECT_NEAR(measured[k]["unserved_s"].get<double>(), ranges[k].unserved_s, 1e-6) << to_string(engine);
    }
    // Serving intervals in events.jsonl: from each node_join to the node's next node_down (-1: to the end).
    std::map<std::string, std::vector<std::pair<double, double>>> seen;
    std::ifstream in(options.out_dir / "events.jsonl");
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json e = nlohmann::json::parse(line);
      if (!e.contains("node") || !e["node"].is_string()) continue;
      auto& v = seen[e["node"].get<std::string>()];
      if (e["type"] == "node_join") v.emplace_back(e["t"].get<double>(), -1.0);
      if (e["type"] == "node_down" && !v.empty() && v.back().second < 0) v.back().second = e["t"].get<double>();
    }
    int compared = 0;
    for (int i = 0; i < static_cast<int>(sc.nodes.size()); ++i) {
      const std::string& name = sc.nodes[static_cast<std::size_t>(i)].name;
      std::vector<std::pair<double, double>> foreseen;
      for (const auto& [a, b] : serving_intervals(sc, i))
        if (a < end) foreseen.emplace_back(a, b < end ? b : -1.0);
      const auto& got = seen[name];
      ASSERT_EQ(got.size(), foreseen.size()) << to_string(engine) << " " << name;
      for (std::size_t k = 0; k < got.size(); ++k) {  // events.jsonl keeps microseconds
        EXPECT_NEAR(got[k].first, foreseen[k].first, 1e-6) << to_string(engine) << " " << name << " interval " << k;
        EXPECT_NEAR(got[k].second, foreseen[k].second, 1e-6) << to_string(engine) << " " << name << " interval " << k;
        ++compared;
      }
    }
    EXPECT_GT(compared, 20) << to_string(engine);
  }
}

// Graph models run as pipelines (a partitioned, placed graph; stages wait for all their inputs,
// the client keeps max_in_flight requests in the pipeline): the same metrics on both engines,
// also with bandwidth and latency changes on either network model.
TEST(FlowEngine, MatchesSimGridOnGraphModelPipelines) {
  for (const std::string rel : {"pipeline/resnet50-l4-1gbps.json", "pipeline/unet-sd-6gpu.json"}) {
    const auto [simgrid, flowed] = both_engines(shipped(rel));
    EXPECT_EQ(flowed["kind"], "pipeline");
    EXPECT_EQ(flowed["engine"], "flow");
    EXPECT_EQ(simgrid["engine"], "simgrid");
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << rel << " differs in " << d.size() << " places:" << lines(d);
  }
  const std::string events = R"([{"at": "0.3s", "action": "set_bandwidth", "node": "rtx3090-a", "bandwidth": "50Mbps"},
      {"at": "0.6s", "action": "set_latency", "node": "client", "latency": "20ms"},
      {"at": "0.9s", "action": "set_bandwidth", "node": "client", "bandwidth": "200Mbps", "direction": "up"}])";
  for (const std::string model : {"tcp", "exact"}) {
    const auto base = both_engines(shipped("pipeline/unet-sd-6gpu.json", {{"network.model", "\"" + model + "\""}})).first;
    const auto [simgrid, flowed] =
        both_engines(shipped("pipeline/unet-sd-6gpu.json", {{"events", events}, {"network.model", "\"" + model + "\""}}));
    // The changes matter: the slower link lowers throughput.
    EXPECT_LT(simgrid["throughput"]["requests_per_s"].get<double>(), 0.9 * base["throughput"]["requests_per_s"].get<double>()) << model;
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << model << " with events differs in " << d.size() << " places:" << lines(d);
  }
}

// Stage failover on both engines: the A100's stage and the RTX 4090's fail; the first moves at
// once to a spare, the second finds every other node down and waits for one to come back; every
// unanswered request is sent again. Same metrics to 1e-9 on either network model.
TEST(FlowEngine, MatchesSimGridOnPipelineFailovers) {
  const std::string events = R"([{"at": "1.5s", "action": "node_down", "node": "a100-a"},
      {"at": "1.6s", "action": "node_down", "node": "rtx4090-a"},
      {"at": "2.2s", "action": "node_down", "node": "rtx3090-a"},
      {"at": "2.2s", "action": "node_down", "node": "rtx3090-b"},
      {"at": "2.2s", "action": "node_down", "node": "l4-a"},
      {"at": "3.5s", "action": "node_up", "node": "rtx3090-a"},
      {"at": "4s", "action": "node_up", "node": "a100-a"}])";
  for (const std::string model : {"tcp", "exact"}) {
    const auto [simgrid, flowed] = both_engines(shipped(
        "pipeline/unet-sd-6gpu.json", {{"events", events}, {"network.model", "\"" + model + "\""}, {"policy.faults.heartbeat", "\"1s\""}}));
    ASSERT_EQ(simgrid["failovers"].size(), 2u) << model;
    // The first failover took the spare RTX 4090; the second waited for a node to come back.
    EXPECT_EQ(simgrid["failovers"][0]["to"], "rtx4090-b") << model;
    EXPECT_GE(simgrid["failovers"][1]["ready_at_s"].get<double>(), 3.5) << model;
    EXPECT_GT(simgrid["requests"]["resent"].get<int>(), 0) << model;
    EXPECT_EQ(simgrid["requests"]["completed"], 300) << model;
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << model << " with failovers differs in " << d.size() << " places:" << lines(d);
  }
  // Three clients, each with its own window, sending their own requests again after the failovers.
  const std::string clients = R"([{"name": "client", "device": "cpu-generic", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "10Gbps", "downlink": "10Gbps"},
      {"name": "c1", "device": "cpu-generic", "location": {"lat": 48.85, "lon": 2.35}, "uplink": "1Gbps", "downlink": "1Gbps"},
      {"name": "c2", "device": "cpu-generic", "location": {"lat": 52.52, "lon": 13.40}, "uplink": "2Gbps", "downlink": "500Mbps"}])";
  const auto [simgrid, flowed] = both_engines(shipped("pipeline/unet-sd-6gpu.json", {{"events", events}, {"clients", clients}, {"policy.faults.heartbeat", "\"1s\""}}));
  EXPECT_EQ(simgrid["requests"]["clients"], 3);
  EXPECT_EQ(simgrid["requests"]["completed"], 300);
  EXPECT_GT(simgrid["requests"]["resent"].get<int>(), 8) << "more than one client's window was resent";
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << "three clients with failovers differ in " << d.size() << " places:" << lines(d);

  // Failback: the A100 that comes back at 4 s takes its stage back from the RTX 4090 it had moved to.
  const auto [sg_back, flow_back] =
      both_engines(shipped("pipeline/unet-sd-6gpu.json", {{"events", events}, {"policy.faults.heartbeat", "\"1s\""}, {"policy.faults.failback", "true"}}));
  ASSERT_EQ(sg_back["failbacks"].size(), 1u) << sg_back["failbacks"];
  EXPECT_EQ(sg_back["failbacks"][0]["to"], "a100-a");
  EXPECT_TRUE(sg_back["failbacks"][0].contains("ready_at_s"));
  const auto db = differences(sg_back, flow_back, 1e-9);
  EXPECT_TRUE(db.empty()) << "failbacks differ in " << db.size() << " places:" << lines(db);
}

// Random failure schedules on the U-Net pipeline (any node down and up at random times, random
// heartbeats, one to three clients): both engines give the same metrics, each failover's steps are in order, and a
// stage left without a node leaves requests unanswered.
TEST(FlowEngine, AgreesWithSimGridOnRandomPipelineFailures) {
  // SWARMSIM_FUZZ_SEED and SWARMSIM_FUZZ_MUTANTS (schedules) hunt longer than CI does.
  Rng rng = swarmsim::testing::fuzz_rng(20261201);
  const int trials = swarmsim::testing::fuzz_mutants(12);
  const std::vector<std::string> names{"rtx4090-a", "rtx4090-b", "rtx3090-a", "rtx3090-b", "l4-a", "a100-a"};
  int failovers = 0, stalled = 0, moved_back = 0, drained = 0;
  for (int trial = 0; trial < trials; ++trial) {
    std::vector<std::pair<double, nlohmann::json>> schedule;
    const int n_events = 1 + static_cast<int>(rng.below(8));
    for (int k = 0; k < n_events; ++k) {
      const double at = 1.0 + 1.5 * rng.uniform();  // the requests arrive at 1 s; the run lasts about 2 s
      // Half the events hit the two nodes the plan puts stages on.
      const std::string& node = rng.uniform() < 0.5 ? names[rng.uniform() < 0.5 ? 0 : 5] : names[rng.below(names.size())];
      schedule.emplace_back(at, nlohmann::json{{"at", std::to_string(at) + "s"},
                                               {"action", rng.uniform() < 0.6 ? "node_down" : "node_up"},
                                               {"node", node}});
    }
    // Every other schedule turns failback on, runs twice the requests (about 4 s), and brings one
    // of the two busy nodes back late, once any failover is over (its own draws: the other
    // schedules stay as they were).
    const bool failback = trial % 2 == 1;
    if (failback) {
      Rng late(static_cast<std::uint64_t>(trial) * 7919 + 1);
      const double at = 2.5 + 1.5 * late.uniform();
      schedule.emplace_back(at, nlohmann::json{{"at", std::to_string(at) + "s"}, {"action", "node_up"}, {"node", names[late.uniform() < 0.5 ? 0 : 5]}});
    }
    // Every fourth schedule (without failback) runs the least-energy plan, the L4 alone, with the
    // other servers switched off: their events must change nothing, and the L4 failing (its own
    // draws) leaves its stage without a spare until it is back.
    const bool objective = trial % 4 == 0;
    if (objective) {
      Rng own(static_cast<std::uint64_t>(trial) * 104729 + 3);
      const double down = 1.2 + 0.8 * own.uniform(), up = down + 0.3 + 0.7 * own.uniform();
      schedule.emplace_back(down, nlohmann::json{{"at", std::to_string(down) + "s"}, {"action", "node_down"}, {"node", "l4-a"}});
      schedule.emplace_back(up, nlohmann::json{{"at", std::to_string(up) + "s"}, {"action", "node_up"}, {"node", "l4-a"}});
    }
    std::stable_sort(schedule.begin(), schedule.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    nlohmann::json events = nlohmann::json::array();
    for (const auto& [at, e] : schedule) events.push_back(e);
    const std::string heartbeat = std::to_string(50 + static_cast<int>(rng.below(900))) + "ms";
    const std::string misses = std::to_string(1 + static_cast<int>(rng.below(3)));
    nlohmann::json clients = nlohmann::json::array();  // one to three clients, each in its own city
    const int n_clients = 1 + static_cast<int>(rng.below(3));
    for (int c = 0; c < n_clients; ++c)
      clients.push_back({{"name", "client" + std::to_string(c)}, {"device", "cpu-generic"},
                         {"location", {{"lat", 48.0 + c}, {"lon", 2.0 + 5.0 * c}}}, {"uplink", c == 1 ? "1Gbps" : "10Gbps"},
                         {"downlink", "10Gbps"}});
    Scenario sc = shipped("pipeline/unet-sd-failover.json", {{"events", events.dump()}, {"clients", clients.dump()}, {"workload.sessions", failback ? "600" : "300"},
                                                             {"policy.faults.heartbeat", "\"" + heartbeat + "\""},
                                                             {"policy.faults.heartbeat_misses", misses}});
    sc.time_limit_s = 60;
    sc.policy.faults.failback = failback;
    // The failback schedules take the three handovers in turn.
    if (failback) sc.policy.partitioner.handover = std::array{Handover::Resend, Handover::Drain, Handover::Forward}[static_cast<std::size_t>(trial / 2 % 3)];
    const Handover handover = sc.policy.partitioner.handover;
    if (objective) {
      sc.policy.partitioner.objective.set = true;
      sc.policy.partitioner.objective.minimize = PlanGoal::Energy;
      sc.policy.partitioner.objective.unused_nodes = UnusedNodes::Off;
    }
    const std::string what = "trial " + std::to_string(trial) + ": " + events.dump() + ", heartbeat " + heartbeat + " x " + misses +
                             ", " + std::to_string(n_clients) + " clients" + (sc.policy.faults.failback ? ", failback" : "") +
                             (handover == Handover::Drain ? " (drain)" : handover == Handover::Forward ? " (forward)" : "") +
                             (objective ? ", least energy, others off" : "");
    const auto [simgrid, flowed] = both_engines(sc);
    if (n_clients == 1) {
      const auto d = differences(simgrid, flowed, 1e-9);
      EXPECT_TRUE(d.empty()) << what << " differs in " << d.size() << " places:" << lines(d);
    } else {
      // Several clients' messages can reach a stage within SimGrid's 1e-9 s precision of each
      // other, which the engines may then serve in either order: the failovers must be the same,
      // the throughputs within 1%, the median latency (a nearest rank on a clumped distribution)
      // within 5%, as for routed swarms.
      const auto d = differences(simgrid["failovers"], flowed["failovers"], 1e-9);
      EXPECT_TRUE(d.empty()) << what << ": failovers differ in " << d.size() << " places:" << lines(d);
      if (sc.policy.faults.failback) {
        const auto db = differences(simgrid["failbacks"], flowed["failbacks"], 1e-9);
        EXPECT_TRUE(db.empty()) << what << ": failbacks differ in " << db.size() << " places:" << lines(db);
      }
      EXPECT_EQ(simgrid["requests"]["completed"], flowed["requests"]["completed"]) << what;
      for (const char* key : {"requests_per_s", "steady_requests_per_s"})
        EXPECT_NEAR(flowed["throughput"][key].get<double>(), simgrid["throughput"][key].get<double>(),
                    0.01 * simgrid["throughput"][key].get<double>() + 1e-12) << what << ": " << key;
      EXPECT_NEAR(flowed["latency_s"]["p50"].get<double>(), simgrid["latency_s"]["p50"].get<double>(),
                  0.05 * simgrid["latency_s"]["p50"].get<double>() + 1e-12) << what;
    }
    const nlohmann::json& rq = simgrid["requests"];
    for (const nlohmann::json& f : simgrid["failovers"]) {
      ++failovers;
      EXPECT_LE(f["failed_at_s"].get<double>(), f["detected_at_s"].get<double>()) << what;
      if (!f.contains("to")) {
        ++stalled;
        EXPECT_LT(rq["completed"].get<int>(), rq["total"].get<int>()) << what << ": a stage without a node cannot answer";
        continue;
      }
      EXPECT_LE(f["detected_at_s"].get<double>(), f["ready_at_s"].get<double>()) << what;
    }
    if (sc.policy.faults.failback)
      for (const nlohmann::json& b : simgrid["failbacks"]) {
        if (b.contains("ready_at_s")) {
          ++moved_back;
          EXPECT_LE(b["started_at_s"].get<double>(), b["ready_at_s"].get<double>()) << what;
          EXPECT_EQ(b["handover"], handover == Handover::Drain ? "drain" : handover == Handover::Forward ? "forward" : "resend") << what;
          if (b.contains("drained_at_s")) {
            ++drained;
            EXPECT_GE(b["drained_at_s"].get<double>(), b["ready_at_s"].get<double>()) << what;
          }
        }
        EXPECT_NE(b.contains("ready_at_s"), b.contains("dropped")) << what << ": a failback either moves or is dropped";
      }
    if (simgrid["failovers"].empty() && (!sc.policy.faults.failback || simgrid["failbacks"].empty())) {
      EXPECT_EQ(rq["resent"], 0) << what;
    }
    if (objective) {  // a switched-off server draws nothing and never takes a stage
      ASSERT_EQ(simgrid["stages"].size(), 1u) << what;
      EXPECT_EQ(simgrid["stages"][0]["node"], "l4-a") << what;
      std::set<std::string> off;
      for (const nlohmann::json& n : simgrid["partition"]["objective"]["switched_off"]) off.insert(n.get<std::string>());
      EXPECT_FALSE(off.empty()) << what;
      for (const nlohmann::json& h : simgrid["energy"]["hosts"])
        if (off.count(h["name"].get<std::string>())) {
          EXPECT_EQ(h["energy_joules"].get<double>(), 0.0) << what << ": " << h["name"];
        }
      for (const nlohmann::json& f : simgrid["failovers"])
        if (f.contains("to")) {
          EXPECT_EQ(off.count(f["to"].get<std::string>()), 0u) << what;
        }
    }
  }
  EXPECT_GT(failovers, 5) << "the schedules must hit stages";
  if (trials >= 12) {
    EXPECT_GT(moved_back, 0) << "the schedules must bring faster nodes back";
    EXPECT_GT(drained, 0) << "some moves must drain or forward";
  }
  std::printf("%d failovers, %d stalled without a spare, %d failbacks moved a stage, %d drained\n", failovers, stalled, moved_back, drained);
}

// Routed swarms: the eq. 18 router reads live load, so a difference at the last bit can flip a
// routing decision and the runs part; the aggregate figures must still agree closely.
TEST(FlowEngine, AgreesWithSimGridOnRoutedSwarms) {
  for (const std::string rel : {"routing/geo-spread.json", "routing/straggler.json", "routing/congested-link.json", "routing/flapping-node.json",
                                "routing/churn.json"}) {
    const auto [simgrid, flowed] = both_engines(shipped(rel));
    EXPECT_EQ(flowed["sessions"]["completed"], simgrid["sessions"]["completed"]) << rel;
    EXPECT_NEAR(tokens_per_s(flowed) / tokens_per_s(simgrid), 1.0, 0.05) << rel;
    const double p50_s = simgrid["latency_s"]["per_token"]["p50"].get<double>();
    EXPECT_NEAR(flowed["latency_s"]["per_token"]["p50"].get<double>() / p50_s, 1.0, 0.05) << rel;
  }
  // The benchmark's generated swarm: 100 nodes on five continents, 500 Poisson sessions.
  Scenario sc = bench::generated_swarm(100, 10, 500, 5.0, 16);
  const auto [simgrid, flowed] = both_engines(sc);
  EXPECT_EQ(flowed["sessions"]["completed"], simgrid["sessions"]["completed"]);
  EXPECT_NEAR(tokens_per_s(flowed) / tokens_per_s(simgrid), 1.0, 0.05);
  EXPECT_NEAR(flowed["network"]["hops"].get<double>() / simgrid["network"]["hops"].get<double>(), 1.0, 0.05);
}

TEST(FlowEngine, IsDeterministicAndRunsManyTimesInOneProcess) {
  Scenario sc = shipped("routing/straggler.json", {{"simulation.engine", "\"flow\""}});
  nlohmann::json first;
  for (int i = 0; i < 3; ++i) {
    SwarmSimulation sim(sc, make_cost_model(sc));
    nlohmann::json m = sim.run(quiet()).metrics;
    m.erase("wall_clock");
    if (i == 0)
      first = m;
    else
      EXPECT_EQ(m, first) << "run " << i;
  }
}

TEST(FlowEngine, RefusesRealExecution) {
  Scenario sc = shipped("sanity/two_node.json", {{"simulation.engine", "\"flow\""}});
  SimSignals signals;
  RunOptions o = quiet();
  o.execute_real = true;
  try {
    flow::run_flow_engine(sc, make_cost_model(sc), signals, o);
    FAIL() << "ran with --execute real";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"simulation.engine\": \"simgrid\""), std::string::npos) << e.what();
  }
}

TEST(FlowEngine, TimeLimitFailsTheSessionsItCutsShort) {
  Scenario sc = shipped("sanity/two_node.json", {{"simulation.engine", "\"flow\""}, {"simulation.time_limit", "\"12s\""}});
  SwarmSimulation sim(sc, make_cost_model(sc));
  const RunReport r = sim.run(quiet());
  EXPECT_DOUBLE_EQ(r.simulated_time, 12.0);
  EXPECT_EQ(r.metrics["sessions"]["failed"].get<int>(), 2);  // the first is mid-decode, the second not yet arrived
  const std::string reasons = r.metrics["sessions"]["failures"].dump();
  EXPECT_NE(reasons.find("time limit reached before the session arrived"), std::string::npos) << reasons;
}

// Fisher B-trees (seed 000): the shipped skewed tree, whose leaves split and whose root
// overflows into a new root on the A100, gives the same figures on both engines, on either
// network model, with and without replayed bandwidth and latency changes, and with three clients.
TEST(FlowEngine, MatchesSimGridOnFisherTrees) {
  const std::string events = R"([{"at": "2s", "action": "set_bandwidth", "node": "rtx3090-1", "bandwidth": "200Mbps"},
      {"at": "3s", "action": "set_latency", "node": "a100-a", "latency": "4ms"},
      {"at": "5s", "action": "set_latency", "node": "client-a", "peer": "rtx3090-0", "latency": "9ms"}])";
  for (const std::string model : {"tcp", "exact"}) {
    const auto [simgrid, flowed] = both_engines(shipped("tree/fisher-btree-skewed.json", {{"network.model", "\"" + model + "\""}, {"workload.sessions", "3000"}}));
    EXPECT_GE(simgrid["tree"]["splits"].size(), 3u) << model;
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << "tree on " << model << " differs in " << d.size() << " places:" << lines(d);
  }
  const std::string clients = R"([{"name": "client-a", "device": "cpu-generic", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps"},
      {"name": "c1", "device": "cpu-generic", "location": {"lat": 48.85, "lon": 2.35}, "uplink": "1Gbps", "downlink": "1Gbps"},
      {"name": "c2", "device": "cpu-generic", "location": {"lat": 52.52, "lon": 13.40}, "uplink": "2Gbps", "downlink": "500Mbps"}])";
  const auto [simgrid, flowed] = both_engines(shipped(
      "tree/fisher-btree-skewed.json", {{"network.model", "\"exact\""}, {"events", events}, {"clients", clients}, {"workload.sessions", "3000"}}));
  EXPECT_EQ(simgrid["requests"]["clients"], 3);
  EXPECT_EQ(simgrid["requests"]["completed"], 3000);
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << "tree with replayed changes and three clients differs in " << d.size() << " places:" << lines(d);
  // Failures: a leaf's server, back later as a spare; then the root's, with no spare left, so the
  // clients wait for it to come back.
  const std::string failures = R"([{"at": "3s", "action": "node_down", "node": "rtx3090-0"}, {"at": "8s", "action": "node_up", "node": "rtx3090-0"},
      {"at": "10.3s", "action": "node_down", "node": "a100-a"}, {"at": "20s", "action": "node_up", "node": "a100-a"}])";
  for (const std::string model : {"tcp", "exact"}) {
    const auto [sg_fail, flow_fail] = both_engines(shipped(
        "tree/fisher-btree-skewed.json", {{"network.model", "\"" + model + "\""}, {"events", failures}, {"policy.faults.heartbeat", "\"500ms\""}}));
    ASSERT_EQ(sg_fail["tree"]["failovers"].size(), 2u) << model;
    EXPECT_GE(sg_fail["tree"]["failovers"][1]["ready_at_s"].get<double>(), 20.0) << model << ": the root waited for its server";
    EXPECT_GT(sg_fail["requests"]["resent"].get<int>(), 0) << model;
    EXPECT_EQ(sg_fail["requests"]["completed"], 6000) << model;
    const auto df = differences(sg_fail, flow_fail, 1e-9);
    EXPECT_TRUE(df.empty()) << "tree with failures on " << model << " differs in " << df.size() << " places:" << lines(df);
  }
  // Slower arrivals leave a spare for the root: it moves to an RTX 3090 while both clients hold
  // requests and have lost ones to send again (they go first), and with failback the A100 that
  // comes back at 20 s takes the root back.
  const auto [sg_back, flow_back] = both_engines(shipped("tree/fisher-btree-failures.json",
                                                         {{"workload.sessions", "1200"}, {"workload.arrival.rate", "\"50/s\""},
                                                          {"policy.faults.failback", "true"}}));
  ASSERT_EQ(sg_back["tree"]["failovers"].size(), 2u);
  EXPECT_EQ(sg_back["tree"]["failovers"][1]["to"], "rtx3090-0");
  ASSERT_EQ(sg_back["tree"]["failbacks"].size(), 1u);
  EXPECT_EQ(sg_back["tree"]["failbacks"][0]["to"], "a100-a");
  EXPECT_DOUBLE_EQ(sg_back["tree"]["failbacks"][0]["ready_at_s"].get<double>(), 20.8);
  EXPECT_EQ(sg_back["requests"]["completed"], 1200);
  const auto db = differences(sg_back, flow_back, 1e-9);
  EXPECT_TRUE(db.empty()) << "tree with a failback differs in " << db.size() << " places:" << lines(db);
}

// Erasure-coded inference (seed 001): both shipped scenarios give the same figures on both
// engines, on either network model; with a decode wait and cancels, with two clients and replayed bandwidth
// and latency changes; uncoded while a server is down (a failover to a spare included); and with a
// server that fails again while it reloads.
TEST(FlowEngine, MatchesSimGridOnCodedInference) {
  for (const std::string model : {"tcp", "exact"})
    for (const std::string file : {"coded/coin-stragglers.json", "coded/coin-failover.json", "coded/coin-two-failures.json"}) {
      const auto [simgrid, flowed] = both_engines(shipped(file, {{"network.model", "\"" + model + "\""}, {"workload.sessions", "2000"}}));
      EXPECT_EQ(simgrid["requests"]["completed"], 2000) << file;
      EXPECT_GT(simgrid["requests"]["decoded"].get<int>(), 40) << file;
      // coin-failover: model 1 moves to the spare; coin-two-failures: two failures, no spare.
      EXPECT_EQ(simgrid["failovers"].size(), file == "coded/coin-failover.json" ? 1u : file == "coded/coin-two-failures.json" ? 2u : 0u) << file;
      const auto d = differences(simgrid, flowed, 1e-9);
      EXPECT_TRUE(d.empty()) << file << " on " << model << " differs in " << d.size() << " places:" << lines(d);
    }
  const std::string events = R"([{"at": "2s", "action": "set_bandwidth", "node": "model-0", "bandwidth": "200Mbps"},
      {"at": "3s", "action": "set_latency", "node": "coded", "latency": "4ms"},
      {"at": "5s", "action": "set_latency", "node": "c1", "peer": "model-1", "latency": "9ms"}])";
  const std::string clients = R"([{"name": "client", "device": "cpu-generic", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "10Gbps", "downlink": "10Gbps"},
      {"name": "c1", "device": "cpu-generic", "location": {"lat": 48.85, "lon": 2.35}, "uplink": "1Gbps", "downlink": "500Mbps"}])";
  const auto [sg_wait, flow_wait] = both_engines(shipped("coded/coin-stragglers.json", {{"network.model", "\"exact\""}, {"events", events},
                                                                                         {"clients", clients}, {"workload.sessions", "1500"},
                                                                                         {"model.coded.decode_wait", "\"5ms\""},
                                                                                         {"model.coded.cancel", "true"}}));
  EXPECT_EQ(sg_wait["requests"]["clients"], 2);
  EXPECT_GT(sg_wait["requests"]["decoded"].get<int>(), 20);
  EXPECT_GT(sg_wait["members"][1]["dropped"].get<int>(), 0);
  const auto dw = differences(sg_wait, flow_wait, 1e-9);
  EXPECT_TRUE(dw.empty()) << "coded with a decode wait, two clients and replayed changes differs in " << dw.size() << " places:" << lines(dw);
  const auto [sg_unc, flow_unc] = both_engines(shipped("coded/coin-failover.json", {{"model.coded.parity", "0"}, {"workload.sessions", "1500"}}));
  EXPECT_GT(sg_unc["requests"]["resent"].get<int>(), 0);
  const auto du = differences(sg_unc, flow_unc, 1e-9);
  EXPECT_TRUE(du.empty()) << "uncoded with a failure differs in " << du.size() << " places:" << lines(du);
  // Model 1 fails at 10 s, is back at 18 s, fails again at 18.1 s while it reloads (0.3 s), and is back for good at 19 s.
  const std::string flapping = R"([{"at": "10s", "action": "node_down", "node": "model-1"}, {"at": "18s", "action": "node_up", "node": "model-1"},
      {"at": "18.1s", "action": "node_down", "node": "model-1"}, {"at": "19s", "action": "node_up", "node": "model-1"}])";
  const auto [sg_flap, flow_flap] =
      both_engines(shipped("coded/coin-failover.json", {{"events", flapping}, {"model.coded.parity", "0"}, {"policy.faults.heartbeat", "\"5s\""}}));
  EXPECT_EQ(sg_flap["members"][1]["failures"], 2);
  EXPECT_EQ(sg_flap["requests"]["completed"], 4000);
  const auto df = differences(sg_flap, flow_flap, 1e-9);
  EXPECT_TRUE(df.empty()) << "uncoded with a server failing while it reloads differs in " << df.size() << " places:" << lines(df);
  // Two coded models (the spare serves as the second, so model 1 has none when it fails): any two of the four outputs complete a request.
  const auto [sg_two, flow_two] = both_engines(shipped("coded/coin-failover.json", {{"model.coded.parity", "2"}, {"workload.sessions", "1500"},
                                                                                       {"model.coded.decode_wait", "\"2ms\""},
                                                                                       {"model.coded.straggle", R"({"probability": 0.2, "slowdown": 10})"}}));
  EXPECT_EQ(sg_two["members"].size(), 4u);
  EXPECT_GT(sg_two["requests"]["outputs_decoded"].get<int>(), sg_two["requests"]["decoded"].get<int>()) << "some requests decode both";
  const auto dt = differences(sg_two, flow_two, 1e-9);
  EXPECT_TRUE(dt.empty()) << "two coded models differ in " << dt.size() << " places:" << lines(dt);
}

// Fine-tuning sessions: forward and backward legs, checkpoints, and a failure whose replacement
// restores the adapters, on both engines.
TEST(FlowEngine, MatchesSimGridOnFineTuning) {
  for (const std::string every : {"5", "0"}) {
    const auto [simgrid, flowed] = both_engines(shipped("fine-tuning/lora-llama3-8b.json", {{"workload.fine_tuning.checkpoint_every", every},
                                                                                             {"workload.fine_tuning.loss", "null"}}));
    EXPECT_GT(simgrid["fine_tuning"]["checkpoints"]["restored"].get<int>(), 0);
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << "checkpoint_every " << every << ": " << d.size() << " differences:" << lines(d);
  }
  for (const char* every : {"1", "5"}) {  // data-parallel jobs of two sessions, with the failure; a peer restores without checkpoints
    const auto [simgrid, flowed] = both_engines(shipped("fine-tuning/lora-llama3-8b.json", {{"workload.fine_tuning.replicas", "2"},
                                                                                             {"workload.fine_tuning.loss", "null"},
                                                                                             {"workload.fine_tuning.sync_every", every},
                                                                                             {"workload.fine_tuning.checkpoint_every", every}}));
    EXPECT_GT(simgrid["fine_tuning"]["sync"]["averagings"].get<int>(), 0);
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << "replicas 2, sync_every " << every << ": " << d.size() << " differences:" << lines(d);
  }
  {  // a dishonest server poisoning the steps through it, with the failure: the same steps, the same loss
    const auto [simgrid, flowed] = both_engines(shipped("fine-tuning/lora-llama3-8b.json", {{"nodes[2].dishonest", R"({"from": "30s", "magnitude": 0.5})"},
                                                                                           {"workload.fine_tuning.steps", "12"},
                                                                                           {"workload.fine_tuning.loss", R"({"sequences": 1, "tokens": 8})"}}));
    EXPECT_GT(simgrid["fine_tuning"]["poisoned_steps"].get<int>(), 0);
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << "dishonest: " << d.size() << " differences:" << lines(d);
  }
  {  // ZeRO-2 pairs with the failure: two rounds of shards every step, the proxy on the mean gradient
    const auto [simgrid, flowed] = both_engines(shipped("fine-tuning/lora-llama3-8b.json", {{"workload.fine_tuning.replicas", "2"},
                                                                                           {"workload.fine_tuning.zero", "2"},
                                                                                           {"workload.fine_tuning.steps", "12"},
                                                                                           {"workload.fine_tuning.loss", R"({"sequences": 1, "tokens": 8})"}}));
    EXPECT_FALSE(simgrid["fine_tuning"]["loss"]["restores"].empty());
    EXPECT_EQ(simgrid["fine_tuning"]["sync"]["averagings"].get<int>(), 4 * 12);
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << "ZeRO-2: " << d.size() << " differences:" << lines(d);
  }
  {  // one job of four under ZeRO-1, its server failing during a synchronization (given up once)
    const auto [simgrid, flowed] = both_engines(shipped("fine-tuning/lora-llama3-8b-jobs.json", {{"workload.fine_tuning.replicas", "4"},
                                                                                                {"workload.fine_tuning.zero", "1"},
                                                                                                {"workload.fine_tuning.sync_every", "1"},
                                                                                                {"workload.fine_tuning.loss", "null"}}));
    EXPECT_GT(simgrid["fine_tuning"]["checkpoints"]["restored"].get<int>(), 0);
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << "ZeRO-1, one job of four: " << d.size() << " differences:" << lines(d);
  }
  {  // split learning: the clients train blocks 0-1 and exchange them at each averaging; with the failure
    const auto [simgrid, flowed] = both_engines(shipped("fine-tuning/lora-llama3-8b.json", {{"workload.fine_tuning.replicas", "2"},
                                                                                           {"workload.fine_tuning.sync_every", "2"},
                                                                                           {"policy.privacy.client_blocks", "2"},
                                                                                           {"workload.fine_tuning.loss", "null"}}));
    EXPECT_GT(simgrid["fine_tuning"]["device_seconds"]["client_backward"].get<double>(), 0.0);
    EXPECT_GT(simgrid["fine_tuning"]["checkpoints"]["restored"].get<int>(), 0);
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << "split learning: " << d.size() << " differences:" << lines(d);
  }
  {  // admission retries spread by jitter: the same draws from the same streams. Start times off the
     // 1 s grid round differently in the two engines (1e-15 at first); shared devices and links carry
     // that drift to 1e-7 over this run, and to 1e-4 with the failure as well: compared to 1e-6.
    const auto [simgrid, flowed] = both_engines(shipped("fine-tuning/lora-llama3-8b.json", {{"policy.admission_jitter", "0.5"},
                                                                                           {"events", "[]"},
                                                                                           {"workload.fine_tuning.loss", "null"}}));
    const auto d = differences(simgrid, flowed, 1e-6);
    EXPECT_TRUE(d.empty()) << "admission jitter: " << d.size() << " differences:" << lines(d);
  }
  {  // the loss proxy follows both engines' updates, restores from peers and averagings alike
    const auto [simgrid, flowed] = both_engines(shipped("fine-tuning/lora-llama3-8b.json", {{"workload.fine_tuning.replicas", "2"},
                                                                                           {"workload.fine_tuning.sync_every", "3"},
                                                                                           {"workload.fine_tuning.steps", "16"},
                                                                                           {"workload.fine_tuning.loss", R"({"sequences": 1, "tokens": 8})"}}));
    EXPECT_FALSE(simgrid["fine_tuning"]["loss"]["restores"].empty());
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << "loss proxy: " << d.size() << " differences:" << lines(d);
  }
  const auto [simgrid, flowed] = both_engines(shipped("sanity/two_node.json", {{"workload.new_tokens", "null"},
                                                                               {"workload.fine_tuning", R"({"adapter": "bottleneck", "rank": 32, "steps": 3, "optimizer": "sgd"})"}}));
  EXPECT_EQ(simgrid["fine_tuning"]["steps"].get<int>(), 3 * simgrid["sessions"]["total"].get<int>());
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << "bottleneck on two_node: " << d.size() << " differences:" << lines(d);
}

// A scenario whose node events come after its last session (3090-b0 goes down at 60 s and back at
// 150 s; six steps end at 50 s): the run is over at its last session on both engines, so no node
// counts those changes, and the SimGrid engine's event log ends with run_end.
TEST(FlowEngine, MatchesSimGridWhenTheScenariosEventsOutlastItsSessions) {
  Scenario sc = shipped("fine-tuning/lora-llama3-8b.json", {{"workload.fine_tuning.steps", "6"}, {"workload.fine_tuning.loss", "null"}});
  const auto [simgrid, flowed] = both_engines(sc);
  ASSERT_LT(simgrid["simulated_time_s"].get<double>(), 60.0);
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << d.size() << " differences:" << lines(d);
  for (const auto& n : simgrid["nodes"]) EXPECT_LE(n["up_seconds"].get<double>(), simgrid["simulated_time_s"].get<double>()) << n["name"];
}

// workload.abandon_share: the users of about half the sessions leave mid-way without closing them.
// Both engines end the same sessions at the same step, count them as abandoned (not failed), and
// free their servers' KV caches policy.faults.session_timeout later (at once with "0s").
TEST(FlowEngine, MatchesSimGridWhenUsersAbandonTheirSessions) {
  for (const char* timeout : {"5s", "0s"}) {
    const Scenario sc = shipped("table2/llama3-8b-100mbps-rtt10ms.json",
                 {{"events", "[]"}, {"workload.sessions", "8"}, {"workload.arrival", R"({"process": "poisson", "rate": "1/s"})"},
                  {"workload.abandon_share", "0.5"}, {"policy.faults.session_timeout", std::string("\"") + timeout + "\""}});
    int leaving = 0;
    for (int k = 0; k < sc.workload.sessions; ++k) leaving += session_shape(sc, k, 0.0).abandon_step >= 0;
    ASSERT_GT(leaving, 0) << "no session of seed " << sc.seed << " is drawn to be abandoned";
    ASSERT_LT(leaving, sc.workload.sessions);
    const std::string tag = std::string("abandon-") + (timeout[0] == '5' ? "5s" : "0s");
    const auto [simgrid, sg_kv, sg_downs] = run_with_events(sc, EngineKind::SimGrid, tag + "-simgrid");
    const auto [flowed, flow_kv, flow_downs] = run_with_events(sc, EngineKind::Flow, tag + "-flow");
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << timeout << ": " << d.size() << " differences:" << lines(d);
    expect_same_kv(sg_kv, flow_kv);
    EXPECT_EQ(simgrid["sessions"]["abandoned"].get<int>(), leaving);
    EXPECT_EQ(simgrid["sessions"]["failed"].get<int>(), 0);
    EXPECT_EQ(simgrid["sessions"]["completed"].get<int>(), sc.workload.sessions - leaving);
    EXPECT_DOUBLE_EQ(simgrid["sessions"]["session_timeout_s"].get<double>(), timeout[0] == '5' ? 5.0 : 0.0);
    // Each abandoned session's servers (its whole chain: one per block range) free its caches the
    // timeout after it ended, unless the run ended first.
    const double held = timeout[0] == '5' ? 5.0 : 0.0;
    const double end = simgrid["simulated_time_s"].get<double>();
    std::ifstream in(swarmsim::test::temp_path(tag + "-simgrid") / "events.jsonl");
    int checked = 0;
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (j["type"] != "session_failed") continue;
      ASSERT_TRUE(j.value("abandoned", false)) << line;
      EXPECT_NE(j["reason"].get<std::string>().find("abandoned by its user before"), std::string::npos) << line;
      const double t = j["t"].get<double>() + held;
      if (t > end) continue;
      int freed = 0;  // kv lines of that instant that lower a server's total
      for (std::size_t i = 0; i < sg_kv.size(); ++i)
        if (std::abs(sg_kv[i].t - t) < 1e-9)
          for (std::size_t p = i; p-- > 0;)
            if (sg_kv[p].node == sg_kv[i].node) {
              freed += sg_kv[i].bytes < sg_kv[p].bytes;
              break;
            }
      EXPECT_EQ(freed, 6) << "session ended at " << j["t"] << ": its six servers should free their caches at " << t;
      ++checked;
    }
    EXPECT_GT(checked, 0) << timeout << ": no abandoned session's timeout fell within the run";
  }
}

// A client goes down (a frontend that crashes): its sessions in flight end at their next step,
// routing attempt or answer, those that arrive while it is down end at once, and their servers hold
// the caches for the step timeout. Both engines lose the same sessions at the same times; the
// other client's sessions complete. The second case takes a server down just before, so that some
// of the lost sessions are recovering when their client goes.
TEST(FlowEngine, MatchesSimGridWhenAClientGoesDown) {
  const std::string client_down = R"({"at": "34s", "action": "node_down", "node": "fe-1"}, {"at": "36.5s", "action": "node_up", "node": "fe-1"})";
  const std::vector<std::string> cases{"[" + client_down + "]",
                                       R"([{"at": "33.5s", "action": "node_down", "node": "l4-1"}, )" + client_down + "]"};
  int lost_in_flight = 0, lost_at_arrival = 0, lost_in_recovery = 0;
  for (std::size_t c = 0; c < cases.size(); ++c) {
    const Scenario sc = shipped(
        "table2/llama3-8b-100mbps-rtt10ms.json",
        {{"clients", R"([{"name": "fe-0", "device": "cpu-generic", "location": {"lat": 50.1, "lon": 8.66}, "uplink": "100Mbps", "downlink": "100Mbps"},
                         {"name": "fe-1", "device": "cpu-generic", "location": {"lat": 50.2, "lon": 8.7}, "uplink": "100Mbps", "downlink": "100Mbps"}])"},
         {"events", cases[c]},
         {"workload.sessions", "10"},  // one a second from 30 s; more contention would part the engines at SimGrid's 1e-5 rounding
         {"workload.arrival", R"({"process": "fixed", "interval": "1s"})"},
         {"policy.faults.session_timeout", "\"5s\""}});
    const std::string tag = "client-down-" + std::to_string(c);
    const auto [simgrid, sg_kv, sg_downs] = run_with_events(sc, EngineKind::SimGrid, tag + "-simgrid");
    const auto [flowed, flow_kv, flow_downs] = run_with_events(sc, EngineKind::Flow, tag + "-flow");
    const auto d = differences(simgrid, flowed, 1e-9);
    EXPECT_TRUE(d.empty()) << cases[c] << ": " << d.size() << " differences:" << lines(d);
    expect_same_kv(sg_kv, flow_kv);
    EXPECT_EQ(sg_downs, flow_downs);
    EXPECT_NE(std::find(sg_downs.begin(), sg_downs.end(), std::make_pair(34.0, std::string("fe-1"))), sg_downs.end())
        << "events.jsonl has no node_down of fe-1 at 34 s";
    const nlohmann::json& s = simgrid["sessions"];
    EXPECT_DOUBLE_EQ(s["session_timeout_s"].get<double>(), 5.0);
    if (c == 0) {
      EXPECT_EQ(s["failed"].get<int>(), 0) << s.dump();
    }
    const double end = simgrid["simulated_time_s"].get<double>();
    std::ifstream in(swarmsim::test::temp_path(tag + "-simgrid") / "events.jsonl");
    std::map<int, double> arrived;
    int lost = 0;
    for (std::string line; std::getline(in, line);) {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (j["type"] == "session_start") arrived[j["session"].get<int>()] = j["t"].get<double>();
      if (j["type"] == "session_done" && j["session"].get<int>() % 2 == 1) {  // fe-1's: before its outage (its last LM
        EXPECT_TRUE(arrived[j["session"].get<int>()] >= 36.5 || j["t"].get<double>() < 34.05)  // head may end just after) or after it
            << "a session of fe-1 in flight at its outage completed: " << line;
      }
      if (j["type"] != "session_failed" || !j.value("client_lost", false)) continue;
      ++lost;
      const int k = j["session"].get<int>();
      const double t = j["t"].get<double>();
      const std::string reason = j["reason"].get<std::string>();
      EXPECT_EQ(k % 2, 1) << "sessions alternate between the clients; only fe-1's are lost: " << line;
      EXPECT_GE(t, 34.0) << line;
      if (arrived[k] >= 34.0) {  // it arrived while its client was down: it ends at once
        EXPECT_LT(arrived[k], 36.5) << line;
        EXPECT_DOUBLE_EQ(t, arrived[k]) << line;
        EXPECT_EQ(reason, "its client fe-1 was down when it arrived (since 34.000 s)");
        ++lost_at_arrival;
        continue;
      }
      EXPECT_EQ(reason.rfind("its client fe-1 went down at 34.000 s (", 0), 0u) << line;
      ++lost_in_flight;
      lost_in_recovery += reason.find("(recovery of l4-1 at ") != std::string::npos;
      if (t + 5.0 > end) continue;
      int freed = 0;  // kv lines of the timeout's instant that lower a server's total
      for (std::size_t i = 0; i < sg_kv.size(); ++i)
        if (std::abs(sg_kv[i].t - (t + 5.0)) < 1e-9)
          for (std::size_t p = i; p-- > 0;)
            if (sg_kv[p].node == sg_kv[i].node) {
              freed += sg_kv[i].bytes < sg_kv[p].bytes;
              break;
            }
      EXPECT_GE(freed, 1) << "session " << k << " ended at " << t << ": its servers should free its caches at " << t + 5.0;
    }
    EXPECT_EQ(s["lost_with_client"].get<int>(), lost);
    EXPECT_EQ(s["completed"].get<int>() + s["failed"].get<int>() + lost, sc.workload.sessions);
  }
  EXPECT_GT(lost_in_flight, 0) << "no session was in flight on fe-1 when it went down";
  EXPECT_GT(lost_at_arrival, 0) << "no session arrived at fe-1 while it was down";
  EXPECT_GT(lost_in_recovery, 0) << "no session was recovering from l4-1's failure when fe-1 went down";
}

// Failures of a client drawn by churn (its own mtbf): the same lost sessions on both engines, all
// of that client's, none of the other's.
TEST(FlowEngine, MatchesSimGridWithDrawnClientFailures) {
  const Scenario sc = shipped(
      "table2/llama3-8b-100mbps-rtt10ms.json",
      {{"clients", R"([{"name": "fe-0", "device": "cpu-generic", "location": {"lat": 50.1, "lon": 8.66}, "uplink": "100Mbps", "downlink": "100Mbps"},
                       {"name": "fe-1", "device": "cpu-generic", "location": {"lat": 50.2, "lon": 8.7}, "uplink": "100Mbps", "downlink": "100Mbps",
                        "mtbf": "8s", "mttr": "3s"}])"},
       {"churn", R"({"mttr": "1min", "mtbf": "100000h", "until": "80s"})"},  // the servers' failures: none within the run
       {"workload.sessions", "10"},
       {"workload.arrival", R"({"process": "fixed", "interval": "1s"})"},
       {"policy.faults.session_timeout", "\"5s\""}});
  int fe1_downs = 0;
  for (const ReplayEvent& e : sc.events) {
    EXPECT_EQ(e.node, "fe-1") << "only fe-1 has failures drawn";
    fe1_downs += e.action == EventAction::NodeDown;
  }
  ASSERT_GE(fe1_downs, 2);
  const auto [simgrid, sg_kv, sg_downs] = run_with_events(sc, EngineKind::SimGrid, "client-churn-simgrid");
  const auto [flowed, flow_kv, flow_downs] = run_with_events(sc, EngineKind::Flow, "client-churn-flow");
  const auto d = differences(simgrid, flowed, 1e-9);
  EXPECT_TRUE(d.empty()) << d.size() << " differences:" << lines(d);
  expect_same_kv(sg_kv, flow_kv);
  const nlohmann::json& s = simgrid["sessions"];
  EXPECT_GT(s["lost_with_client"].get<int>(), 0) << s.dump();
  EXPECT_EQ(s["completed"].get<int>() + s["failed"].get<int>() + s["lost_with_client"].get<int>(), sc.workload.sessions);
  std::ifstream in(swarmsim::test::temp_path("client-churn-simgrid") / "events.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (j["type"] == "session_failed" && j.value("client_lost", false)) {
      EXPECT_EQ(j["session"].get<int>() % 2, 1) << "sessions alternate between the clients; only fe-1's are lost: " << line;
    }
  }
}
