// Fisher B-trees on SimGrid (seed 000): a request's latency worked out by hand, how thresholds
// decide the hops, and a split that serves once its node has loaded its parameters.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "sim/engine/isolated_run.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/temp_path.hpp"

using namespace swarmsim::sim;

namespace {

/// A root and two leaves on three L4s and a client on 10 Gbit/s links with 100 µs access
/// latency, the exact network model and no per-message overheads.
Scenario small_tree(int sessions, double threshold, const std::string& extra_tree = R"(, "balance_period": "0s")",
                    const std::string& workload = R"(, "max_in_flight": 1)") {
  const std::string server = R"({"name": "s", "count": 3, "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps",
                                 "downlink": "10Gbps", "access_latency": "100us"})";
  const std::string text = R"({
    "name": "tree-test",
    "model": {"tree": {"classes": 8, "dim": 16, "noise": 1.5, "order": 3, "initial_children": 2, "threshold": )" +
                           std::to_string(threshold) + R"(, "node_work": "100GFLOP",
                       "node_params": "200MB", "hidden_state": "16KB", "answer": "64B")" + extra_tree + R"(}},
    "nodes": [)" + server + R"(],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps",
                 "access_latency": "100us"}],
    "network": {"model": "exact"},
    "overheads": {"rpc": "0ms", "serialization_bandwidth": "1TBps", "message_header": "0B"},
    "workload": {"sessions": )" + std::to_string(sessions) + workload + R"(}
  })";
  return load_scenario_text(text, "tree-test.json");
}

RunReport run(const Scenario& sc, const std::filesystem::path& out = {}) {
  RunOptions opts;
  opts.progress = RunOptions::Progress::Never;
  opts.out_dir = out;
  return run_isolated(sc, opts);
}

TEST(TreeEngine, ARequestsLatencyIsItsThreeMessagesAndTwoNodesComputeWhenTheRootNeverAnswers) {
  const RunReport r = run(small_tree(1, 1.0));  // confidence never exceeds 1: the root always routes
  const auto& m = r.metrics;
  ASSERT_EQ(m["requests"]["completed"], 1);
  const double compute = m["tree"]["nodes"][0]["compute_s"].get<double>();
  EXPECT_EQ(m["tree"]["nodes"][1]["compute_s"].get<double>(), compute) << "three L4s";
  const double bw = 10e9 / 8, hop = 2 * 100e-6;  // two access links per message, no distance
  const double ends = 2 / 1e12;                   // (de)serialization at 1 TB/s at both ends
  const double expected = (hop + 16000 / bw + 16000 * ends) + compute + (hop + 16000 / bw + 16000 * ends) + compute +
                          (hop + 64 / bw + 64 * ends);
  EXPECT_NEAR(m["latency_s"]["p50"].get<double>(), expected, 1e-8);
  EXPECT_EQ(m["network"]["messages"], 3);
  EXPECT_DOUBLE_EQ(m["answers"]["mean_nodes_visited"].get<double>(), 2.0);
}

TEST(TreeEngine, TheThresholdDecidesWhereRequestsExitAndDeeperAnswersAreMoreAccurate) {
  const RunReport root_only = run(small_tree(400, 0.0));  // any confidence exceeds 0: the root answers everything
  const RunReport leaves = run(small_tree(400, 1.0));
  EXPECT_EQ(root_only.metrics["requests"]["completed"], 400);
  EXPECT_EQ(leaves.metrics["requests"]["completed"], 400);
  EXPECT_EQ(root_only.metrics["network"]["messages"], 800);
  EXPECT_EQ(leaves.metrics["network"]["messages"], 1200);
  EXPECT_EQ(root_only.metrics["answers"]["early_exits"], 400);
  EXPECT_EQ(leaves.metrics["answers"]["early_exits"], 0);
  const int leaf_visits = leaves.metrics["tree"]["nodes"][1]["visits"].get<int>() + leaves.metrics["tree"]["nodes"][2]["visits"].get<int>();
  EXPECT_EQ(leaf_visits, 400);
  // A leaf answers with two looks at the input and half the classes to choose from.
  EXPECT_GT(leaves.metrics["answers"]["accuracy"].get<double>(), root_only.metrics["answers"]["accuracy"].get<double>() + 0.05);
}

TEST(TreeEngine, AHotLeafSplitsAndItsSiblingServesOnceItHasLoadedItsParameters) {
  // Most requests are of the first classes, and the root never answers (threshold 1, α 0): the
  // left leaf is the loaded one.
  const Scenario sc = small_tree(3000, 1.0,
                                 R"(, "alpha": 0, "class_skew": 1.5, "balance_period": "500ms", "min_samples": 10,
                                    "split": {"fisher": 2, "load_ratio": 1.05}, "merge": {"fisher": 0.001})",
                                 R"(, "max_in_flight": 64, "arrival": {"process": "poisson", "rate": "500/s"})");
  Scenario more = sc;
  more.nodes.push_back(more.nodes.back());
  more.nodes.back().name = "spare";
  const std::filesystem::path out = swarmsim::test::temp_path("swarmsim-tree-split-test");
  std::filesystem::remove_all(out);
  const RunReport r = run(more, out);
  const auto& m = r.metrics;
  EXPECT_EQ(m["requests"]["completed"], 3000);
  ASSERT_GE(m["tree"]["splits"].size(), 1u);
  const auto& split = m["tree"]["splits"][0];
  EXPECT_EQ(split["node"], 1) << "the left leaf holds the popular classes";
  EXPECT_NEAR(split["ready_at_s"].get<double>() - split["at_s"].get<double>(), 200e6 / 2e9, 1e-9) << "200 MB at the default 2 GB/s";
  const int sibling = split["created"][0].get<int>();
  const auto& node = m["tree"]["nodes"][static_cast<std::size_t>(sibling)];
  EXPECT_EQ(node["node"], "spare");
  EXPECT_GT(node["visits"].get<int>(), 0);
  EXPECT_DOUBLE_EQ(node["created_at_s"].get<double>(), split["at_s"].get<double>());
  // The split is in the events log, first while loading, then serving.
  std::ifstream events(out / "events.jsonl");
  std::string line;
  bool started = false, served = false;
  while (std::getline(events, line)) {
    started |= line.find("\"what\":\"split_started\"") != std::string::npos;
    served |= started && line.find("\"what\":\"split\"") != std::string::npos;
  }
  EXPECT_TRUE(started);
  EXPECT_TRUE(served);
  std::filesystem::remove_all(out);
}

TEST(TreeEngine, AFailedLeafIsDetectedItsRequestsAreSentAgainAndASpareTakesItOver) {
  // The root never answers, so every request needs a leaf. Leaf 1's server fails at 1.03 s;
  // heartbeats every 100 ms, two missed: detected at 1.2 s.
  Scenario sc = small_tree(600, 1.0, R"(, "alpha": 0, "balance_period": "0s")",
                           R"(, "max_in_flight": 16, "arrival": {"process": "poisson", "rate": "300/s"})");
  sc.nodes.push_back(sc.nodes.back());
  sc.nodes.back().name = "spare";
  sc.policy.faults.heartbeat_s = 0.1;
  ReplayEvent down;
  down.at_s = 1.03;
  down.action = EventAction::NodeDown;
  down.node = "s-1";
  sc.events.push_back(down);
  const RunReport r = run(sc);
  const auto& m = r.metrics;
  EXPECT_EQ(m["requests"]["completed"], 600) << "every request is answered once, lost ones after they were sent again";
  ASSERT_EQ(m["tree"]["failovers"].size(), 1u);
  const auto& f = m["tree"]["failovers"][0];
  EXPECT_EQ(f["node"], 1);
  EXPECT_EQ(f["from"], "s-1");
  EXPECT_DOUBLE_EQ(f["detected_at_s"].get<double>(), 1.2);
  EXPECT_EQ(f["to"], "spare");
  EXPECT_NEAR(f["ready_at_s"].get<double>(), 1.2 + 200e6 / 2e9, 1e-9) << "the spare loads 200 MB at 2 GB/s";
  EXPECT_GT(f["requests_resent"].get<int>(), 0);
  EXPECT_EQ(m["requests"]["resent"], f["requests_resent"]);
  // Between detection and the spare serving, the root answers what it would have sent there.
  EXPECT_GT(m["answers"]["degraded"].get<int>(), 0);
  EXPECT_EQ(m["tree"]["nodes"][1]["node"], "spare");
  EXPECT_EQ(m["tree"]["nodes"][1]["state"], "serving");
  // The same run on the flow engine agrees (to rounding: the engines add times in other orders).
  sc.engine = EngineKind::Flow;
  const RunReport flowed = run(sc);
  for (const char* q : {"p50", "p90", "p99", "max"})
    EXPECT_NEAR(flowed.metrics["latency_s"][q].get<double>(), m["latency_s"][q].get<double>(), 1e-8) << q;
  EXPECT_EQ(flowed.metrics["answers"], m["answers"]);
  EXPECT_EQ(flowed.metrics["tree"]["failovers"], m["tree"]["failovers"]);
}

}  // namespace
