// Behaviour of the simulated swarm. Tests that need several runs use run_isolated (a child process
// per run); tests that watch signals run one simulation in their own process (one ctest each).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "gpu/shard_cost_model.hpp"
#include "sim/engine/isolated_run.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;
namespace fs = std::filesystem;

namespace {

std::string scenario_path(const std::string& rel) { return std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + rel; }

Scenario load(const std::string& rel, const std::vector<Override>& overrides = {}) {
  return load_scenario_file(scenario_path(rel), overrides);
}

RunOptions quiet(const fs::path& out = {}) {
  RunOptions o;
  o.out_dir = out;
  o.progress = RunOptions::Progress::Never;
  return o;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("swarmsim-test-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(d);
  return d;
}

double tokens_per_s(const std::string& rel, const std::vector<Override>& overrides) {
  return run_isolated(load(rel, overrides), quiet()).metrics["throughput"]["tokens_per_s"].get<double>();
}

/// Runs one simulation in this process and records what the signals report.
struct Recorded {
  std::vector<TransferSpan> transfers;
  std::vector<ChainFormed> chains;
  std::vector<SessionEnded> ended;
  std::vector<NodeJoined> joins;
  std::vector<NodeStateChanged> states;
  RunReport report;
};

Recorded run_here(const Scenario& sc) {
  SwarmSimulation sim(sc, make_cost_model(sc));
  Recorded r;
  sim.signals().on_transfer.connect([&](const TransferSpan& t) { r.transfers.push_back(t); });
  sim.signals().on_chain_formed.connect([&](const ChainFormed& c) { r.chains.push_back(c); });
  sim.signals().on_session_ended.connect([&](const SessionEnded& e) { r.ended.push_back(e); });
  sim.signals().on_node_joined.connect([&](const NodeJoined& j) { r.joins.push_back(j); });
  sim.signals().on_node_state.connect([&](const NodeStateChanged& s) { r.states.push_back(s); });
  r.report = sim.run(quiet());
  return r;
}

// Hand figures of the two-node scenario (see transfer_test.cpp): 5 ms one way, 12.5e6 B/s.
constexpr double kLatency = 0.005;
constexpr double kBottleneck = 12.5e6;
const std::vector<Override> kNoOverheads{{"overheads.rpc", "0ms"}, {"overheads.serialization_bandwidth", "1TBps"},
                                         {"policy.faults.checksum_bandwidth", "1TBps"}};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Determinism
// ---------------------------------------------------------------------------------------------

TEST(Determinism, SameScenarioAndSeedGiveByteIdenticalOutputs) {
  // Randomness everywhere: Poisson arrivals and the random router.
  const std::vector<Override> o{{"workload.sessions", "6"},
                                {"workload.arrival", R"({"process": "poisson", "rate": "0.5/s"})"},
                                {"policy.router", "random"}};
  const Scenario sc = load("table2/llama3-8b-1gbps-rtt5ms.json", o);
  const fs::path a = fresh_dir("det-a"), b = fresh_dir("det-b");
  run_isolated(sc, quiet(a));
  run_isolated(sc, quiet(b));
  auto strip = [](const fs::path& p) {
    auto j = nlohmann::json::parse(read_file(p));
    j.erase("wall_clock");
    return j.dump(2);
  };
  EXPECT_EQ(strip(a / "metrics.json"), strip(b / "metrics.json"));
  EXPECT_EQ(read_file(a / "events.jsonl"), read_file(b / "events.jsonl"));
  EXPECT_EQ(read_file(a / "trace.json"), read_file(b / "trace.json"));
  // The seed matters: another seed draws other arrivals.
  Scenario other = sc;
  other.seed = sc.seed + 1;
  const fs::path c = fresh_dir("det-c");
  run_isolated(other, quiet(c));
  EXPECT_NE(strip(a / "metrics.json"), strip(c / "metrics.json"));
  for (const fs::path& d : {a, b, c}) fs::remove_all(d);
}

// ---------------------------------------------------------------------------------------------
// Seed 002, Table 2 setups
// ---------------------------------------------------------------------------------------------

TEST(Table2, TokensPerSecondGrowWithBatchSize) {
  for (const char* f : {"table2/llama3-8b-1gbps-rtt5ms.json", "table2/llama3-8b-100mbps-rtt10ms.json",
                        "table2/mixtral-8x7b-1gbps-rtt5ms.json", "table2/mixtral-8x7b-100mbps-rtt10ms.json"}) {
    const double b1 = tokens_per_s(f, {{"workload.batch_size", "1"}});
    const double b32 = tokens_per_s(f, {{"workload.batch_size", "32"}});
    const double b64 = tokens_per_s(f, {{"workload.batch_size", "64"}});
    EXPECT_LT(b1, b32) << f;
    EXPECT_LT(b32, b64) << f;
  }
}

TEST(Table2, TokensPerSecondFallWhenBandwidthDrops) {
  for (const char* model : {"llama3-8b", "mixtral-8x7b"}) {
    for (const char* batch : {"1", "32", "64"}) {
      for (const char* seq : {"64", "1024"}) {
        const std::vector<Override> o{{"workload.batch_size", batch}, {"workload.prompt_tokens", seq}};
        const double fast = tokens_per_s(std::string("table2/") + model + "-1gbps-rtt5ms.json", o);
        const double slow = tokens_per_s(std::string("table2/") + model + "-100mbps-rtt10ms.json", o);
        EXPECT_GT(fast, slow) << model << " batch " << batch << " seq " << seq;
      }
    }
  }
}

TEST(Table2, EveryNodeServesItsRangeAndTheChainUsesAllSix) {
  const auto m = run_isolated(load("table2/llama3-8b-1gbps-rtt5ms.json"), quiet()).metrics;
  ASSERT_EQ(m["nodes"].size(), 6u);
  for (const auto& n : m["nodes"]) {
    EXPECT_EQ(n["chains"].get<int>(), 1) << n["name"];
    EXPECT_GT(n["utilization"].get<double>(), 0.0) << n["name"];
  }
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 1);
  // 32 steps x 7 hops (client -> 6 servers -> client).
  EXPECT_EQ(m["network"]["hops"].get<int>(), 32 * 7);
}

// ---------------------------------------------------------------------------------------------
// Replayed changes and failures
// ---------------------------------------------------------------------------------------------

// A chain server goes down mid-session and nobody else holds its blocks: the session waits (route
// retries) until the server is back and has reloaded them, replays its inputs into it, and
// completes; a later session completes on the restarted server.
TEST(Failures, ServerDownMidSessionWaitsForItsReturnAndRecovers) {
  Scenario sc = load("table2/llama3-8b-1gbps-rtt5ms.json",
                     {{"workload.sessions", "2"}, {"workload.arrival", R"({"process": "fixed", "interval": "30s"})"},
                      {"events", R"([{"at": "33s", "action": "node_down", "node": "l4-1"},
                                     {"at": "40s", "action": "node_up", "node": "l4-1"}])"}});
  const Recorded r = run_here(sc);
  ASSERT_EQ(r.ended.size(), 2u);
  EXPECT_TRUE(r.ended[0].completed) << r.ended[0].reason;
  EXPECT_TRUE(r.ended[1].completed) << r.ended[1].reason;
  EXPECT_EQ(r.ended[0].tokens, r.ended[1].tokens);
  ASSERT_EQ(r.states.size(), 2u);
  EXPECT_FALSE(r.states[0].up);
  EXPECT_TRUE(r.states[1].up);
  // l4-1 joined twice: at start, and again after reloading 8 blocks x 436,224,000 B at 2e9 B/s.
  int l4_1_joins = 0;
  double rejoined = 0;
  for (const NodeJoined& j : r.joins)
    if (j.node == 1) {
      ++l4_1_joins;
      if (l4_1_joins == 2) {
        rejoined = j.t;
        EXPECT_NEAR(j.t, 40.0 + 8 * 436224000.0 / 2e9, 1e-9);
      }
    }
  EXPECT_EQ(l4_1_joins, 2);
  EXPECT_GT(r.ended[0].t, rejoined);  // it could only finish once l4-1 was back
  EXPECT_EQ(r.report.metrics["sessions"]["failed"].get<int>(), 0);
  EXPECT_EQ(r.report.metrics["resilience"]["recoveries"].get<int>(), 1);
}

// Bandwidth changes are SimGrid profiles: a transfer in flight finishes at the old rate for the
// bytes sent before the change and at the new rate for the rest.
TEST(ReplayedNetwork, BandwidthDropSlowsTransfersIncludingOneInFlight) {
  std::vector<Override> o = kNoOverheads;
  // Session 0 starts at 10 s; its prefill message leaves the client at 10 s + embed time and takes
  // 5 ms latency + 524544 B / 12.5e6 B/s = 47 ms. Drop the client's uplink to 10 Mbit/s at 10.03 s.
  o.push_back({"events", R"([{"at": "10.03s", "action": "set_bandwidth", "node": "client", "direction": "up",
                              "bandwidth": "10Mbps"}])"});
  const Recorded r = run_here(load("sanity/two_node.json", o));
  const TransferSpan& first = r.transfers.front();
  ASSERT_EQ(first.from, 1);  // client -> server
  ASSERT_LT(first.start, 10.03);
  const double cpu = 4 * first.bytes / 1e12;  // (de)serialization and FNV-1a at both ends
  const double data_start = first.start + cpu + kLatency;
  const double sent_before = (10.03 - data_start) * kBottleneck;
  const double expected_end = 10.03 + (first.bytes - sent_before) / 1.25e6;
  EXPECT_NEAR(first.end, expected_end, 1e-9);
  // Later client -> server transfers run at 1.25e6 B/s; server -> client ones are unchanged.
  for (const TransferSpan& t : r.transfers) {
    if (t.start < 10.03) continue;
    const double bw = t.from == 1 ? 1.25e6 : kBottleneck;
    EXPECT_NEAR(t.end - t.start, 4 * t.bytes / 1e12 + kLatency + t.bytes / bw, 1e-9);
  }
}

// Latency changes apply to messages that start after them and leave messages in flight alone
// (SimGrid 3.32's latency profiles corrupt in-flight messages; the GeoZone does not).
TEST(ReplayedNetwork, LatencyChangeAppliesToLaterMessagesOnly) {
  std::vector<Override> o = kNoOverheads;
  o.push_back({"events", R"([{"at": "10.03s", "action": "set_latency", "node": "client", "latency": "20ms"}])"});
  const Recorded r = run_here(load("sanity/two_node.json", o));
  const TransferSpan& first = r.transfers.front();
  ASSERT_LT(first.start, 10.03);
  ASSERT_GT(first.end, 10.03);
  EXPECT_NEAR(first.end - first.start, 4 * first.bytes / 1e12 + kLatency + first.bytes / kBottleneck, 1e-9);
  int later = 0;
  for (const TransferSpan& t : r.transfers) {
    if (t.start < 10.03) continue;
    ++later;
    // client access 20 ms + server access 2 ms
    EXPECT_NEAR(t.end - t.start, 4 * t.bytes / 1e12 + 0.022 + t.bytes / kBottleneck, 1e-9);
  }
  EXPECT_GT(later, 40);
}

// ---------------------------------------------------------------------------------------------
// KV cache memory (seed 002, eq. 4) and admission
// ---------------------------------------------------------------------------------------------

// The L4 holds 32 blocks: 24 GiB - 512 MiB runtime - 32 x 436,224,000 B weights = 11,273,764,864 B
// for KV caches. A session of batch 32 with 1024 + 16 tokens needs 4096 B x 32 blocks x 32 x 1040 =
// 4,362,076,160 B: two fit at once, the third waits until one ends. (Their 268 MB prefill messages
// share the client's 100 Mbit/s uplink for minutes: the admission timeout is raised to an hour.)
TEST(KvCache, ServerRefusesSessionsPastItsMemoryUntilOneEnds) {
  const Recorded r = run_here(load("sanity/two_node.json", {{"workload.sessions", "3"},
                                                            {"policy.admission_timeout", "1h"},
                                                            {"workload.arrival", R"({"process": "all_at_start"})"},
                                                            {"workload.batch_size", "32"},
                                                            {"workload.prompt_tokens", "1024"}}));
  ASSERT_EQ(r.chains.size(), 3u);
  ASSERT_EQ(r.ended.size(), 3u);
  for (const SessionEnded& e : r.ended) EXPECT_TRUE(e.completed) << e.reason;
  EXPECT_DOUBLE_EQ(r.chains[0].t, 10.0);
  EXPECT_DOUBLE_EQ(r.chains[1].t, 10.0);
  EXPECT_GE(r.chains[2].t, r.ended[0].t);  // admitted only once memory was released
  EXPECT_GT(r.chains[2].attempt, 1);
  const double kv_peak = r.report.metrics["nodes"][0]["kv_peak_bytes"].get<double>();
  EXPECT_DOUBLE_EQ(kv_peak, 2 * 4362076160.0);
}

TEST(KvCache, SessionLargerThanMemoryFailsWithAReason) {
  // batch 96: 13,086,228,480 B > 11,273,764,864 B: no chain can ever hold it.
  const auto m = run_isolated(load("sanity/two_node.json", {{"workload.sessions", "1"},
                                                             {"workload.batch_size", "96"},
                                                             {"workload.prompt_tokens", "1024"},
                                                             {"policy.admission_timeout", "5s"}}),
                              quiet())
                     .metrics;
  EXPECT_EQ(m["sessions"]["failed"].get<int>(), 1);
  EXPECT_NE(m["sessions"]["failures"][0]["reason"].get<std::string>().find("KV memory"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Policy and limits
// ---------------------------------------------------------------------------------------------

// With an orchestrator the client pays one request/response (256 B headers) before its chain:
// 2 x (0.5 ms + 2 x 256 B / 2e9 B/s + 5 ms + 256 B / 12.5e6 B/s) = 11.0410 ms more to first token.
TEST(Policy, OrchestratorAddsOneRoundTripToTheFirstToken) {
  const auto ttft = [](bool orchestrator) {
    return run_isolated(load("sanity/two_node.json", {{"policy.orchestrator", orchestrator ? "true" : "false"}}), quiet())
        .metrics["latency_s"]["time_to_first_token"]["p50"]
        .get<double>();
  };
  const double expected = 2 * (0.0005 + 2 * 256 / 2e9 + 0.005 + 256 / 12.5e6);
  EXPECT_NEAR(ttft(true) - ttft(false), expected, 1e-6);
}

TEST(Policy, TimeLimitFailsUnfinishedSessionsWithAReason) {
  const auto m = run_isolated(load("sanity/two_node.json", {{"simulation.time_limit", "10.5s"}}), quiet()).metrics;
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 0);
  EXPECT_EQ(m["sessions"]["failed"].get<int>(), 2);
  EXPECT_EQ(m["sessions"]["failures"][0]["reason"].get<std::string>(), "time limit reached");
  EXPECT_EQ(m["sessions"]["failures"][1]["reason"].get<std::string>(), "time limit reached before the session arrived");
  EXPECT_DOUBLE_EQ(m["simulated_time_s"].get<double>(), 10.5);
}

// ---------------------------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------------------------

TEST(Outputs, FilesAreCompleteParseableAndNoTemporaryIsLeft) {
  const fs::path dir = fresh_dir("outputs");
  run_isolated(load("table2/llama3-8b-1gbps-rtt5ms.json"), quiet(dir));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"events.jsonl", "metrics.json", "trace.json"}));

  const auto trace = nlohmann::json::parse(read_file(dir / "trace.json"));
  int tracks = 0, compute = 0, transfers = 0;
  for (const auto& e : trace["traceEvents"]) {
    if (e["ph"] == "M" && e["name"] == "thread_name") ++tracks;
    if (e["ph"] == "X" && e["cat"] == "compute") ++compute;
    if (e["ph"] == "X" && e["cat"] == "transfer") ++transfers;
  }
  EXPECT_EQ(tracks, 7);                 // 6 servers + 1 client: one track per node
  EXPECT_EQ(transfers, 32 * 7);         // one span per hop
  EXPECT_EQ(compute, 32 * (6 + 2));     // 6 servers + the client's embed and head, per step

  std::istringstream events(read_file(dir / "events.jsonl"));
  std::string line, first_type, last_type;
  int lines = 0;
  while (std::getline(events, line)) {
    const auto j = nlohmann::json::parse(line);
    if (lines++ == 0) first_type = j["type"];
    last_type = j["type"];
  }
  EXPECT_EQ(first_type, "run_start");
  EXPECT_EQ(last_type, "run_end");
  fs::remove_all(dir);
}

TEST(Outputs, TraceStopsAtItsCapAndSaysSo) {
  const fs::path dir = fresh_dir("trace-cap");
  const auto m = run_isolated(load("sanity/two_node.json", {{"outputs.trace_max_events", "10"}}), quiet(dir)).metrics;
  const auto trace = nlohmann::json::parse(read_file(dir / "trace.json"));
  int spans = 0;
  for (const auto& e : trace["traceEvents"]) spans += e["ph"] != "M";
  EXPECT_EQ(spans, 10);
  EXPECT_GT(m["trace_dropped_events"].get<long>(), 0);
  fs::remove_all(dir);
}
