// Runs under a load that changes over time (workload.arrival "phases"): metrics.json's phases
// give each phase's requests or sessions and their latencies, on both engines, and a graph
// pipeline's planner keeps up with the busiest phase while predicting its energy over a cycle.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "sim/engine/isolated_run.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;

namespace {

std::string server(const std::string& name) {
  return R"({"name": ")" + name +
         R"(", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"})";
}

/// chain3 (three 1 ms ops on an L4) on three L4s, with `phases` (a JSON array) and `objective`.
Scenario chain3_phased(const std::string& phases, int sessions, const std::string& objective = "", const std::string& engine = "simgrid") {
  const std::string text = R"({
    "name": "chain3-phases",
    "model": {"graph": {"file": "chain3.json"}},
    "nodes": [)" + server("s0") + "," + server("s1") + "," + server("s2") + R"(],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"}],
    "network": {"model": "exact"},
    "overheads": {"rpc": "0ms", "serialization_bandwidth": "1TBps", "message_header": "0B"},
    "workload": {"sessions": )" + std::to_string(sessions) + R"(, "max_in_flight": 16, "arrival": {"process": "phases", "phases": )" +
                           phases + R"(}},
    "policy": {"partitioner": {"method": "slicegraph")" + (objective.empty() ? "" : ", \"objective\": " + objective) + R"(}},
    "simulation": {"engine": ")" + engine + R"("}
  })";
  return load_scenario_text(text, std::string(SWARMSIM_SOURCE_DIR) + "/tests/data/graphs/pipeline_test.json");
}

nlohmann::json run(const Scenario& sc) {
  RunOptions opts;
  opts.progress = RunOptions::Progress::Never;
  return run_isolated(sc, opts).metrics;
}

}  // namespace

// 200/s for 2 s, then 2,000/s for 0.5 s, twice the pipeline's 1,000/s: the second phase's
// requests wait for the window, so their response time (from arrival) far exceeds the first's,
// while their latency from sending stays near the pipeline's. The first phase's count is
// Poisson; the last request arrives before the second phase ends (1,300 of the 1,400 expected).
TEST(PhasedLoad, APipelinesPhasesReportTheirRequestsAndTheOverloadedOnesWait) {
  const std::string phases = R"([{"rate": "200/s", "duration": "2s"}, {"rate": "2000/s", "duration": "500ms"}])";
  for (const std::string engine : {"simgrid", "flow"}) {
    SCOPED_TRACE(engine);
    const nlohmann::json m = run(chain3_phased(phases, 1300, "", engine));
    ASSERT_TRUE(m.contains("phases"));
    const nlohmann::json& p = m["phases"];
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0]["rate_per_s"], 200.0);
    EXPECT_EQ(p[1]["duration_s"], 0.5);
    const int a0 = p[0]["requests_arrived"], a1 = p[1]["requests_arrived"];
    EXPECT_EQ(a0 + a1, 1300);
    EXPECT_NEAR(a0, 400, 4 * std::sqrt(400.0));
    EXPECT_EQ(p[0]["requests_completed"], a0);
    EXPECT_EQ(p[1]["requests_completed"], a1);
    for (const auto& phase : p)
      for (const char* q : {"p50", "p90", "p99", "max"})
        EXPECT_LE(phase["latency_s"][q].get<double>(), phase["response_s"][q].get<double>() + 1e-12) << q;
    EXPECT_GT(p[1]["response_s"]["p99"].get<double>(), 10 * p[0]["response_s"]["p99"].get<double>());
    // The phases' energy adds up to the run's, and each is spread over the requests arrived in it.
    EXPECT_NEAR(p[0]["energy_joules"].get<double>() + p[1]["energy_joules"].get<double>(), m["energy"]["joules"].get<double>(),
                1e-9 * m["energy"]["joules"].get<double>());
    EXPECT_NEAR(p[1]["joules_per_request"].get<double>(), p[1]["energy_joules"].get<double>() / a1, 1e-12);
    EXPECT_LT(p[1]["latency_s"]["p50"].get<double>(), 3 * p[0]["latency_s"]["p50"].get<double>());
  }
}

// two_node's one server shared by every session: the busy phase's sessions share it, so their first token
// and their tokens take longer than the quiet phase's.
TEST(PhasedLoad, ASwarmsPhasesReportTheirSessionsLatencies) {
  const std::string phases = R"({"process": "phases", "phases": [{"rate": "0.2/s", "duration": "60s"}, {"rate": "2/s", "duration": "20s"}]})";
  for (const std::string engine : {"simgrid", "flow"}) {
    SCOPED_TRACE(engine);
    const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json",
                                           {{"workload.arrival", phases}, {"workload.sessions", "40"}, {"simulation.engine", engine}});
    const nlohmann::json m = run(sc);
    ASSERT_TRUE(m.contains("phases"));
    const nlohmann::json& p = m["phases"];
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0]["sessions_arrived"].get<int>() + p[1]["sessions_arrived"].get<int>(), 40);
    EXPECT_EQ(p[0]["sessions_completed"], p[0]["sessions_arrived"]);
    EXPECT_EQ(p[1]["sessions_completed"], p[1]["sessions_arrived"]);
    EXPECT_GT(p[1]["latency_s"]["time_to_first_token"]["p99"].get<double>(), 2 * p[0]["latency_s"]["time_to_first_token"]["p99"].get<double>());
    EXPECT_GT(p[1]["latency_s"]["per_token_mean"].get<double>(), 2 * p[0]["latency_s"]["per_token_mean"].get<double>());
    EXPECT_GT(p[1]["latency_s"]["per_token"]["p50"].get<double>(), 2 * p[0]["latency_s"]["per_token"]["p50"].get<double>());
    for (const auto& phase : p) {
      const auto& t = phase["latency_s"]["per_token"];
      EXPECT_LE(t["p50"].get<double>(), t["p99"].get<double>());
      EXPECT_LE(t["p99"].get<double>(), t["max"].get<double>());
      EXPECT_LE(phase["latency_s"]["per_token_mean"].get<double>(), t["max"].get<double>());
    }
    EXPECT_GT(p[1]["latency_s"]["session"]["p99"].get<double>(), p[0]["latency_s"]["session"]["p99"].get<double>());
    EXPECT_EQ(p[0]["tokens_generated"].get<double>() + p[1]["tokens_generated"].get<double>(), m["throughput"]["tokens_generated"].get<double>());
    EXPECT_NEAR(p[0]["energy_joules"].get<double>() + p[1]["energy_joules"].get<double>(), m["energy"]["joules"].get<double>(),
                1e-9 * m["energy"]["joules"].get<double>());
    // The busy phase shares the idle draw among more tokens.
    EXPECT_LT(p[1]["joules_per_token"].get<double>(), p[0]["joules_per_token"].get<double>());
  }
}

// Hand-worked: 100/s for 10 s, then 450/s for 10 s. One L4 serves about 330/s, so keeping up with
// the busiest phase takes two (2 + 1 ops, 500/s); over a cycle they serve 275/s on average, and
// draw 2 x 16 W / 275 + 56 W x 3 ms = 0.284 J a request. The run measures the same within 3%.
TEST(PhasedLoad, ThePlannerKeepsUpWithTheBusiestPhaseAndPredictsACyclesEnergy) {
  const Scenario sc = chain3_phased(R"([{"rate": "100/s", "duration": "10s"}, {"rate": "450/s", "duration": "10s"}])", 5500,
                                    R"({"minimize": "energy", "unused_nodes": "off"})");
  EXPECT_DOUBLE_EQ(least_throughput(sc), 450.0);
  const PipelinePlan plan = plan_pipeline(sc);
  ASSERT_EQ(plan.stages.size(), 2u);
  const PlanScore& chosen = plan.candidates[static_cast<std::size_t>(plan.chosen)];
  EXPECT_NEAR(chosen.served_requests_per_s, 275.0, 1e-9);
  double compute = 0;
  for (const PipelineStage& st : plan.stages) compute += st.compute_s;
  EXPECT_NEAR(chosen.joules_per_request, 2 * 16.0 / 275 + 56.0 * compute, 1e-9);
  EXPECT_NEAR(chosen.joules_per_request, 0.284, 0.005);
  const nlohmann::json m = run(sc);
  ASSERT_EQ(m["requests"]["completed"], 5500);
  const double measured = m["energy"]["servers_joules"].get<double>() / 5500;
  EXPECT_NEAR(measured, chosen.joules_per_request, 0.03 * chosen.joules_per_request);
}

// Fisher B-trees and coded inference report their requests phase by phase too, on both engines:
// every request in exactly one phase, each answered, its latency from sending within its response.
TEST(PhasedLoad, TreesAndCodedRunsReportTheirPhases) {
  const std::string phases = R"({"process": "phases", "phases": [{"rate": "5/s", "duration": "4s"}, {"rate": "50/s", "duration": "2s"}]})";
  for (const char* file : {"tree/fisher-btree-skewed.json", "coded/coin-stragglers.json"})
    for (const char* engine : {"simgrid", "flow"}) {
      SCOPED_TRACE(std::string(file) + " " + engine);
      const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + file,
                                             {{"workload.arrival", phases}, {"workload.sessions", "110"}, {"simulation.engine", engine}});
      const nlohmann::json m = run(sc);
      ASSERT_TRUE(m.contains("phases"));
      const nlohmann::json& p = m["phases"];
      ASSERT_EQ(p.size(), 2u);
      EXPECT_EQ(p[0]["requests_arrived"].get<int>() + p[1]["requests_arrived"].get<int>(), 110);  // within the first cycle (120 expected)
      EXPECT_NEAR(p[0]["requests_arrived"].get<int>(), 20, 4 * std::sqrt(20.0));
      for (const auto& phase : p) {
        EXPECT_EQ(phase["requests_completed"], phase["requests_arrived"]);
        EXPECT_GT(phase["latency_s"]["p50"].get<double>(), 0.0);
        for (const char* q : {"p50", "p99", "max"})
          EXPECT_LE(phase["latency_s"][q].get<double>(), phase["response_s"][q].get<double>() + 1e-12) << q;
      }
    }
}

// The shipped compressed day runs the A100 alone through every phase: what partition --loads
// predicts for that fixed plan at each phase's rate is what the run measures phase by phase
// (servers' joules per request within 5%: the counts that arrive are Poisson draws).
TEST(PhasedLoad, TheFixedPlansPredictedEnergyPerPhaseIsWhatTheRunMeasures) {
  const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/pipeline/unet-sd-day.json");
  std::vector<OfferedLoad> loads;
  for (const ArrivalPhase& p : sc.workload.phases) loads.push_back({p.rate_per_s, p.duration_s / 3600});
  const LoadSchedule schedule = plan_for_loads(sc, loads);
  ASSERT_EQ(schedule.peak, 3);
  const nlohmann::json m = run(sc);
  ASSERT_EQ(m["partition"]["objective"]["chosen"]["nodes"], schedule.loads[3].fixed ? nlohmann::json{"a100-a"} : nlohmann::json());
  for (std::size_t i = 0; i < loads.size(); ++i) {
    SCOPED_TRACE(i);
    const double predicted = schedule.loads[i].fixed->joules_per_request;
    const double measured = m["phases"][i]["servers_joules_per_request"].get<double>();
    EXPECT_NEAR(measured, predicted, 0.05 * predicted);
  }
}
