// Multi-objective planning of graph pipelines (seed 003, "Multi-Objective Optimization";
// docs/partitioning.md, "Objectives"): the candidates scored, the Pareto front, the plan each
// objective picks by hand-worked figures, the predicted energy against a simulated run, nodes
// switched off for the run, and the error when no plan meets the bounds.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/engine/isolated_run.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/temp_path.hpp"

using namespace swarmsim::sim;

namespace {

/// One server at the client's location on 10 Gbit/s links, with its own rent when `rent` is set.
std::string server(const std::string& name, const std::string& gpu, const std::string& rent = "") {
  return R"({"name": ")" + name + R"(", "gpu": ")" + gpu +
         R"(", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us")" +
         (rent.empty() ? "" : R"(, "costs": {"rent": ")" + rent + R"("})") + "}";
}

/// The chain3 graph (three 1 ms ops on an L4, 1 MB activations) on `nodes`, `sessions` requests
/// arriving every `interval`, 16 in flight, negligible per-message overheads, with `objective`
/// (a JSON object, or empty for none) and `events`.
Scenario chain3(const std::string& nodes, const std::string& objective, int sessions = 300, const std::string& interval = "20ms",
                const std::string& events = "[]") {
  const std::string text = R"({
    "name": "chain3-objective",
    "model": {"graph": {"file": "chain3.json"}},
    "nodes": [)" + nodes + R"(],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "10Gbps", "downlink": "10Gbps", "access_latency": "100us"}],
    "network": {"model": "exact"},
    "overheads": {"rpc": "0ms", "serialization_bandwidth": "1TBps", "message_header": "0B"},
    "workload": {"sessions": )" + std::to_string(sessions) + R"(, "max_in_flight": 16, "arrival": {"process": "fixed", "interval": ")" +
                           interval + R"("}},
    "policy": {"partitioner": {"method": "slicegraph")" + (objective.empty() ? "" : ", \"objective\": " + objective) + R"(}},
    "events": )" + events + R"(
  })";
  return load_scenario_text(text, std::string(SWARMSIM_SOURCE_DIR) + "/tests/data/graphs/pipeline_test.json");
}

const std::string kThreeL4 = server("s0", "L4") + "," + server("s1", "L4") + "," + server("s2", "L4");

nlohmann::json run(const Scenario& sc, const std::filesystem::path& out = {}) {
  RunOptions opts;
  opts.progress = RunOptions::Progress::Never;
  opts.out_dir = out;
  return run_isolated(sc, opts).metrics;
}

/// a is at least as good as b in capacity, latency, energy and cost, and better in one.
bool dominates(const PlanScore& a, const PlanScore& b) {
  const bool no_worse = a.requests_per_s >= b.requests_per_s && a.latency_s <= b.latency_s &&
                        a.joules_per_request <= b.joules_per_request && a.cost_per_s <= b.cost_per_s;
  const bool better = a.requests_per_s > b.requests_per_s || a.latency_s < b.latency_s ||
                      a.joules_per_request < b.joules_per_request || a.cost_per_s < b.cost_per_s;
  return no_worse && better;
}

}  // namespace

// Without an objective nothing is scored and the plan is the least eq. 11 bottleneck; an
// objective that asks for the same thing scores every node set and runs a plan as fast.
TEST(PlanObjective, TheBottleneckObjectiveKeepsTheDefaultPlan) {
  const std::string nodes = kThreeL4 + "," + server("a", "A100-80GB") + "," + server("g", "GTX-1650");
  const PipelinePlan plain = plan_pipeline(chain3(nodes, ""));
  EXPECT_TRUE(plain.candidates.empty());
  EXPECT_TRUE(plain.switched_off.empty());
  const PipelinePlan scored = plan_pipeline(chain3(nodes, R"({"minimize": "bottleneck"})"));
  // 3 interchangeable L4s, an A100 and a GTX 1650, at most 4 blocks (4 ops): 0-3 L4s, 0-1 A100,
  // 0-1 GTX, 1 to 4 in all, are 14 sets, each cut onto once.
  EXPECT_GE(scored.candidates.size(), 14u);
  ASSERT_GE(scored.chosen, 0);
  EXPECT_NEAR(scored.predicted_bottleneck_s, plain.predicted_bottleneck_s, 1e-12 * plain.predicted_bottleneck_s);
  for (const PlanScore& s : scored.candidates) EXPECT_GE(s.bottleneck_s, scored.predicted_bottleneck_s * (1 - 1e-12));
}

// The front holds exactly the candidates no other dominates (checked pairwise here), every
// candidate's nodes are distinct, and each candidate's throughput is 1 / its overlap bound.
TEST(PlanObjective, TheFrontIsExactlyTheNonDominatedCandidates) {
  const std::string nodes = server("s0", "L4", "0.70/h") + "," + server("s1", "L4", "0.70/h") + "," + server("a", "A100-80GB", "3.00/h") +
                            "," + server("g", "GTX-1650", "0.20/h");
  const Scenario sc = chain3(nodes, R"({"minimize": "energy"})");
  const PipelinePlan plan = plan_pipeline(sc);
  ASSERT_GE(plan.candidates.size(), 11u);  // 0-2 of the like-priced L4s, 0-1 A100, 0-1 GTX: 11 non-empty sets
  int on_front = 0;
  for (const PlanScore& s : plan.candidates) {
    EXPECT_EQ(std::set<int>(s.nodes.begin(), s.nodes.end()).size(), s.nodes.size()) << "a node holds two stages";
    EXPECT_EQ(static_cast<int>(s.nodes.size()), s.stages);
    EXPECT_NEAR(s.requests_per_s, 1.0 / s.overlap_bottleneck_s, 1e-9 * s.requests_per_s);
    EXPECT_LE(s.served_requests_per_s, s.requests_per_s * (1 + 1e-12));
    EXPECT_LE(s.served_requests_per_s, 50.0 * (1 + 1e-12)) << "arrivals every 20 ms";
    const bool dominated =
        std::any_of(plan.candidates.begin(), plan.candidates.end(), [&](const PlanScore& o) { return dominates(o, s); });
    EXPECT_EQ(s.on_front, !dominated);
    on_front += s.on_front;
  }
  EXPECT_GE(on_front, 2) << "the fastest plan and the cheapest one differ here";
}

// Hand-worked: chain3 takes 3 ms on one L4 (16 W idle, 72 W busy) and requests arrive at 50/s.
// With the unused servers off, one L4 draws 16 W / 50 + 56 W x 3 ms = 0.488 J a request; three
// draw 3 x 16 / 50 + 0.168 = 1.128 J. Minimizing energy takes one L4 and switches the others off;
// the run's servers then draw what the plan predicts, and less than the default plan's.
TEST(PlanObjective, MinimizingEnergyAtALowRateSwitchesServersOff) {
  const Scenario sc = chain3(kThreeL4, R"({"minimize": "energy", "unused_nodes": "off"})");
  const PipelinePlan plan = plan_pipeline(sc);
  ASSERT_EQ(plan.stages.size(), 1u);
  const PlanScore& chosen = plan.candidates[static_cast<std::size_t>(plan.chosen)];
  EXPECT_NEAR(chosen.served_requests_per_s, 50.0, 1e-9);
  EXPECT_NEAR(chosen.joules_per_request, 16.0 / 50 + 56.0 * plan.stages[0].compute_s, 1e-9);
  EXPECT_NEAR(plan.stages[0].compute_s, 3e-3, 3e-5);
  EXPECT_EQ(std::count(plan.switched_off.begin(), plan.switched_off.end(), 1), 2);

  const nlohmann::json m = run(sc);
  ASSERT_EQ(m["requests"]["completed"], 300);
  const double measured = m["energy"]["servers_joules"].get<double>() / 300;
  EXPECT_NEAR(measured, chosen.joules_per_request, 0.03 * chosen.joules_per_request);
  for (const nlohmann::json& h : m["energy"]["hosts"])
    if (h["name"] != sc.nodes[static_cast<std::size_t>(plan.stages[0].node)].name && h["name"] != "c") {
      EXPECT_EQ(h["energy_joules"].get<double>(), 0.0) << h["name"] << " is off";
    }
  EXPECT_EQ(m["partition"]["objective"]["switched_off"].size(), 2u);
  EXPECT_EQ(m["partition"]["objective"]["minimize"], "energy");

  const nlohmann::json plain = run(chain3(kThreeL4, ""));
  EXPECT_EQ(plain["stages"].size(), 3u);
  const double plain_measured = plain["energy"]["servers_joules"].get<double>() / 300;
  EXPECT_NEAR(plain_measured, 3 * 16.0 / 50 + 0.168, 0.03 * plain_measured);
  EXPECT_LT(measured, 0.5 * plain_measured);
}

// With the unused servers standing by, every plan draws their idle power: the one-L4 plan costs
// as much energy as the three-L4 one (the same work, the same servers on), so the tie goes to the
// smaller bottleneck; and the prediction still matches the run.
TEST(PlanObjective, StandbyServersDrawTheirIdlePowerInEveryPlan) {
  const Scenario sc = chain3(kThreeL4, R"({"minimize": "energy"})");
  const PipelinePlan plan = plan_pipeline(sc);
  EXPECT_TRUE(std::none_of(plan.switched_off.begin(), plan.switched_off.end(), [](char c) { return c != 0; }));
  const PlanScore& chosen = plan.candidates[static_cast<std::size_t>(plan.chosen)];
  for (const PlanScore& s : plan.candidates) EXPECT_GE(s.joules_per_request, chosen.joules_per_request * (1 - 1e-9));
  EXPECT_NEAR(chosen.joules_per_request, 3 * 16.0 / 50 + 0.168, 0.01);
  const nlohmann::json m = run(sc);
  EXPECT_NEAR(m["energy"]["servers_joules"].get<double>() / 300, chosen.joules_per_request, 0.03 * chosen.joules_per_request);
}

// Hand-worked: an A100 rents at 3.00/h and the L4s at 0.70/h. One L4 serves 333 requests/s
// (3 ms each), so for at least 200/s the cheapest plan is one L4 alone; for 500/s one L4 is too
// slow, and the plan is the cheapest feasible one among all scored. The run rents only the nodes on.
TEST(PlanObjective, MinimizingCostUnderAThroughputBound) {
  const std::string nodes = server("s0", "L4", "0.70/h") + "," + server("s1", "L4", "0.70/h") + "," + server("a", "A100-80GB", "3.00/h");
  const Scenario sc = chain3(nodes, R"({"minimize": "cost", "min_throughput": "200/s", "unused_nodes": "off"})", 300, "2ms");
  const PipelinePlan plan = plan_pipeline(sc);
  const PlanScore& chosen = plan.candidates[static_cast<std::size_t>(plan.chosen)];
  ASSERT_EQ(chosen.nodes.size(), 1u);
  EXPECT_EQ(sc.nodes[static_cast<std::size_t>(chosen.nodes[0])].device->name, "L4");
  EXPECT_NEAR(chosen.cost_per_s * 3600, 0.70, 1e-9);
  const nlohmann::json m = run(sc);
  const double window = m["energy"]["window_s"].get<double>();
  EXPECT_NEAR(m["cost"]["rent"].get<double>(), 0.70 / 3600 * window, 1e-9 * window) << "only one node rented";

  const Scenario faster = chain3(nodes, R"({"minimize": "cost", "min_throughput": "500/s", "unused_nodes": "off"})", 300, "2ms");
  const PipelinePlan p2 = plan_pipeline(faster);
  const PlanScore& c2 = p2.candidates[static_cast<std::size_t>(p2.chosen)];
  EXPECT_GE(c2.requests_per_s, 500.0);
  EXPECT_GT(c2.cost_per_s * 3600, 0.70 + 1e-9);
  for (const PlanScore& s : p2.candidates) {
    EXPECT_EQ(s.feasible, s.requests_per_s >= 500.0 * (1 - 1e-12));
    if (s.feasible) {
      EXPECT_GE(s.cost_per_request, c2.cost_per_request * (1 - 1e-9));
    }
  }
}

// Hand-worked: on an L4 and an A100 together, the least-bottleneck cut of chain3 gives the A100
// the input and two of the three ops (0.39 ms each at 70% of 312 TFLOP/s, plus a 5 us launch) and
// the L4 the last (1 ms plus 5 us); the cut of least dynamic energy gives the L4, which spends 56 W
// over idle against the A100's 345 W, all three, within 20 ms a stage at 50 requests/s. Both are
// scored, and the second draws 345 W x 2 x 0.39 ms - 56 W x 2 x 1 ms less a request (the input,
// the client's tensor, runs no kernel).
TEST(PlanObjective, EachSetIsAlsoCutForTheLeastDynamicEnergy) {
  const Scenario sc = chain3(server("l", "L4") + "," + server("a", "A100-80GB"), R"({"minimize": "energy"})");
  const PipelinePlan plan = plan_pipeline(sc);
  std::vector<const PlanScore*> both;
  for (const PlanScore& s : plan.candidates)
    if (s.nodes.size() == 2) both.push_back(&s);
  ASSERT_EQ(both.size(), 2u);
  if (both[0]->joules_per_request > both[1]->joules_per_request) std::swap(both[0], both[1]);
  const double op = 84.7e9;  // FLOP per op (chain3.json)
  const double launch = 5e-6;  // the catalog's kernel launch overhead on both GPUs (docs/cost-model.md)
  const double l4 = op / (121e12 * 0.70) + launch, a100 = op / (312e12 * 0.70) + launch;
  const double dynamic_l4 = 72 - 16, dynamic_a100 = 400 - 55;  // the catalog's busy minus idle draw (W)
  const double saved = (dynamic_l4 * l4 + dynamic_a100 * 2 * a100) - dynamic_l4 * 3 * l4;
  EXPECT_NEAR(both[1]->joules_per_request - both[0]->joules_per_request, saved, 1e-3 * saved);
  EXPECT_GT(both[0]->bottleneck_s, both[1]->bottleneck_s) << "the energy cut loads the slower L4 more";
  EXPECT_LE(both[0]->bottleneck_s, 1.0 / 50) << "within the arrivals' rate";
}

// Without min_throughput a plan must keep up with the arrivals. Requests every 2.5 ms (400/s):
// one L4 serves 333/s (3 ms each), so the least energy takes two (the slower stage 2 ms: 500/s);
// with "0/s" it may fall behind and takes one. A workload no plan keeps up with is an error that
// says so.
TEST(PlanObjective, UnsetThroughputBoundIsTheArrivalsRate) {
  const PipelinePlan keeps_up = plan_pipeline(chain3(kThreeL4, R"({"minimize": "energy", "unused_nodes": "off"})", 300, "2.5ms"));
  const PlanScore& kept = keeps_up.candidates[static_cast<std::size_t>(keeps_up.chosen)];
  EXPECT_EQ(kept.stages, 2);
  EXPECT_GE(kept.requests_per_s, 400.0);
  const PipelinePlan behind = plan_pipeline(chain3(kThreeL4, R"({"minimize": "energy", "unused_nodes": "off", "min_throughput": "0/s"})", 300, "2.5ms"));
  EXPECT_EQ(behind.stages.size(), 1u);
  EXPECT_LT(behind.candidates[static_cast<std::size_t>(behind.chosen)].requests_per_s, 400.0);
  try {
    plan_pipeline(chain3(server("s0", "L4"), R"({"minimize": "energy"})", 300, "2.5ms"));
    FAIL() << "one L4 cannot keep up with 400 requests/s";
  } catch (const ScenarioError& e) {
    EXPECT_NE(std::string(e.what()).find("min_throughput unset, so the arrivals' rate, 400/s (the most any plan reaches: "), std::string::npos)
        << e.what();
  }
}

// No plan reaches a million requests a second: the planner says, as a scenario error, which
// bound and how close any plan comes, instead of running something else.
TEST(PlanObjective, BoundsNoPlanMeetsAreAClearError) {
  const Scenario sc = chain3(kThreeL4, R"({"minimize": "energy", "min_throughput": "1000000/s", "max_latency": "1ms"})");
  try {
    plan_pipeline(sc);
    FAIL() << "planned";
  } catch (const ScenarioError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u);
    EXPECT_EQ(e.diagnostics()[0].path, "policy.partitioner.objective");
    EXPECT_EQ(e.diagnostics()[0].file, sc.source_file);
    const std::string what = e.diagnostics()[0].message;
    EXPECT_NE(what.find("min_throughput 1e+06/s (the most any plan reaches: "), std::string::npos) << what;
    EXPECT_NE(what.find("max_latency 1 ms (the least: "), std::string::npos) << what;
  }
}

// A switched-off node's replayed failures and returns change nothing: it stays off (no draw), takes
// no stage, and both engines give the same run.
TEST(PlanObjective, SwitchedOffNodesStayOffThroughTheirEvents) {
  const std::string events = R"([{"at": "1s", "action": "node_up", "node": "s1"}, {"at": "2s", "action": "node_down", "node": "s1"},
                                 {"at": "3s", "action": "node_up", "node": "s1"}, {"at": "1s", "action": "node_up", "node": "s2"}])";
  Scenario sc = chain3(kThreeL4, R"({"minimize": "energy", "unused_nodes": "off"})", 300, "20ms", events);
  sc.policy.faults.failback = true;  // a node that comes back would take a stage if it were a spare
  const PipelinePlan plan = plan_pipeline(sc);
  ASSERT_EQ(plan.stages.size(), 1u);
  ASSERT_EQ(sc.nodes[static_cast<std::size_t>(plan.stages[0].node)].name, "s0") << "ties go to the first node";
  std::vector<nlohmann::json> runs;
  for (const EngineKind engine : {EngineKind::SimGrid, EngineKind::Flow}) {
    sc.engine = engine;
    const std::filesystem::path out = swarmsim::test::temp_path(std::string("objective-off-") + to_string(engine));
    std::filesystem::remove_all(out);
    const nlohmann::json m = run(sc, out);
    EXPECT_EQ(m["requests"]["completed"], 300);
    EXPECT_TRUE(m["failbacks"].empty()) << m["failbacks"];
    for (const nlohmann::json& h : m["energy"]["hosts"])
      if (h["name"] == "s1" || h["name"] == "s2") {
        EXPECT_EQ(h["energy_joules"].get<double>(), 0.0);
      }
    int off_lines = 0;
    std::ifstream log(out / "events.jsonl");
    for (std::string line; std::getline(log, line);) {
      const nlohmann::json e = nlohmann::json::parse(line);
      if (e["type"] == "node_down" || e["type"] == "node_up") {
        EXPECT_EQ(e["t"].get<double>(), 0.0) << line;
        ++off_lines;
      }
    }
    EXPECT_EQ(off_lines, 2) << "s1 and s2 switched off at 0, nothing after";
    runs.push_back(m);
  }
  for (const char* key : {"requests_per_s", "steady_requests_per_s"})
    EXPECT_NEAR(runs[0]["throughput"][key].get<double>(), runs[1]["throughput"][key].get<double>(),
                1e-9 * runs[0]["throughput"][key].get<double>());
  EXPECT_NEAR(runs[0]["energy"]["joules"].get<double>(), runs[1]["energy"]["joules"].get<double>(), 1e-9 * runs[0]["energy"]["joules"].get<double>());
}

// Plans for a range of loads, hand-worked on chain3 (compute c ≈ 3 ms on an L4: 16 W idle, 72 W
// busy) with three L4s and the others off. n L4s draw 16 n W + 56 W x c x R at R requests/s. One
// L4 serves about 330/s, two (2 + 1 ops) 500/s, three 1,000/s, so the least energy at 100/s is
// one L4, at 400/s two, at 800/s three, and at 1,200/s there is no plan. The fixed plan is the
// 800/s one (three L4s) at every load.
TEST(PlanForLoads, EachLoadGetsTheLeastEnergyPlanThatKeepsUpAndTheFixedPlanIsThePeaks) {
  const Scenario sc = chain3(kThreeL4, R"({"minimize": "energy", "unused_nodes": "off"})");
  const LoadSchedule schedule = plan_for_loads(sc, {{100, 10}, {400, 4}, {800, 2}});
  ASSERT_EQ(schedule.loads.size(), 3u);
  ASSERT_EQ(schedule.peak, 2);
  const double c = plan_pipeline(chain3(kThreeL4, R"({"minimize": "energy", "unused_nodes": "off"})", 300, "10ms")).stages[0].compute_s;
  EXPECT_NEAR(c, 3e-3, 3e-5);
  const auto watts = [&](int n, double rate) { return 16.0 * n + 56.0 * c * rate; };
  const int expected_l4s[] = {1, 2, 3};
  for (int i = 0; i < 3; ++i) {
    const LoadPlan& lp = schedule.loads[static_cast<std::size_t>(i)];
    const double R = lp.load.requests_per_s;
    ASSERT_TRUE(lp.following) << R << "/s: " << lp.none_because;
    EXPECT_EQ(static_cast<int>(lp.following->nodes.size()), expected_l4s[i]) << R << "/s";
    EXPECT_GE(lp.following->requests_per_s, R);
    EXPECT_NEAR(lp.following->served_requests_per_s, R, 1e-9 * R);
    EXPECT_NEAR(plan_power_w(*lp.following), watts(expected_l4s[i], R), 1e-3 * watts(expected_l4s[i], R)) << R << "/s";
    ASSERT_TRUE(lp.fixed);
    EXPECT_EQ(lp.fixed->nodes.size(), 3u);
    EXPECT_TRUE(lp.fixed->feasible);
    EXPECT_NEAR(plan_power_w(*lp.fixed), watts(3, R), 1e-3 * watts(3, R)) << R << "/s";
    EXPECT_LE(lp.following->joules_per_request, lp.fixed->joules_per_request * (1 + 1e-12));

    // The same choice as a scenario whose arrivals come at that rate, planned on its own.
    char interval[32];
    std::snprintf(interval, sizeof interval, "%.6gms", 1e3 / R);
    const PipelinePlan alone = plan_pipeline(chain3(kThreeL4, R"({"minimize": "energy", "unused_nodes": "off"})", 300, interval));
    EXPECT_EQ(alone.candidates[static_cast<std::size_t>(alone.chosen)].nodes, lp.following->nodes) << R << "/s";
    EXPECT_NEAR(alone.candidates[static_cast<std::size_t>(alone.chosen)].joules_per_request, lp.following->joules_per_request,
                1e-9 * lp.following->joules_per_request);
  }
  // Switches: 100 -> 400/s powers a second L4, which loads the 1 or 2 ops (1 MB each) it takes at
  // 2 GB/s drawing its 16 W idle, while the first keeps ops it holds; 400 -> 800/s powers the
  // third; 800 -> 100/s (the schedule repeats) leaves one L4, which loads the ops it lacks while
  // powered anyway, and switches two off.
  ASSERT_EQ(schedule.switches.size(), 3u);
  double switching_j = 0;
  for (const PlanSwitch& sw : schedule.switches) {
    const int from = static_cast<int>(schedule.loads[static_cast<std::size_t>(sw.from)].following->nodes.size());
    const int to = static_cast<int>(schedule.loads[static_cast<std::size_t>(sw.to)].following->nodes.size());
    EXPECT_EQ(sw.to, (sw.from + 1) % 3);
    EXPECT_EQ(static_cast<int>(sw.switched_off.size()), std::max(0, from - to));
    EXPECT_GE(static_cast<int>(sw.loading.size()), std::max(0, to - from));
    EXPECT_NEAR(sw.param_bytes / 1e6, std::round(sw.param_bytes / 1e6), 1e-9) << "whole ops of 1 MB";
    EXPECT_LE(sw.param_bytes, 2e6 * static_cast<double>(sw.loading.size()));
    EXPECT_GT(sw.load_s, 0.0);
    EXPECT_LE(sw.load_s, 2e6 / 2e9 + 1e-15);
    if (to > from) {  // the new servers were off: their idle draw while they load
      EXPECT_GT(sw.joules, 0.0);
      EXPECT_LE(sw.joules, 16.0 * sw.load_s * (to - from) * (1 + 1e-12));
      EXPECT_GE(sw.joules, 16.0 * 1e6 / 2e9 * (to - from) * (1 - 1e-12));
    } else {
      EXPECT_EQ(sw.joules, 0.0) << "the one L4 left was powered already";
    }
    switching_j += sw.joules;
  }
  // Totals: Σ W x hours (1,089.6 Wh following against 1,473.6 Wh fixed with c = 3 ms) and the switches.
  ASSERT_TRUE(schedule.following_joules && schedule.fixed_joules && schedule.requests);
  const double following_wh = watts(1, 100) * 10 + watts(2, 400) * 4 + watts(3, 800) * 2;
  const double fixed_wh = watts(3, 100) * 10 + watts(3, 400) * 4 + watts(3, 800) * 2;
  EXPECT_NEAR((*schedule.following_joules - switching_j) / 3600, following_wh, 1e-3 * following_wh);
  EXPECT_NEAR(*schedule.fixed_joules / 3600, fixed_wh, 1e-3 * fixed_wh);
  EXPECT_NEAR(following_wh, 1089.6, 15.0);
  EXPECT_NEAR(*schedule.requests, (100 * 10 + 400 * 4 + 800 * 2) * 3600.0, 1e-6);
  EXPECT_FALSE(schedule.following_cost) << "nothing is priced";
  const nlohmann::json j = load_schedule_json(sc, schedule);
  EXPECT_EQ(j["loads"].size(), 3u);
  EXPECT_EQ(j["fixed_plan_for_requests_per_s"], 800.0);
  EXPECT_NEAR(j["totals"]["energy_saved"].get<double>(), 1.0 - following_wh / fixed_wh, 1e-3);
}

// A load no plan keeps up with has no plan and says why; the fixed plan is the highest load that
// has one, and it falls behind at the load above it. Without a duration per load, no totals.
TEST(PlanForLoads, ALoadBeyondEveryPlanHasNoneAndNoTotals) {
  const Scenario sc = chain3(kThreeL4, R"({"minimize": "energy", "unused_nodes": "off"})");
  const LoadSchedule schedule = plan_for_loads(sc, {{1200, 1}, {100, 1}});
  ASSERT_EQ(schedule.peak, 1);
  EXPECT_FALSE(schedule.loads[0].following);
  EXPECT_NE(schedule.loads[0].none_because.find("min_throughput 1200/s (the most any plan reaches: "), std::string::npos)
      << schedule.loads[0].none_because;
  ASSERT_TRUE(schedule.loads[0].fixed);
  EXPECT_FALSE(schedule.loads[0].fixed->feasible) << "one L4 cannot serve 1,200/s";
  EXPECT_EQ(schedule.loads[0].fixed->nodes.size(), 1u);
  EXPECT_FALSE(schedule.following_joules);
  const nlohmann::json j = load_schedule_json(sc, schedule);
  EXPECT_TRUE(j["loads"][0]["plan"].is_null());
  EXPECT_FALSE(j.contains("totals"));
  // The load is the least throughput, whatever the scenario's own bound says.
  const LoadSchedule low_bound =
      plan_for_loads(chain3(kThreeL4, R"({"minimize": "energy", "unused_nodes": "off", "min_throughput": "1/s"})"), {{400, 1}});
  ASSERT_TRUE(low_bound.loads[0].following);
  EXPECT_EQ(low_bound.loads[0].following->nodes.size(), 2u) << "one L4 would fall behind at 400/s";
  EXPECT_THROW(plan_for_loads(chain3(kThreeL4, ""), {{100, 1}}), std::invalid_argument) << "no objective";
  EXPECT_THROW(plan_for_loads(sc, {}), std::invalid_argument);
}

// With prices, the totals add each plan's rent over the hours it runs: with the unused L4s off,
// following the load rents one L4 at 100/s and three at 800/s (and two more while they load
// before the switch); the fixed plan rents three always.
TEST(PlanForLoads, PricedTotalsRentOnlyThePlansServers) {
  const std::string nodes = server("s0", "L4", "1.00/h") + "," + server("s1", "L4", "1.00/h") + "," + server("s2", "L4", "1.00/h");
  const Scenario sc = chain3(nodes, R"({"minimize": "cost", "unused_nodes": "off"})");
  const LoadSchedule schedule = plan_for_loads(sc, {{100, 10}, {800, 2}});
  ASSERT_TRUE(schedule.following_cost && schedule.fixed_cost);
  // Switching to 800/s rents the two servers it powers for their load time (at most 2 ms each).
  ASSERT_EQ(schedule.switches.size(), 2u);
  const PlanSwitch& up = schedule.switches[0];
  ASSERT_EQ(up.to, 1);
  EXPECT_GT(up.cost, 0.0);
  EXPECT_LE(up.cost, 2 * (1.0 / 3600) * up.load_s * (1 + 1e-12));
  EXPECT_EQ(schedule.switches[1].cost, 0.0) << "the server kept was rented anyway";
  EXPECT_NEAR(*schedule.following_cost, 1 * 10 + 3 * 2 + up.cost, 1e-12);
  EXPECT_NEAR(*schedule.fixed_cost, 3 * 10 + 3 * 2, 1e-9);
}
