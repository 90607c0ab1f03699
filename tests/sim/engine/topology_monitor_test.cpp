// Topology monitoring during a run (seed 002, sections 2.7 and 3.1): snapshots, state switches,
// regret, and H0 stability folded into eq. 18's reliability.
#include <gtest/gtest.h>

#include "sim/engine/isolated_run.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;

namespace {
nlohmann::json run(const std::vector<Override>& o) {
  RunOptions opts;
  opts.progress = RunOptions::Progress::Never;
  return run_isolated(load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/topology/unstable-region.json", o), opts)
      .metrics;
}
}  // namespace

TEST(TopologyMonitor, FlappingRegionLosesReliabilityAndFewerSessionsHitFailures) {
  const auto with = run({{"seed", "23"}});
  const auto without = run({{"seed", "23"}, {"policy.topology.stability_reliability", "false"}});
  const auto& t = with["topology"];
  // One snapshot per 10 s of the run.
  const double sim_time = with["simulated_time_s"].get<double>();
  EXPECT_NEAR(t["snapshots"].get<int>(), std::floor(sim_time / 10.0) + 1, 1.0);
  EXPECT_GT(t["switches"].get<int>(), 0);  // the region's drops change the state
  EXPECT_GE(t["mean_relative_regret"].get<double>(), 0.0);
  EXPECT_LE(t["mean_relative_regret"].get<double>(), 1.0);
  // The flapping Istanbul nodes end less reliable than the stable Frankfurt ones.
  const auto& m = t["reliability_multipliers"];
  for (const char* fra : {"fra-0", "fra-1", "fra-2", "fra-3"})
    for (const char* ist : {"ist-0", "ist-1", "ist-2", "ist-3"}) EXPECT_GT(m[fra].get<double>(), m[ist].get<double>());
  // Routing away from them costs no throughput and meets fewer failures (fewer recoveries).
  EXPECT_EQ(with["sessions"]["failed"].get<int>(), 0);
  EXPECT_LT(with["resilience"]["recoveries"].get<int>(), without["resilience"]["recoveries"].get<int>());
  EXPECT_LE(with["latency_s"]["per_token"]["p99"].get<double>(), without["latency_s"]["per_token"]["p99"].get<double>());
}
