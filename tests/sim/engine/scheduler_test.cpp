// Server schedulers (fcfs, priority with deadlines, batch) and trace-driven arrivals.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "gpu/shard_cost_model.hpp"
#include "sim/engine/isolated_run.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;

namespace {

/// One L4 server with the whole model on a fast link, one client; `extra` completes the JSON.
std::string one_server(const std::string& scheduler, const std::string& workload) {
  return R"({
    "name": "sched", "seed": 2, "model": {"name": "Llama-3-8B"},
    "nodes": [{"name": "s", "gpu": "A100-80GB", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps",
               "blocks": {"start": 0, "end": 32}}],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps"}],
    "network": {"model": "exact"},
    "workload": )" + workload + R"(,
    "policy": {"scheduler": )" + scheduler + R"(}
  })";
}

const std::string kFourAtOnce =
    R"({"sessions": 4, "start": "10s", "arrival": {"process": "all_at_start"}, "prompt_tokens": 16, "new_tokens": 12})";

struct Recorded {
  std::vector<ComputeSpan> computes;
  std::vector<SessionEnded> ended;
  std::vector<SessionStarted> started;
  RunReport report;
};

Recorded run_here(const std::string& text, const std::string& file = "scheduler_test.json") {
  const Scenario sc = load_scenario_text(text, file);
  SwarmSimulation sim(sc, make_cost_model(sc));
  Recorded r;
  sim.signals().on_compute.connect([&](const ComputeSpan& c) {
    if (c.host == 0) r.computes.push_back(c);
  });
  sim.signals().on_session_ended.connect([&](const SessionEnded& e) { r.ended.push_back(e); });
  sim.signals().on_session_started.connect([&](const SessionStarted& e) { r.started.push_back(e); });
  RunOptions o;
  o.progress = RunOptions::Progress::Never;
  r.report = sim.run(o);
  return r;
}

}  // namespace

// FCFS runs one request at a time: the server's compute spans never overlap, where the shared
// device (processor sharing) runs the four sessions' prefills at once.
TEST(Scheduler, FcfsRunsOneRequestAtATime) {
  const Recorded r = run_here(one_server(R"({"kind": "fcfs"})", kFourAtOnce));
  for (const SessionEnded& e : r.ended) EXPECT_TRUE(e.completed) << e.reason;
  ASSERT_EQ(r.computes.size(), 4u * 12);
  std::vector<ComputeSpan> spans = r.computes;
  std::sort(spans.begin(), spans.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  for (std::size_t i = 1; i < spans.size(); ++i) EXPECT_LE(spans[i - 1].end, spans[i].start + 1e-12);
  // Each span lasts exactly its own priced time (nothing shares the device).
  for (const ComputeSpan& c : spans) EXPECT_NEAR(c.end - c.start, c.device_seconds, 1e-12);
}

TEST(Scheduler, SharedDeviceRunsRequestsTogether) {
  const Recorded r = run_here(one_server(R"({"kind": "shared"})", kFourAtOnce));
  int overlapping = 0;
  for (std::size_t i = 0; i < r.computes.size(); ++i)
    for (std::size_t j = i + 1; j < r.computes.size(); ++j)
      overlapping += r.computes[i].start < r.computes[j].end - 1e-12 && r.computes[j].start < r.computes[i].end - 1e-12;
  EXPECT_GT(overlapping, 0);
}

// A trace gives each session its arrival and priority: the urgent session arriving 1 ms after
// three others jumps the queue under the priority scheduler and finishes first; under FCFS it
// finishes last.
TEST(Scheduler, PriorityServesTheUrgentSessionFirst) {
  const std::string file = std::string(SWARMSIM_SOURCE_DIR) + "/tests/data/traces/scheduler_test.json";
  const std::string trace = R"({"arrival": {"process": "trace", "file": "../traces/priority_burst.csv"}, "prompt_tokens": 1, "new_tokens": 1})";
  const Recorded r = run_here(one_server(R"({"kind": "priority"})", trace), file);
  ASSERT_EQ(r.started.size(), 4u);
  EXPECT_DOUBLE_EQ(r.started[3].t, 10.001);  // the trace's arrival times
  EXPECT_DOUBLE_EQ(r.started[0].t, 10.0);
  ASSERT_EQ(r.ended.size(), 4u);
  for (const SessionEnded& e : r.ended) EXPECT_EQ(e.tokens, 12);  // the trace's new_tokens, not the workload's
  double urgent_end = 0, others_last = 0;
  for (const SessionEnded& e : r.ended) (e.session == 3 ? urgent_end : others_last) = std::max(e.session == 3 ? urgent_end : others_last, e.t);
  EXPECT_LT(urgent_end, others_last);
}

TEST(Scheduler, FcfsLeavesTheLateUrgentSessionLast) {
  const std::string file = std::string(SWARMSIM_SOURCE_DIR) + "/tests/data/traces/scheduler_test.json";
  const std::string trace = R"({"arrival": {"process": "trace", "file": "../traces/priority_burst.csv"}, "prompt_tokens": 1, "new_tokens": 1})";
  const Recorded r = run_here(one_server(R"({"kind": "fcfs"})", trace), file);
  double urgent_end = 0, first_end = 1e300;
  for (const SessionEnded& e : r.ended) {
    if (e.session == 3) urgent_end = e.t;
    else first_end = std::min(first_end, e.t);
  }
  EXPECT_GT(urgent_end, first_end);
}

// Batching runs the decode steps of several sessions in one pass over the weights: spans of a
// batch share their start and end, and the device is busy for less time than one at a time.
TEST(Scheduler, BatchingSharesOnePassOverTheWeights) {
  const auto busy = [](const std::string& kind) {
    return run_isolated(load_scenario_text(one_server(kind, kFourAtOnce), "scheduler_test.json"), RunOptions{{}, RunOptions::Progress::Never})
        .metrics["nodes"][0]["busy_device_seconds"]
        .get<double>();
  };
  const double fcfs = busy(R"({"kind": "fcfs"})");
  const double batch = busy(R"({"kind": "batch", "batch_max": 4, "batch_wait": "20ms"})");
  EXPECT_LT(batch, 0.7 * fcfs);  // memory-bound decode: four sequences cost little more than one
}
