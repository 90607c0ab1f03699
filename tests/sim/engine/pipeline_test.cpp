// Graph models run as pipelines: known-answer throughput of a three-stage chain, the effect of
// requests in flight, and the stage accounting.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "sim/engine/isolated_run.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/pipeline_run.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/temp_path.hpp"

using namespace swarmsim::sim;

namespace {

/// Three L4 servers and a client on 10 Gbit/s links, the exact network model, negligible
/// per-message overheads; the chain3 graph (three 1 ms ops, 1 MB activations).
Scenario chain_scenario(int in_flight, const std::string& method = "slicegraph") {
  const std::string text = R"({
    "name": "chain3-pipeline",
    "model": {"graph": {"file": "chain3.json"}},
    "nodes": [
      {"name": "s0", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"},
      {"name": "s1", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"},
      {"name": "s2", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"}],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"}],
    "network": {"model": "exact"},
    "overheads": {"rpc": "0ms", "serialization_bandwidth": "1TBps", "message_header": "0B"},
    "workload": {"sessions": 200, "max_in_flight": )" + std::to_string(in_flight) + R"(},
    "policy": {"partitioner": {"method": ")" + method + R"("}}
  })";
  return load_scenario_text(text, std::string(SWARMSIM_SOURCE_DIR) + "/tests/data/graphs/pipeline_test.json");
}

RunReport run(const Scenario& sc, const std::filesystem::path& out = {}) {
  RunOptions opts;
  opts.progress = RunOptions::Progress::Never;
  opts.out_dir = out;
  return run_isolated(sc, opts);
}

/// One server node of the failover scenarios, at the client's location.
std::string server_json(const std::string& name, const std::string& gpu, const std::string& link = "10Gbps",
                        const std::string& load = "2GBps") {
  return R"({"name": ")" + name + R"(", "gpu": ")" + gpu + R"(", "location": {"lat": 50, "lon": 8}, "uplink": ")" + link +
         R"(", "downlink": ")" + link + R"(", "access_latency": "100us", "weights_load_bandwidth": ")" + load + R"("})";
}

/// The chain3 pipeline (or `graph`) cut into 3 stages on `nodes` (server_json objects, comma-separated), with
/// the given events; heartbeats every 10 ms, a node is declared dead after 2 missed.
Scenario chain3_with_nodes(const std::string& nodes, const std::string& events, int sessions, int in_flight,
                           const std::string& graph = "chain3.json") {
  const std::string text = R"({
    "name": "chain3-failover",
    "model": {"graph": {"file": ")" + graph + R"("}},
    "nodes": [)" + nodes + R"(],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"}],
    "network": {"model": "exact"},
    "overheads": {"rpc": "0ms", "serialization_bandwidth": "1TBps", "message_header": "0B"},
    "workload": {"sessions": )" + std::to_string(sessions) + R"(, "max_in_flight": )" + std::to_string(in_flight) + R"(},
    "policy": {"partitioner": {"method": "slicegraph", "stages": 3}, "faults": {"heartbeat": "10ms", "heartbeat_misses": 2}},
    "events": )" + events + R"(
  })";
  return load_scenario_text(text, std::string(SWARMSIM_SOURCE_DIR) + "/tests/data/graphs/pipeline_test.json");
}

/// The chain3 pipeline on three L4 servers, optionally with a GTX 1650 that the placement leaves
/// spare, with the given events; 200 requests, 16 in flight.
Scenario failover_scenario(bool spare, const std::string& events, const std::string& spare_load = "2GBps",
                           const std::string& l4_load = "2GBps") {
  std::string nodes;
  for (const char* n : {"s0", "s1", "s2"}) nodes += server_json(n, "L4", "10Gbps", l4_load) + ",";
  if (spare) nodes += server_json("spare", "GTX-1650", "10Gbps", spare_load) + ",";
  nodes.pop_back();
  return chain3_with_nodes(nodes, events, 200, 16);
}

/// The name of the node the plan puts stage s on.
std::string node_of_stage(const Scenario& sc, int s) {
  return sc.nodes[static_cast<std::size_t>(plan_pipeline(sc).stages[static_cast<std::size_t>(s)].node)].name;
}

std::vector<nlohmann::json> read_events(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(in, line);) events.push_back(nlohmann::json::parse(line));
  return events;
}

/// The trace.json of run directory `out`.
nlohmann::json read_trace(const std::filesystem::path& out) {
  std::ifstream in(out / "trace.json");
  return nlohmann::json::parse(in);
}

/// Each host's track (tid) in a trace, by host name (a track is named "<host> (<device>)").
std::map<std::string, int> tracks_by_host(const nlohmann::json& trace) {
  std::map<std::string, int> track_of;
  for (const nlohmann::json& e : trace["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "thread_name") {
      const std::string name = e["args"]["name"];
      track_of[name.substr(0, name.find(' '))] = e["tid"];
    }
  return track_of;
}

/// Runs `sc` with its outputs in a fresh temporary directory `name`-<engine>, returned in `out`.
nlohmann::json run_with_outputs(const Scenario& sc, const std::string& name, std::filesystem::path& out) {
  out = swarmsim::test::temp_path(name + "-" + to_string(sc.engine));
  std::filesystem::remove_all(out);
  return run(sc, out).metrics;
}

/// Expects every one of the `n` requests of run directory `out` answered exactly once.
void expect_each_answered_once(const std::filesystem::path& out, int n) {
  std::map<int, int> answers;
  for (const nlohmann::json& e : read_events(out / "events.jsonl"))
    if (e["type"] == "request_done") ++answers[e["request"].get<int>()];
  EXPECT_EQ(answers.size(), static_cast<std::size_t>(n));
  for (const auto& [r, times] : answers) EXPECT_EQ(times, 1) << "request " << r;
}

}  // namespace

TEST(Pipeline, PlanCutsTheChainIntoOneOpPerStage) {
  const PipelinePlan plan = plan_pipeline(chain_scenario(8));
  ASSERT_EQ(plan.stages.size(), 3u);
  // 84.7 GFLOP at 84.7 TFLOP/s and the L4's 5 us kernel launch (docs/cost-model.md); stage 0 also
  // holds "input", the client's tensor, which runs no kernel.
  const double launch = 5e-6;
  EXPECT_NEAR(plan.stages[0].compute_s, 1e-3 + launch, 1e-9);
  EXPECT_NEAR(plan.stages[1].compute_s, 1e-3 + launch, 1e-9);
  EXPECT_NEAR(plan.stages[2].compute_s, 1e-3 + launch, 1e-9);
  // Every stage on its own node.
  EXPECT_NE(plan.stages[0].node, plan.stages[1].node);
  EXPECT_NE(plan.stages[1].node, plan.stages[2].node);
  EXPECT_NE(plan.stages[0].node, plan.stages[2].node);
  // The input (1 MB) comes from the client to stage 0; each stage sends 1 MB on; the last returns 1 MB.
  EXPECT_DOUBLE_EQ(plan.stages[0].input_bytes_from_client, 1e6);
  ASSERT_EQ(plan.stages[0].sends.size(), 1u);
  EXPECT_EQ(plan.stages[0].sends[0].first, 1);
  EXPECT_DOUBLE_EQ(plan.stages[0].sends[0].second, 1e6);
  EXPECT_DOUBLE_EQ(plan.stages[2].output_bytes_to_client, 1e6);
  // Overlapped, the slowest resource is a stage's 1 ms of compute (a 1 MB transfer takes 0.8 ms).
  EXPECT_NEAR(plan.overlap_bottleneck_s, 1e-3, 1e-5);
}

// Planning says where it is (the progress line of long BRKGA runs) without changing the plan:
// each stage count 1..3 in order, then BRKGA's generations with a best that never gets worse.
TEST(Pipeline, PlanningReportsEachStageCountAndGenerationWithoutChangingThePlan) {
  const Scenario sc = chain_scenario(8, "brkga");
  std::vector<PlanProgress> seen;
  const PipelinePlan followed = plan_pipeline(sc, [&](const PlanProgress& p) { seen.push_back(p); });
  const PipelinePlan quiet = plan_pipeline(sc);
  EXPECT_EQ(followed.partition.block_of, quiet.partition.block_of);
  EXPECT_EQ(followed.predicted_bottleneck_s, quiet.predicted_bottleneck_s);
  std::vector<int> counts;
  int generations_seen = 0;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    const PlanProgress& p = seen[i];
    EXPECT_EQ(p.max_stages, 3);
    EXPECT_EQ(p.generations, sc.policy.partitioner.brkga.generations);
    if (p.generation < 0) {
      counts.push_back(p.stages);
      continue;
    }
    ++generations_seen;
    EXPECT_LT(p.generation, p.generations);
    EXPECT_GT(p.best_s, 0.0);
    if (i > 0 && seen[i - 1].generation >= 0 && seen[i - 1].stages == p.stages) {
      EXPECT_EQ(p.generation, seen[i - 1].generation + 1);
      EXPECT_LE(p.best_s, seen[i - 1].best_s);
    }
  }
  EXPECT_EQ(counts, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(generations_seen, 3) << "at least one generation per stage count";
  // Other methods report the stage counts only.
  std::vector<PlanProgress> sliced;
  plan_pipeline(chain_scenario(8), [&](const PlanProgress& p) { sliced.push_back(p); });
  ASSERT_EQ(sliced.size(), 3u);
  for (const PlanProgress& p : sliced) EXPECT_EQ(p.generation, -1);
}

TEST(Pipeline, ThroughputReachesTheStageBoundAndPipeliningPays) {
  const RunReport wide = run(chain_scenario(16));
  const RunReport serial = run(chain_scenario(1));
  const auto& w = wide.metrics;
  const auto& s = serial.metrics;
  EXPECT_EQ(w["requests"]["completed"].get<int>(), 200);
  EXPECT_EQ(s["requests"]["completed"].get<int>(), 200);
  const double bound = w["placement"]["overlap_bound_requests_per_s"].get<double>();
  EXPECT_NEAR(bound, 1000.0, 10.0);
  // With 16 requests in flight the pipeline runs at its slowest stage, never faster.
  const double steady = w["throughput"]["steady_requests_per_s"].get<double>();
  EXPECT_LE(steady, bound * 1.0001);
  EXPECT_GE(steady, bound * 0.97);
  for (const auto& st : w["stages"]) {
    EXPECT_EQ(st["requests"].get<int>(), 200);
    EXPECT_GT(st["utilization"].get<double>(), 0.9);  // every stage is a 1 ms bottleneck
  }
  // One request at a time: throughput is one over the latency (~3 ms compute + 4 transfers of 0.8 ms).
  const double serial_rate = s["throughput"]["requests_per_s"].get<double>();
  const double latency = s["latency_s"]["p50"].get<double>();
  EXPECT_NEAR(serial_rate * latency, 1.0, 0.05);
  EXPECT_GT(latency, 3e-3 + 4 * 0.8e-3);
  EXPECT_GT(steady / serial_rate, 2.5);
}

// A transformer cut into a pipeline: the client sends each request's token ids (4 bytes a token)
// to the stage holding the embedding, not the embedding's 8 KiB-a-token output.
TEST(Pipeline, ATransformersClientSendsTokenIds) {
  const std::string text = R"({
    "name": "llama-pipeline",
    "model": {"graph": {"generator": "llama-chain", "layers": 4, "seq_len": 64}},
    "nodes": [)" + server_json("s0", "L4") + "," + server_json("s1", "L4") + R"(],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"}],
    "workload": {"sessions": 4},
    "policy": {"partitioner": {"method": "slicegraph"}}
  })";
  const Scenario sc = load_scenario_text(text, "llama-pipeline.json");
  const PipelinePlan plan = plan_pipeline(sc);
  double from_client = 0;
  for (const PipelineStage& st : plan.stages) from_client += st.input_bytes_from_client;
  EXPECT_DOUBLE_EQ(from_client, 64 * 4.0);
  const RunReport r = run(sc);
  EXPECT_EQ(r.metrics["requests"]["completed"].get<int>(), 4);
}

TEST(Pipeline, EveryMethodRunsToCompletion) {
  for (const char* method : {"brkga", "layer-wise", "load-balanced", "topology-aware", "pipeline"}) {
    const RunReport r = run(chain_scenario(4, method));
    EXPECT_EQ(r.metrics["requests"]["completed"].get<int>(), 200) << method;
    EXPECT_EQ(r.metrics["partition"]["method"].get<std::string>(), method);
  }
}

// A stage's node fails: the client notices at the second missed heartbeat (10 ms period: the
// failure at 55 ms is declared at 50 + 2 x 10 = 70 ms), moves the stage to the only spare, a GTX
// 1650 that loads the stage's 1 MB at 2 GB/s, and sends again the 16 requests the window holds.
// The pipeline then runs at the spare's pace: 84.7 GFLOP at 70% of 5.967 TFLOP/s, 20.3 ms a request.
TEST(PipelineFailover, AFailedStageMovesToTheSpareAndEveryRequestIsAnsweredOnce) {
  const std::string victim = node_of_stage(failover_scenario(true, "[]"), 1);
  ASSERT_NE(victim, "spare") << "the placement leaves the slow GPU out";
  const Scenario sc = failover_scenario(true, R"([{"at": "55ms", "action": "node_down", "node": ")" + victim + R"("}])");
  const std::filesystem::path out = swarmsim::test::temp_path("pipeline-failover");
  std::filesystem::remove_all(out);
  const nlohmann::json m = run(sc, out).metrics;

  ASSERT_EQ(m["failovers"].size(), 1u);
  const nlohmann::json& f = m["failovers"][0];
  EXPECT_EQ(f["stage"], 1);
  EXPECT_EQ(f["from"], victim);
  EXPECT_EQ(f["to"], "spare");
  EXPECT_DOUBLE_EQ(f["failed_at_s"].get<double>(), 0.055);
  EXPECT_NEAR(f["detected_at_s"].get<double>(), 0.070, 1e-12);
  EXPECT_NEAR(f["ready_at_s"].get<double>(), 0.070 + 1e6 / 2e9, 1e-12);
  const double spare_s = 84.7e9 / (0.70 * 5.967e12);
  EXPECT_NEAR(f["compute_s"].get<double>() / spare_s, 1.0, 0.01);
  EXPECT_EQ(f["requests_resent"], 16) << "the window was full of requests the dead stage held up";
  EXPECT_EQ(m["requests"]["resent"], 16);
  EXPECT_EQ(m["requests"]["completed"], 200);

  // The events tell the story in order, and every request is answered exactly once.
  std::vector<std::string> story;
  std::map<int, int> answers;
  double last_answer_before = 0, first_answer_after = 1e9, last_answer = 0;
  int answers_after = 0;
  for (const nlohmann::json& e : read_events(out / "events.jsonl")) {
    const std::string type = e["type"];
    if (type == "request_done") {
      ++answers[e["request"].get<int>()];
      const double t = e["t"];
      if (t < 0.0705) last_answer_before = std::max(last_answer_before, t);
      else {
        first_answer_after = std::min(first_answer_after, t);
        last_answer = std::max(last_answer, t);
        ++answers_after;
      }
    } else if (type.rfind("stage_", 0) == 0 && type != "stage_start" && type != "stage_end") {
      story.push_back(type + "@" + e["node"].get<std::string>());
    }
  }
  EXPECT_EQ(story, (std::vector<std::string>{"stage_down@" + victim, "stage_down_detected@" + victim, "stage_loading@spare",
                                             "stage_ready@spare"}));
  EXPECT_EQ(answers.size(), 200u);
  for (const auto& [r, n] : answers) EXPECT_EQ(n, 1) << "request " << r;
  // Nothing is answered while stage 1 is down, save what had passed it before the failure.
  EXPECT_LT(last_answer_before, 0.055 + 0.005);
  EXPECT_GT(first_answer_after, 0.0705 + spare_s);
  // Afterwards the spare sets the pace.
  EXPECT_NEAR((answers_after - 1) / (last_answer - first_answer_after) * spare_s, 1.0, 0.02);

  // trace.json shows the same: each stage's work on its node's track (stage 1 moves to the
  // spare), the failure, and the spare loading the stage while the pipeline waits.
  const nlohmann::json trace = read_trace(out);
  std::map<std::string, int> track_of = tracks_by_host(trace);
  std::map<std::pair<int, std::string>, int> spans;  // (tid, name) -> count
  int transfers = 0;
  double load_start = -1, load_end = -1, down_at = -1;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (e["ph"] == "X" && e["cat"] == "compute") ++spans[{e["tid"].get<int>(), e["name"].get<std::string>()}];
    if (e["ph"] == "X" && e["cat"] == "transfer") ++transfers;
    if (e["ph"] == "X" && e["name"] == "load stage 1" && e["tid"] == track_of["spare"]) {
      load_start = e["ts"].get<double>() * 1e-6;
      load_end = load_start + e["dur"].get<double>() * 1e-6;
    }
    if (e["ph"] == "i" && e["name"] == "node down" && e["tid"] == track_of[victim]) down_at = e["ts"].get<double>() * 1e-6;
  }
  EXPECT_NEAR(down_at, 0.055, 1e-9);
  EXPECT_NEAR(load_start, 0.070, 1e-9);
  EXPECT_NEAR(load_end, 0.0705, 1e-9);
  const int on_victim = spans[{track_of[victim], "stage 1"}], on_spare = spans[{track_of["spare"], "stage 1"}];
  EXPECT_GT(on_victim, 0);
  EXPECT_GT(on_spare, 100);
  EXPECT_EQ(on_victim + on_spare, m["stages"][1]["requests"].get<int>());
  const int stage0 = spans[{track_of[node_of_stage(sc, 0)], "stage 0"}];
  EXPECT_EQ(stage0, m["stages"][0]["requests"].get<int>());
  // Every message is a span once delivered; those the failure cut are not.
  EXPECT_LT(transfers, m["network"]["messages"].get<int>());
  EXPECT_GT(transfers, m["network"]["messages"].get<int>() - 20);
}

// Without a spare, the stage waits for a node to come back: its own, at 300 ms, which loads it
// again. Then every unanswered request is sent again and all complete.
TEST(PipelineFailover, WithoutASpareTheStageWaitsForANodeToComeBack) {
  const Scenario plain = failover_scenario(false, "[]");
  const std::string victim = node_of_stage(plain, 1);
  const Scenario sc = failover_scenario(false, R"([{"at": "55ms", "action": "node_down", "node": ")" + victim +
                                                   R"("}, {"at": "300ms", "action": "node_up", "node": ")" + victim + R"("}])");
  const nlohmann::json m = run(sc).metrics;
  ASSERT_EQ(m["failovers"].size(), 1u);
  const nlohmann::json& f = m["failovers"][0];
  EXPECT_EQ(f["to"], victim);
  EXPECT_NEAR(f["ready_at_s"].get<double>(), 0.300 + 1e6 / 2e9, 1e-12);
  EXPECT_EQ(f["requests_resent"], 16);
  EXPECT_EQ(m["requests"]["completed"], 200);
  // Back on an L4, the pipeline is as fast as before: the outage only adds to the makespan.
  const nlohmann::json base = run(plain).metrics;
  EXPECT_NEAR(m["simulated_time_s"].get<double>() - base["simulated_time_s"].get<double>(), 0.3005 - 0.055, 0.02);

  // A node that never comes back leaves the stage without a node: the run ends at its time limit
  // with the failover reported as unfinished.
  Scenario never = failover_scenario(false, R"([{"at": "55ms", "action": "node_down", "node": ")" + victim + R"("}])");
  never.time_limit_s = 2.0;
  const nlohmann::json n = run(never).metrics;
  ASSERT_EQ(n["failovers"].size(), 1u);
  EXPECT_FALSE(n["failovers"][0].contains("to"));
  EXPECT_NE(n["requests"]["failure_reason"].get<std::string>().find("stage 1 lost its node at 55 ms and no spare node"), std::string::npos)
      << n["requests"]["failure_reason"];
  EXPECT_LT(n["requests"]["completed"].get<int>(), 200);
  EXPECT_EQ(n["simulated_time_s"], 2.0);
}

// A node that runs no stage can fail and come back without changing anything.
TEST(PipelineFailover, ASpareNodesFailureChangesNothing) {
  const nlohmann::json base = run(failover_scenario(true, "[]")).metrics;
  const nlohmann::json hit = run(failover_scenario(
      true, R"([{"at": "55ms", "action": "node_down", "node": "spare"}, {"at": "80ms", "action": "node_up", "node": "spare"}])")).metrics;
  EXPECT_TRUE(hit["failovers"].empty());
  for (const char* key : {"requests", "throughput", "latency_s", "network", "stages", "simulated_time_s"}) EXPECT_EQ(hit[key], base[key]) << key;
}

// The spare fails while it loads the stage (1 MB at 10 MB/s: 70 to 170 ms; it fails at 100 ms):
// the same failover picks again, finds no spare, and waits for the failed node's return at 300
// ms. One failover, finished on the node that came back.
TEST(PipelineFailover, ASpareThatFailsWhileLoadingIsReplacedByTheSameFailover) {
  const std::string victim = node_of_stage(failover_scenario(true, "[]"), 1);
  const Scenario sc = failover_scenario(true,
                                        R"([{"at": "55ms", "action": "node_down", "node": ")" + victim +
                                            R"("}, {"at": "100ms", "action": "node_down", "node": "spare"}, {"at": "300ms", "action": "node_up", "node": ")" +
                                            victim + R"("}])",
                                        "10MBps");
  const std::filesystem::path out = swarmsim::test::temp_path("pipeline-failover-twice");
  std::filesystem::remove_all(out);
  const nlohmann::json m = run(sc, out).metrics;
  ASSERT_EQ(m["failovers"].size(), 1u) << m["failovers"];
  const nlohmann::json& f = m["failovers"][0];
  EXPECT_EQ(f["to"], victim);
  EXPECT_NEAR(f["ready_at_s"].get<double>(), 0.300 + 1e6 / 2e9, 1e-12);
  EXPECT_EQ(m["requests"]["completed"], 200);
  std::vector<std::string> story;
  const std::set<std::string> told{"node_down", "node_up", "stage_down", "stage_down_detected", "stage_loading", "stage_ready"};
  for (const nlohmann::json& e : read_events(out / "events.jsonl"))
    if (told.count(e["type"].get<std::string>())) story.push_back(e["type"].get<std::string>() + "@" + e["node"].get<std::string>());
  EXPECT_EQ(story, (std::vector<std::string>{"node_down@" + victim, "stage_down@" + victim, "stage_down_detected@" + victim,
                                             "stage_loading@spare", "node_down@spare", "node_up@" + victim,
                                             "stage_loading@" + victim, "stage_ready@" + victim}));
}

// The failed node comes back before it is declared dead (60 ms), so the failover picks it (an L4
// beats the GTX 1650), but it fails again while loading (10 MB/s: 70 to 170 ms; down at 100 ms).
// That is the same failover, not a second one: at 170 ms it moves on to the spare.
TEST(PipelineFailover, ANodeThatFailsAgainWhileReloadingItsStageIsPassedOver) {
  const std::string victim = node_of_stage(failover_scenario(true, "[]", "2GBps", "10MBps"), 1);
  const Scenario sc = failover_scenario(true,
                                        R"([{"at": "55ms", "action": "node_down", "node": ")" + victim +
                                            R"("}, {"at": "60ms", "action": "node_up", "node": ")" + victim +
                                            R"("}, {"at": "100ms", "action": "node_down", "node": ")" + victim + R"("}])",
                                        "2GBps", "10MBps");
  const nlohmann::json m = run(sc).metrics;
  ASSERT_EQ(m["failovers"].size(), 1u) << m["failovers"];
  EXPECT_EQ(m["failovers"][0]["to"], "spare");
  EXPECT_NEAR(m["failovers"][0]["ready_at_s"].get<double>(), 0.170 + 1e6 / 2e9, 1e-12);
  EXPECT_EQ(m["requests"]["completed"], 200);
}

// Failback (policy.faults.failback): stage 1's L4 fails at 55 ms, the GTX 1650 spare serves from
// 70.5 ms, and the L4 is back at 150 ms. It prices the stage lower than the spare, so it loads
// the stage (1 MB at 2 GB/s) while the spare serves on; at 150.5 ms the stage moves back and,
// with the resend handover, the spare's process ends and the 16 requests of the window are sent
// again. The pace is the failure-free run's again, every request is answered once, and the spare
// runs no stage work after the move.
TEST(PipelineFailback, AStageMovesBackWhenItsFasterNodeReturns) {
  const std::string victim = node_of_stage(failover_scenario(true, "[]"), 1);
  const std::string events = R"([{"at": "55ms", "action": "node_down", "node": ")" + victim +
                             R"("}, {"at": "150ms", "action": "node_up", "node": ")" + victim + R"("}])";
  Scenario sc = failover_scenario(true, events);
  sc.policy.faults.failback = true;
  const std::filesystem::path out = swarmsim::test::temp_path("pipeline-failback");
  ASSERT_EQ(Scenario{}.policy.partitioner.handover, Handover::Resend) << "the default";
  std::filesystem::remove_all(out);
  const nlohmann::json m = run(sc, out).metrics;
  const nlohmann::json base = run(failover_scenario(true, "[]")).metrics;

  ASSERT_EQ(m["failovers"].size(), 1u);
  EXPECT_EQ(m["failovers"][0]["to"], "spare");
  ASSERT_EQ(m["failbacks"].size(), 1u) << m["failbacks"];
  const nlohmann::json& b = m["failbacks"][0];
  EXPECT_EQ(b["stage"], 1);
  EXPECT_EQ(b["from"], "spare");
  EXPECT_EQ(b["to"], victim);
  EXPECT_DOUBLE_EQ(b["started_at_s"].get<double>(), 0.150);
  EXPECT_NEAR(b["ready_at_s"].get<double>(), 0.150 + 1e6 / 2e9, 1e-12);
  const double l4_s = base["stages"][1]["compute_s"].get<double>();
  EXPECT_NEAR(b["compute_s"].get<double>(), l4_s, 1e-12) << "back on an L4, the stage takes what it took there";
  EXPECT_EQ(b["requests_resent"], 16);
  EXPECT_EQ(m["requests"]["resent"], 32) << "16 after the failover, 16 after the failback";
  EXPECT_EQ(m["requests"]["completed"], 200);

  std::vector<std::string> story;
  std::map<int, int> answers;
  std::vector<double> after;  // answers once the stage is back on the L4
  const std::set<std::string> told{"node_down", "node_up", "stage_down", "stage_loading", "stage_ready", "failback_loading", "blocks_moved"};
  for (const nlohmann::json& e : read_events(out / "events.jsonl")) {
    const std::string type = e["type"];
    if (told.count(type)) story.push_back(type + "@" + e["node"].get<std::string>());
    if (type == "request_done") {
      ++answers[e["request"].get<int>()];
      if (e["t"].get<double>() > 0.1505 + 3 * l4_s) after.push_back(e["t"].get<double>());
    }
  }
  EXPECT_EQ(story, (std::vector<std::string>{"node_down@" + victim, "stage_down@" + victim, "stage_loading@spare", "stage_ready@spare",
                                             "node_up@" + victim, "failback_loading@" + victim, "blocks_moved@spare",
                                             "stage_ready@" + victim}));
  EXPECT_EQ(answers.size(), 200u);
  for (const auto& [r, n] : answers) EXPECT_EQ(n, 1) << "request " << r;
  ASSERT_GT(after.size(), 20u);
  std::vector<double> gaps;  // between answers: the median skips the pipeline refilling after the move
  for (std::size_t i = 1; i < after.size(); ++i) gaps.push_back(after[i] - after[i - 1]);
  std::nth_element(gaps.begin(), gaps.begin() + static_cast<std::ptrdiff_t>(gaps.size() / 2), gaps.end());
  EXPECT_NEAR(gaps[gaps.size() / 2] * base["throughput"]["steady_requests_per_s"].get<double>(), 1.0, 0.02)
      << "the pace is the failure-free run's again";

  // The spare's last stage-1 work started before the move; the L4 does the rest.
  const nlohmann::json trace = read_trace(out);
  std::map<std::string, int> track_of = tracks_by_host(trace);
  double last_on_spare = 0;
  int on_victim_after = 0;
  for (const nlohmann::json& e : trace["traceEvents"]) {
    if (!(e["ph"] == "X" && e["name"] == "stage 1")) continue;
    const double start = e["ts"].get<double>() * 1e-6;
    if (e["tid"] == track_of["spare"]) last_on_spare = std::max(last_on_spare, start);
    if (e["tid"] == track_of[victim] && start > 0.1505) ++on_victim_after;
  }
  EXPECT_LT(last_on_spare, 0.1505);
  EXPECT_GT(on_victim_after, 100);

  // Without failback the stage stays on the spare, and the run takes longer.
  Scenario stay = failover_scenario(true, events);
  const nlohmann::json s = run(stay).metrics;
  EXPECT_FALSE(s.contains("failbacks"));
  EXPECT_EQ(s["requests"]["resent"], 16);
  EXPECT_GT(s["simulated_time_s"].get<double>(), m["simulated_time_s"].get<double>() + 0.1);
}

// A node that prices no stage lower stays a spare, and a node that comes back while a failover
// waits for one is that failover's, not a failback's.
TEST(PipelineFailback, OnlyANodeThatPricesAStageLowerTakesItAndFailoversComeFirst) {
  Scenario spare_back = failover_scenario(true, R"([{"at": "55ms", "action": "node_down", "node": "spare"}, {"at": "80ms", "action": "node_up", "node": "spare"}])");
  spare_back.policy.faults.failback = true;
  const nlohmann::json a = run(spare_back).metrics;
  EXPECT_TRUE(a["failbacks"].empty()) << a["failbacks"];
  EXPECT_EQ(a["requests"]["resent"], 0);

  const std::string victim = node_of_stage(failover_scenario(false, "[]"), 1);
  Scenario waiting = failover_scenario(false, R"([{"at": "55ms", "action": "node_down", "node": ")" + victim +
                                                  R"("}, {"at": "300ms", "action": "node_up", "node": ")" + victim + R"("}])");
  waiting.policy.faults.failback = true;
  const nlohmann::json w = run(waiting).metrics;
  EXPECT_TRUE(w["failbacks"].empty()) << w["failbacks"];
  ASSERT_EQ(w["failovers"].size(), 1u);
  EXPECT_EQ(w["failovers"][0]["to"], victim);
}

// The returning L4 fails again while it loads the stage (1 MB at 10 MB/s: 150 to 250 ms; down at
// 200 ms): the failback is dropped, the stage stays on the spare, no request is sent again for
// it, and the L4's failure costs nothing else (it ran no stage).
TEST(PipelineFailback, AFailbackIsDroppedWhenItsNodeFailsWhileLoading) {
  const std::string victim = node_of_stage(failover_scenario(true, "[]", "2GBps", "10MBps"), 1);
  Scenario sc = failover_scenario(true,
                                  R"([{"at": "55ms", "action": "node_down", "node": ")" + victim + R"("}, {"at": "150ms", "action": "node_up", "node": ")" +
                                      victim + R"("}, {"at": "200ms", "action": "node_down", "node": ")" + victim + R"("}])",
                                  "2GBps", "10MBps");
  sc.policy.faults.failback = true;
  const nlohmann::json m = run(sc).metrics;
  ASSERT_EQ(m["failbacks"].size(), 1u);
  EXPECT_EQ(m["failbacks"][0]["dropped"], true);
  EXPECT_FALSE(m["failbacks"][0].contains("ready_at_s"));
  EXPECT_EQ(m["failbacks"][0]["requests_resent"], 0);
  EXPECT_EQ(m["failovers"].size(), 1u) << "the L4 ran no stage when it failed again";
  EXPECT_EQ(m["requests"]["resent"], 16);
  EXPECT_EQ(m["requests"]["completed"], 200);
}

// Several clients: request r comes from client r mod C, each with its own window. On 1 Gbit/s
// client links the chain3 pipeline is bound by one client's links (1 MB each way per request:
// 8 ms, 125 req/s); four clients share that load (2 ms a request each, 500 req/s), and the 1 ms
// stages are not yet the limit.
TEST(Pipeline, SeveralClientsShareTheLoadOfTheirLinks) {
  const auto with_clients = [](int n) {
    Scenario sc = chain_scenario(8);
    const ClientSpec first = sc.clients.front();
    sc.clients.clear();
    for (int c = 0; c < n; ++c) {
      ClientSpec client = first;
      client.name = "c" + std::to_string(c);
      client.uplink_Bps = client.downlink_Bps = 1e9 / 8;
      sc.clients.push_back(client);
    }
    sc.workload.sessions = 800;
    return sc;
  };
  const nlohmann::json one = run(with_clients(1)).metrics, four = run(with_clients(4)).metrics;
  EXPECT_EQ(four["requests"]["clients"], 4);
  EXPECT_EQ(four["requests"]["completed"], 800);
  EXPECT_NEAR(one["placement"]["client_link_s"].get<double>(), 1e6 / 125e6, 1e-12);
  EXPECT_NEAR(four["placement"]["client_link_s"].get<double>(), 1e6 / 125e6 / 4, 1e-12);
  // Fair sharing moves a window's requests in step, so the links idle now and then: the runs
  // reach 85-90% of their bound, never more.
  const double one_rate = one["throughput"]["requests_per_s"].get<double>(), four_rate = four["throughput"]["requests_per_s"].get<double>();
  EXPECT_LE(one_rate, 125.0);
  EXPECT_GE(one_rate, 0.8 * 125.0);
  EXPECT_LE(four_rate, 500.0);
  EXPECT_GE(four_rate, 0.8 * 500.0);
  // Each client keeps its own 8 requests in flight (one window of 8 for all four would cap the
  // pipeline near the single client's rate).
  EXPECT_GT(four_rate, 3.5 * one_rate);
}

// The spare is picked as the placement would pick a node for the stage, by eq. 10 on its own
// links: an A100 computes chain3's 1 ms stage in 0.39 ms, but behind 100 Mbit/s links its 1 MB in
// and 1 MB out take 80 ms each, so the L4 on 10 Gbit/s takes the stage over.
TEST(PipelineFailover, TheSpareIsChosenByTheStagesCostOnItsOwnLinks) {
  const auto with_events = [](const std::string& events) {
    std::string nodes;
    for (const char* n : {"s0", "s1", "s2", "fastlink"}) nodes += server_json(n, "L4") + ",";
    nodes += server_json("slowlink", "A100-80GB", "100Mbps");
    return chain3_with_nodes(nodes, events, 100, 8);
  };
  const Scenario plain = with_events("[]");
  const PipelinePlan plan = plan_pipeline(plain);
  for (const PipelineStage& st : plan.stages) ASSERT_LT(st.node, 3) << "the plan uses s0..s2";
  // The A100 would compute faster: the choice is not by compute alone.
  const int l4 = 3, a100 = 4;
  const auto terms = [&](int node) { const auto c = stage_terms_on_node(plain, plan, 1, node); return c.work_s + c.overflow_s; };
  ASSERT_LT(terms(a100), 0.5 * terms(l4));
  ASSERT_GT(plan.costs[1][a100], plan.costs[1][l4]);

  const std::string victim = plain.nodes[static_cast<std::size_t>(plan.stages[1].node)].name;
  const nlohmann::json m = run(with_events(R"([{"at": "55ms", "action": "node_down", "node": ")" + victim + R"("}])")).metrics;
  ASSERT_EQ(m["failovers"].size(), 1u);
  EXPECT_EQ(m["failovers"][0]["to"], "fastlink");
  EXPECT_EQ(m["requests"]["completed"], 100);
}

// ---------------------------------------------------------------------------------------------
// Migration under congestion (policy.partitioner.migrate)
// ---------------------------------------------------------------------------------------------

namespace {

/// The chain3 pipeline on four L4s (the placement leaves one spare), with the given events; the
/// client re-prices the stages every 20 ms.
Scenario migration_scenario(const std::string& events, double min_gain = 0.1) {
  std::string nodes;
  for (const char* n : {"s0", "s1", "s2", "s3"}) nodes += server_json(n, "L4") + ",";
  nodes.pop_back();
  Scenario sc = chain3_with_nodes(nodes, events, 200, 16);
  sc.policy.partitioner.migrate_period_s = 0.020;
  sc.policy.partitioner.migrate_min_gain = min_gain;
  return sc;
}

/// The node the plan leaves without a stage.
int spare_node(const PipelinePlan& plan, int nodes) {
  for (int n = 0; n < nodes; ++n)
    if (std::none_of(plan.stages.begin(), plan.stages.end(), [&](const PipelineStage& st) { return st.node == n; })) return n;
  return -1;
}

ReplayEvent choke(const std::string& node, double Bps) {
  ReplayEvent e;
  e.action = EventAction::SetBandwidth;
  e.node = node;
  e.direction = LinkDirection::Down;
  e.value = Bps;
  return e;
}

}  // namespace

TEST(PipelineMigration, StageCostsRePricedOnTheScenariosLinksAreThePlans) {
  const Scenario sc = migration_scenario("[]");
  const PipelinePlan plan = plan_pipeline(sc);
  std::vector<double> up, down;
  for (const NodeSpec& n : sc.nodes) {
    up.push_back(n.uplink_Bps);
    down.push_back(n.downlink_Bps);
  }
  EXPECT_EQ(stage_costs_with_links(sc, plan, up, down), plan.costs);
  // A slower downlink on one node raises what each stage costs there, and only there.
  down[1] = 12.5e6;
  const swarmsim::partition::PlacementCosts slow = stage_costs_with_links(sc, plan, up, down);
  for (std::size_t b = 0; b < plan.costs.size(); ++b)
    for (std::size_t j = 0; j < sc.nodes.size(); ++j) {
      if (j == 1)
        EXPECT_GT(slow[b][j], plan.costs[b][j]) << "stage " << b;
      else
        EXPECT_EQ(slow[b][j], plan.costs[b][j]) << "stage " << b << " on node " << j;
    }
}

TEST(PipelineMigration, TheBottleneckStageMovesToTheSpareOnlyWhenItsLinkIsChoked) {
  const Scenario sc = migration_scenario("[]");
  RunOptions options;
  options.progress = RunOptions::Progress::Never;
  SimSignals signals;
  PipelineRun pipeline(sc, options, signals);
  const PipelinePlan& plan = pipeline.plan;
  ASSERT_EQ(plan.stages.size(), 3u);
  const int spare = spare_node(plan, 4), victim = plan.stages[1].node;
  ASSERT_GE(spare, 0);
  EXPECT_EQ(pipeline.migration_start(0.02), -1) << "the optimal placement leaves no spare that lowers the bottleneck";

  // A link change on the client's side, or an up link on a spare, changes nothing.
  pipeline.link_changed(choke("c", 12.5e6));
  EXPECT_EQ(pipeline.migration_start(0.04), -1);

  // Stage 1's node receives its 1 MB per request at 100 Mbit/s instead of 10 Gbit/s.
  pipeline.link_changed(choke(sc.nodes[static_cast<std::size_t>(victim)].name, 12.5e6));
  const int b = pipeline.migration_start(0.06);
  ASSERT_EQ(b, 0);
  const StageFailback& m = pipeline.failbacks[0];
  EXPECT_TRUE(m.migration);
  EXPECT_EQ(m.stage, 1);
  EXPECT_EQ(m.from_node, victim);
  EXPECT_EQ(m.to_node, spare);
  EXPECT_DOUBLE_EQ(m.started_at_s, 0.06);
  // Before: the stage's cost on its node grows by 1 MB over the slower downlink (serialization
  // at 1 TB/s in series with both). After: every stage where the plan priced it, stage 1 on an
  // identical L4 with its full link.
  const double in_series = [] {
    const auto at = [](double link) { return 1.0 / (1.0 / link + 1.0 / 1e12); };
    return 1e6 / at(12.5e6) - 1e6 / at(1.25e9);
  }();
  EXPECT_NEAR(m.bottleneck_before_s, plan.costs[1][static_cast<std::size_t>(victim)] + in_series, 1e-12);
  const double after = std::max({plan.costs[0][static_cast<std::size_t>(plan.stages[0].node)], plan.costs[1][static_cast<std::size_t>(spare)],
                                 plan.costs[2][static_cast<std::size_t>(plan.stages[2].node)]});
  EXPECT_DOUBLE_EQ(m.bottleneck_after_s, after);
  EXPECT_DOUBLE_EQ(plan.costs[1][static_cast<std::size_t>(spare)], plan.costs[1][static_cast<std::size_t>(victim)]) << "identical L4s";
  EXPECT_EQ(pipeline.node_taken[static_cast<std::size_t>(spare)], 1) << "the spare is reserved while it loads";
  EXPECT_EQ(pipeline.migration_start(0.08), -1) << "one move at a time";

  ASSERT_TRUE(pipeline.failback_switch(b, 0.0605));
  EXPECT_EQ(pipeline.stage_node[1], spare);
  EXPECT_EQ(pipeline.node_taken[static_cast<std::size_t>(victim)], -1) << "the choked node turns spare";
  EXPECT_EQ(pipeline.migration_start(0.1), -1) << "the choked node is no better a place for any stage";
}

TEST(PipelineMigration, AGainBelowTheThresholdMovesNothing) {
  const Scenario sc = migration_scenario("[]", 0.99);
  RunOptions options;
  options.progress = RunOptions::Progress::Never;
  SimSignals signals;
  PipelineRun pipeline(sc, options, signals);
  pipeline.link_changed(choke(sc.nodes[static_cast<std::size_t>(pipeline.plan.stages[1].node)].name, 12.5e6));
  EXPECT_EQ(pipeline.migration_start(0.06), -1) << "a 99% drop of the bottleneck is asked for; moving gains less";
}

TEST(PipelineMigration, BothEnginesMoveTheChokedStageAndFinishSoonerThanWithout) {
  const Scenario plain = migration_scenario("[]");
  const std::string victim = node_of_stage(plain, 1);
  const std::string events = R"([{"at": "55ms", "action": "set_bandwidth", "node": ")" + victim +
                             R"(", "direction": "down", "bandwidth": "100Mbps"}])";
  Scenario stay = migration_scenario(events);
  stay.policy.partitioner.migrate_period_s = 0;
  const nlohmann::json without = run(stay).metrics;
  EXPECT_FALSE(without.contains("migrations"));

  std::vector<nlohmann::json> runs;
  for (const EngineKind engine : {EngineKind::SimGrid, EngineKind::Flow}) {
    Scenario sc = migration_scenario(events);
    sc.engine = engine;
    sc.policy.partitioner.handover = Handover::Drain;
    const nlohmann::json m = run(sc).metrics;
    SCOPED_TRACE(to_string(engine));
    ASSERT_EQ(m["migrations"].size(), 1u) << m["migrations"];
    const nlohmann::json& g = m["migrations"][0];
    EXPECT_EQ(g["stage"], 1);
    EXPECT_EQ(g["from"], victim);
    EXPECT_EQ(g["to"], plain.nodes[static_cast<std::size_t>(spare_node(plan_pipeline(plain), 4))].name);
    EXPECT_NEAR(g["started_at_s"].get<double>(), 0.060, 1e-12) << "the first check after the choke";
    EXPECT_NEAR(g["ready_at_s"].get<double>(), 0.060 + 1e6 / 2e9, 1e-12) << "1 MB of parameters at 2 GB/s";
    // The drain handover: the choked node finishes what was sent before the switch.
    EXPECT_EQ(g["handover"], "drain");
    EXPECT_EQ(g["requests_resent"], 0);
    EXPECT_GT(g["requests_drained"].get<int>(), 0);
    EXPECT_GT(g["drained_at_s"].get<double>(), g["ready_at_s"].get<double>());
    EXPECT_EQ(m["requests"]["resent"], 0);
    EXPECT_EQ(m["requests"]["completed"], 200);
    EXPECT_FALSE(m.contains("failbacks")) << "failback is off";
    EXPECT_LT(m["simulated_time_s"].get<double>(), 0.5 * without["simulated_time_s"].get<double>());
    runs.push_back(m);
  }
  EXPECT_NEAR(runs[0]["simulated_time_s"].get<double>(), runs[1]["simulated_time_s"].get<double>(),
              1e-3 * runs[0]["simulated_time_s"].get<double>());
}

// A migration overtaken by failures: the spare that loads the stage fails (the move is dropped and
// the stage serves on, choked, until the spare is back and the next check moves it), and the
// choked node itself fails while a spare loads its stage (the failover takes the stage over).
TEST(PipelineMigration, FailuresWhileLoadingDropTheMoveAndEveryRequestIsStillAnswered) {
  const Scenario plain = migration_scenario("[]");
  const std::string victim = node_of_stage(plain, 1);
  const std::string spare = plain.nodes[static_cast<std::size_t>(spare_node(plan_pipeline(plain), 4))].name;
  const std::string choke_at_55ms = R"({"at": "55ms", "action": "set_bandwidth", "node": ")" + victim +
                                    R"(", "direction": "down", "bandwidth": "100Mbps"})";
  for (const EngineKind engine : {EngineKind::SimGrid, EngineKind::Flow}) {
    SCOPED_TRACE(to_string(engine));
    Scenario spare_fails = migration_scenario("[" + choke_at_55ms + R"(, {"at": "60.2ms", "action": "node_down", "node": ")" + spare +
                                              R"("}, {"at": "70ms", "action": "node_up", "node": ")" + spare + R"("}])");
    spare_fails.engine = engine;
    const nlohmann::json a = run(spare_fails).metrics;
    ASSERT_EQ(a["migrations"].size(), 2u) << a["migrations"];
    EXPECT_TRUE(a["migrations"][0].value("dropped", false));
    EXPECT_FALSE(a["migrations"][0].contains("ready_at_s"));
    EXPECT_NEAR(a["migrations"][1]["started_at_s"].get<double>(), 0.080, 1e-12) << "the first check with the spare back";
    EXPECT_EQ(a["migrations"][1]["to"], spare);
    EXPECT_TRUE(a["migrations"][1].contains("ready_at_s"));
    EXPECT_EQ(a["requests"]["completed"], 200);

    Scenario victim_fails = migration_scenario("[" + choke_at_55ms + R"(, {"at": "60.2ms", "action": "node_down", "node": ")" + victim + R"("}])");
    victim_fails.engine = engine;
    const nlohmann::json b = run(victim_fails).metrics;
    ASSERT_EQ(b["migrations"].size(), 1u) << b["migrations"];
    ASSERT_EQ(b["failovers"].size(), 1u);
    EXPECT_EQ(b["requests"]["completed"], 200);
    // The choked node fails before the spare has loaded the stage: the move is dropped when the
    // load ends, and the failover, once it has detected the failure, takes the freed spare.
    EXPECT_TRUE(b["migrations"][0].value("dropped", false));
    EXPECT_EQ(b["failovers"][0]["from"], victim);
    EXPECT_EQ(b["failovers"][0]["to"], spare);
  }
}

// ---- Handover (policy.partitioner.handover) ----------------------------------------------------

namespace {

/// The L4 that the failback scenarios fail and bring back: stage 1's.
std::string failback_victim() { return node_of_stage(failover_scenario(true, "[]"), 1); }

/// The failback of AStageMovesBackWhenItsFasterNodeReturns (stage 1 fails over to the GTX 1650
/// spare at 55 ms, its L4 is back at 150 ms and takes it back at 150.5 ms) with `handover` on
/// `engine`, plus `more` events.
Scenario failback_scenario(Handover handover = Handover::Drain, EngineKind engine = EngineKind::SimGrid, const std::string& more = "") {
  const std::string victim = failback_victim();
  Scenario sc = failover_scenario(true, R"([{"at": "55ms", "action": "node_down", "node": ")" + victim +
                                            R"("}, {"at": "150ms", "action": "node_up", "node": ")" + victim + "\"}" + more + "]");
  sc.policy.faults.failback = true;
  sc.policy.partitioner.handover = handover;
  sc.engine = engine;
  return sc;
}

/// Per request (session), the times its attempts were sent (request_sent, then request_resent).
std::map<int, std::vector<double>> send_times(const std::filesystem::path& events) {
  std::map<int, std::vector<double>> sent;
  for (const nlohmann::json& e : read_events(events))
    if (e["type"] == "request_sent" || e["type"] == "request_resent") sent[e["request"].get<int>()].push_back(e["t"].get<double>());
  return sent;
}

}  // namespace

// The drain handover: when the L4 has loaded stage 1 back (150.5 ms), the 16 requests of the
// window stay with the spare, which finishes them; every request sent from then on goes to the
// L4. Nothing is sent again for the move, each request's stage-1 work is done once after the
// failover's resend, the spare's last stage-1 work is for a request sent before the switch, and
// once it is done the spare turns spare again (blocks_moved after stage_drained). Both engines
// tell the same story, and the move moves fewer messages than a resend handover.
TEST(PipelineHandover, DrainFinishesEarlierRequestsOnTheOldNodeAndSendsNothingAgain) {
  const std::string victim = failback_victim();
  std::vector<nlohmann::json> runs;
  for (const EngineKind engine : {EngineKind::SimGrid, EngineKind::Flow}) {
    SCOPED_TRACE(to_string(engine));
    std::filesystem::path out;
    const nlohmann::json m = run_with_outputs(failback_scenario(Handover::Drain, engine), "pipeline-drain", out);
    ASSERT_EQ(m["failbacks"].size(), 1u) << m["failbacks"];
    const nlohmann::json& b = m["failbacks"][0];
    const double switched = b["ready_at_s"].get<double>(), drained = b["drained_at_s"].get<double>();
    EXPECT_NEAR(switched, 0.150 + 1e6 / 2e9, 1e-12);
    EXPECT_EQ(b["handover"], "drain");
    EXPECT_EQ(b["requests_resent"], 0);
    EXPECT_EQ(b["requests_drained"], 16) << "the window was full";
    EXPECT_GT(drained, switched);
    EXPECT_EQ(m["requests"]["resent"], 16) << "the failover's only";
    EXPECT_EQ(m["requests"]["completed"], 200);

    const std::map<int, std::vector<double>> sent = send_times(out / "events.jsonl");
    std::vector<std::string> story;
    for (const nlohmann::json& e : read_events(out / "events.jsonl")) {
      const std::string type = e["type"];
      if (type == "stage_ready" || type == "stage_drained" || type == "blocks_moved" || type == "failback_loading")
        story.push_back(type + "@" + e["node"].get<std::string>());
      if (type == "stage_drained") {
        EXPECT_NEAR(e["t"].get<double>(), drained, 1e-9);
      }
    }
    EXPECT_EQ(story, (std::vector<std::string>{"stage_ready@spare", "failback_loading@" + victim, "stage_ready@" + victim,
                                               "stage_drained@spare", "blocks_moved@spare"}));
    expect_each_answered_once(out, 200);

    // Stage 1's work after the switch: on the spare only for requests last sent before it, on
    // the L4 only for the others, and none of them twice.
    const nlohmann::json trace = read_trace(out);
    std::map<std::string, int> track_of = tracks_by_host(trace);
    int on_spare_after = 0, on_victim_after = 0;
    double last_on_spare = 0;
    std::map<int, int> stage1_after;
    for (const nlohmann::json& e : trace["traceEvents"]) {
      if (!(e["ph"] == "X" && e["name"] == "stage 1")) continue;
      const double start = e["ts"].get<double>() * 1e-6;
      if (start < switched) continue;
      const int r = e["args"]["session"].get<int>();
      const double last_sent = sent.at(r).back();
      ++stage1_after[r];
      if (e["tid"] == track_of["spare"]) {
        ++on_spare_after;
        last_on_spare = std::max(last_on_spare, start);
        EXPECT_LT(last_sent, switched) << "request " << r << " drained on the spare";
      } else {
        EXPECT_EQ(e["tid"], track_of[victim]);
        ++on_victim_after;
        EXPECT_GE(last_sent, switched) << "request " << r << " sent before the switch ran on the L4";
      }
    }
    EXPECT_GT(on_spare_after, 0);
    EXPECT_LE(on_spare_after, 16);
    EXPECT_GT(on_victim_after, 100);
    EXPECT_LT(last_on_spare, drained);
    for (const auto& [r, n] : stage1_after) EXPECT_EQ(n, 1) << "request " << r;
    runs.push_back(m);
  }
  EXPECT_NEAR(runs[0]["simulated_time_s"].get<double>(), runs[1]["simulated_time_s"].get<double>(), 1e-3 * runs[0]["simulated_time_s"].get<double>());
  EXPECT_NEAR(runs[0]["failbacks"][0]["drained_at_s"].get<double>(), runs[1]["failbacks"][0]["drained_at_s"].get<double>(),
              1e-12 * runs[0]["failbacks"][0]["drained_at_s"].get<double>());

  const nlohmann::json r = run(failback_scenario(Handover::Resend)).metrics;
  EXPECT_EQ(r["failbacks"][0]["handover"], "resend");
  EXPECT_FALSE(r["failbacks"][0].contains("requests_drained"));
  EXPECT_LT(runs[0]["network"]["messages"].get<int>(), r["network"]["messages"].get<int>()) << "no request's messages twice";
  // What draining costs here: the window's 16 requests wait in the slow spare's queue, served at
  // its 19 ms a request, while the L4 would redo them at 1 ms a stage (docs/partitioning.md).
  EXPECT_GT(runs[0]["simulated_time_s"].get<double>(), r["simulated_time_s"].get<double>() + 0.1);
}

// The spare fails at 250 ms while it drains (it finishes the window's requests one by one, 19 ms
// each, until about 450 ms): the client declares it dead after two missed 10 ms heartbeats and sends again the
// requests sent before the switch that are still unanswered; every request is answered once, and
// no request sent after the switch is sent again.
TEST(PipelineHandover, AnOldNodeThatFailsWhileDrainingHasItsRequestsSentAgainOnceDetected) {
  for (const EngineKind engine : {EngineKind::SimGrid, EngineKind::Flow}) {
    SCOPED_TRACE(to_string(engine));
    const Scenario sc = failback_scenario(Handover::Drain, engine, R"(, {"at": "250ms", "action": "node_down", "node": "spare"})");
    std::filesystem::path out;
    const nlohmann::json m = run_with_outputs(sc, "pipeline-drain-lost", out);
    ASSERT_EQ(m["failbacks"].size(), 1u) << m["failbacks"];
    const nlohmann::json& b = m["failbacks"][0];
    const double switched = b["ready_at_s"].get<double>();
    EXPECT_DOUBLE_EQ(b["drain_failed_at_s"].get<double>(), 0.250);
    EXPECT_FALSE(b.contains("drained_at_s"));
    const int again = b["requests_resent"].get<int>();
    EXPECT_GT(again, 0);
    EXPECT_LT(again, 16) << "the spare had finished some of them";
    EXPECT_EQ(m["failovers"].size(), 1u) << "the spare ran no stage of its own";
    EXPECT_EQ(m["requests"]["resent"], 16 + again);
    EXPECT_EQ(m["requests"]["completed"], 200);

    const double detected = sc.policy.faults.detected_at(0.250);
    EXPECT_GT(detected, 0.250);
    int resent_after_switch = 0;
    for (const nlohmann::json& e : read_events(out / "events.jsonl"))
      if (e["type"] == "request_resent" && e["t"].get<double>() > switched) {
        ++resent_after_switch;
        EXPECT_GE(e["t"].get<double>(), detected);
      }
    EXPECT_EQ(resent_after_switch, again);
    expect_each_answered_once(out, 200);
  }
}

// The forward handover on the same failback: at the switch the spare sends the inputs queued in
// front of it on to the L4 while it finishes the request it is computing, and then any still on
// their way to it; the L4 serves them at its own pace. Nothing is sent again, no request's
// stage-1 work starts on the spare after the switch, and the run ends well before the drain's and
// before the resend's, which does the window's stage-0 work again.
TEST(PipelineHandover, ForwardSendsTheOldNodesQueueOnAndBeatsDrainAndResendWhenTheOldNodeIsSlow) {
  std::vector<nlohmann::json> runs;
  for (const EngineKind engine : {EngineKind::SimGrid, EngineKind::Flow}) {
    SCOPED_TRACE(to_string(engine));
    std::filesystem::path out;
    const nlohmann::json m = run_with_outputs(failback_scenario(Handover::Forward, engine), "pipeline-forward", out);
    ASSERT_EQ(m["failbacks"].size(), 1u) << m["failbacks"];
    const nlohmann::json& b = m["failbacks"][0];
    const double switched = b["ready_at_s"].get<double>();
    EXPECT_EQ(b["handover"], "forward");
    EXPECT_EQ(b["requests_resent"], 0);
    EXPECT_EQ(b["requests_drained"], 16);
    const int forwarded = b["messages_forwarded"].get<int>();
    EXPECT_GE(forwarded, 14) << "the window's requests but the one being computed and any past stage 1";
    EXPECT_LE(forwarded, 16);
    EXPECT_GT(b["drained_at_s"].get<double>(), switched);
    EXPECT_EQ(m["requests"]["resent"], 16) << "the failover's only";
    EXPECT_EQ(m["requests"]["completed"], 200);

    expect_each_answered_once(out, 200);

    const nlohmann::json trace = read_trace(out);
    std::map<std::string, int> track_of = tracks_by_host(trace);
    std::map<int, int> stage1_after;
    int on_spare_after = 0;
    for (const nlohmann::json& e : trace["traceEvents"]) {
      if (!(e["ph"] == "X" && e["name"] == "stage 1") || e["ts"].get<double>() * 1e-6 < switched) continue;
      if (e["tid"] == track_of["spare"]) ++on_spare_after;
      ++stage1_after[e["args"]["session"].get<int>()];
    }
    EXPECT_EQ(on_spare_after, 0) << "the spare starts no stage-1 work after the switch";
    for (const auto& [r, n] : stage1_after) EXPECT_EQ(n, 1) << "request " << r;
    runs.push_back(m);
  }
  EXPECT_NEAR(runs[0]["simulated_time_s"].get<double>(), runs[1]["simulated_time_s"].get<double>(), 1e-3 * runs[0]["simulated_time_s"].get<double>());
  EXPECT_EQ(runs[0]["failbacks"][0]["messages_forwarded"], runs[1]["failbacks"][0]["messages_forwarded"]);

  const double t_drain = run(failback_scenario(Handover::Drain)).metrics["simulated_time_s"].get<double>();
  const double t_resend = run(failback_scenario(Handover::Resend)).metrics["simulated_time_s"].get<double>();
  const double t_forward = runs[0]["simulated_time_s"].get<double>();
  EXPECT_LT(t_forward, t_drain - 0.1) << "the slow spare's queue is not served at its pace";
  EXPECT_LT(t_forward, t_resend) << "no work is done twice";
  EXPECT_LT(t_resend, t_drain);
  std::printf("end of run: forward %.4f s, resend %.4f s, drain %.4f s\n", t_forward, t_resend, t_drain);
}

// A stage that gathers two inputs per request: skip3 is chain3 with c also taking a's output, so
// stage 2 waits for one message from each earlier stage. Its node's downlink is choked at 55 ms
// and the check at 60 ms migrates it to the spare L4. With the forward handover the old node
// sends on the inputs it holds, those of requests it had only begun to gather included, and the
// messages still crawling to it through the choked link as they arrive; a request whose gathered
// input were lost would never be answered. Here the requests wait in that link, so sending them
// again around it is fastest, forwarding what crawls through it next, and draining them through
// it slowest.
TEST(PipelineHandover, ForwardSendsPartlyGatheredInputsOnAndWhereRequestsWaitDecidesWhichHandoverPays) {
  std::string nodes;
  for (const char* n : {"s0", "s1", "s2", "spare"}) nodes += server_json(n, "L4") + ",";
  nodes.pop_back();
  const Scenario plain = chain3_with_nodes(nodes, "[]", 200, 16, "skip3.json");
  const std::string victim = node_of_stage(plain, 2);
  const auto scenario = [&](Handover h, EngineKind engine) {
    Scenario sc = chain3_with_nodes(nodes, R"([{"at": "55ms", "action": "set_bandwidth", "node": ")" + victim +
                                               R"(", "direction": "down", "bandwidth": "100Mbps"}])",
                                    200, 16, "skip3.json");
    sc.policy.partitioner.migrate_period_s = 0.020;
    sc.policy.partitioner.handover = h;
    sc.engine = engine;
    sc.time_limit_s = 20;  // a lost input would leave its request unanswered until then
    return sc;
  };
  ASSERT_EQ(plain.graph->size(), 4);
  std::vector<nlohmann::json> runs;
  for (const EngineKind engine : {EngineKind::SimGrid, EngineKind::Flow}) {
    SCOPED_TRACE(to_string(engine));
    std::filesystem::path out;
    const nlohmann::json m = run_with_outputs(scenario(Handover::Forward, engine), "pipeline-forward-skip", out);
    ASSERT_EQ(m["migrations"].size(), 1u) << m["migrations"];
    const nlohmann::json& g = m["migrations"][0];
    EXPECT_EQ(g["stage"], 2);
    EXPECT_EQ(g["from"], victim);
    EXPECT_EQ(g["to"], "spare");
    EXPECT_EQ(g["handover"], "forward");
    EXPECT_EQ(g["requests_resent"], 0);
    const int drained = g["requests_drained"].get<int>(), forwarded = g["messages_forwarded"].get<int>();
    EXPECT_GT(forwarded, drained) << "requests with both inputs held up at the old node";
    EXPECT_LE(forwarded, 2 * drained);
    EXPECT_EQ(m["requests"]["completed"], 200);
    EXPECT_EQ(m["requests"]["resent"], 0);
    expect_each_answered_once(out, 200);
    runs.push_back(m);
  }
  EXPECT_NEAR(runs[0]["simulated_time_s"].get<double>(), runs[1]["simulated_time_s"].get<double>(), 1e-9);
  EXPECT_EQ(runs[0]["migrations"][0]["messages_forwarded"], runs[1]["migrations"][0]["messages_forwarded"]);

  const double t_forward = runs[0]["simulated_time_s"].get<double>();
  const double t_drain = run(scenario(Handover::Drain, EngineKind::Flow)).metrics["simulated_time_s"].get<double>();
  const double t_resend = run(scenario(Handover::Resend, EngineKind::Flow)).metrics["simulated_time_s"].get<double>();
  EXPECT_LT(t_resend, t_forward);
  EXPECT_LT(t_forward, t_drain);
  std::printf("end of run: resend %.4f s, forward %.4f s, drain %.4f s\n", t_resend, t_forward, t_drain);
}
