// Graph models run as pipelines: known-answer throughput of a three-stage chain, the effect of
// requests in flight, and the stage accounting.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/engine/isolated_run.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/scenario/scenario_loader.hpp"

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

RunReport run(const Scenario& sc) {
  RunOptions opts;
  opts.progress = RunOptions::Progress::Never;
  return run_isolated(sc, opts);
}

}  // namespace

TEST(Pipeline, PlanCutsTheChainIntoOneOpPerStage) {
  const PipelinePlan plan = plan_pipeline(chain_scenario(8));
  ASSERT_EQ(plan.stages.size(), 3u);
  // 84.7 GFLOP at 84.7 TFLOP/s; stage 0 also holds "input", whose 1 MB read costs 1e6 / (0.8 x 300 GB/s).
  EXPECT_NEAR(plan.stages[0].compute_s, 1e-3 + 1e6 / 240e9, 1e-9);
  EXPECT_NEAR(plan.stages[1].compute_s, 1e-3, 1e-9);
  EXPECT_NEAR(plan.stages[2].compute_s, 1e-3, 1e-9);
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

TEST(Pipeline, EveryMethodRunsToCompletion) {
  for (const char* method : {"brkga", "layer-wise", "load-balanced", "topology-aware", "pipeline"}) {
    const RunReport r = run(chain_scenario(4, method));
    EXPECT_EQ(r.metrics["requests"]["completed"].get<int>(), 200) << method;
    EXPECT_EQ(r.metrics["partition"]["method"].get<std::string>(), method);
  }
}
