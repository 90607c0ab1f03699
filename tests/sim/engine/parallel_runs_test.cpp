// run_parallel: many runs in child processes, at most N at once, outcomes in job order whatever
// the order in which the children finish, and a failed run reported as an outcome, not thrown.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "sim/engine/parallel_runs.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;

namespace {

/// two_node with `new_tokens` tokens per session: the job's identity shows in its metrics.
RunJob two_node_job(int new_tokens) {
  RunJob job{load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json",
                                {{"workload.new_tokens", std::to_string(new_tokens)}}),
             {}};
  job.options.progress = RunOptions::Progress::Never;
  return job;
}

}  // namespace

TEST(ParallelRuns, OutcomesComeBackInJobOrder) {
  // Longer runs first, so that with two at once the later, shorter jobs finish earlier.
  const std::vector<int> tokens{64, 48, 8, 4, 2};
  std::vector<RunJob> jobs;
  for (int t : tokens) jobs.push_back(two_node_job(t));
  std::vector<std::size_t> finished_order;
  std::set<std::size_t> counts;
  const std::vector<RunOutcome> out = run_parallel(jobs, 2, [&](std::size_t index, std::size_t finished, const RunOutcome& o) {
    EXPECT_TRUE(o.ok) << o.error;
    finished_order.push_back(index);
    counts.insert(finished);
  });
  ASSERT_EQ(out.size(), tokens.size());
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    ASSERT_TRUE(out[i].ok) << out[i].error;
    // two_node has 2 sessions of batch 1.
    EXPECT_EQ(out[i].report.metrics["throughput"]["tokens_generated"].get<int>(), 2 * tokens[i]) << "job " << i;
    EXPECT_GT(out[i].report.hops, 0u);
  }
  EXPECT_EQ(finished_order.size(), tokens.size());
  EXPECT_EQ(counts, (std::set<std::size_t>{1, 2, 3, 4, 5}));
}

TEST(ParallelRuns, AFailedRunIsAnOutcomeAndTheOthersStillRun) {
  std::vector<RunJob> jobs{two_node_job(4), two_node_job(4), two_node_job(4)};
  jobs[1].options.execute_real = true;
  jobs[1].options.backend = "no-such-backend";  // the child throws
  const std::vector<RunOutcome> out = run_parallel(jobs, 0);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].ok) << out[0].error;
  EXPECT_FALSE(out[1].ok);
  EXPECT_NE(out[1].error.find("no-such-backend"), std::string::npos) << out[1].error;
  EXPECT_TRUE(out[2].ok) << out[2].error;
}

TEST(ParallelRuns, NoJobsNoRuns) { EXPECT_TRUE(run_parallel({}, 4).empty()); }

// Flow-engine jobs run on threads of this process: outcomes still come back in job order, equal
// to the same jobs run one by one, and a run that throws is an outcome.
TEST(ParallelRuns, FlowJobsRunOnThreadsWithTheSameResults) {
  const std::vector<int> tokens{64, 48, 8, 4, 2, 16, 32};
  std::vector<RunJob> jobs;
  for (int t : tokens) {
    jobs.push_back(two_node_job(t));
    jobs.back().scenario.engine = EngineKind::Flow;
  }
  RunJob bad = jobs[0];
  bad.options.execute_real = true;  // the flow engine refuses it with an exception
  bad.scenario.engine = EngineKind::Flow;
  std::size_t calls = 0;
  const std::vector<RunOutcome> out = run_parallel(jobs, 3, [&](std::size_t, std::size_t finished, const RunOutcome&) {
    EXPECT_EQ(finished, ++calls);
  });
  ASSERT_EQ(out.size(), jobs.size());
  EXPECT_EQ(calls, jobs.size());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    ASSERT_TRUE(out[i].ok) << out[i].error;
    SwarmSimulation alone(jobs[i].scenario, make_cost_model(jobs[i].scenario));
    nlohmann::json expected = alone.run(jobs[i].options).metrics, got = out[i].report.metrics;
    expected.erase("wall_clock");
    got.erase("wall_clock");
    EXPECT_EQ(got, expected) << "job " << i;
    EXPECT_EQ(got["throughput"]["tokens_generated"].get<int>(), 2 * tokens[i]);
  }
  const std::vector<RunOutcome> failed = run_parallel({jobs[1], bad}, 2);
  EXPECT_TRUE(failed[0].ok);
  EXPECT_FALSE(failed[1].ok);
  EXPECT_NE(failed[1].error.find("--execute real"), std::string::npos) << failed[1].error;
}
