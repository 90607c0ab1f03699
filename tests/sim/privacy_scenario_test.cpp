// Split learning in scenarios (policy.privacy, seed 002 section 6.3.1): what the loader accepts and
// refuses, and which blocks the swarm serves when the clients run the first ones themselves.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/metrics/run_metrics.hpp"
#include "sim/pricing.hpp"
#include "sim/privacy/gaussian_mechanism.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/session_plan.hpp"
#include "tests/sim/scenario_diagnostics.hpp"

using namespace swarmsim::sim;

namespace {

Scenario two_node(std::vector<Override> o = {}) {
  return load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json", o);
}

std::vector<std::string> errors(std::vector<Override> o) { return swarmsim::test::scenario_errors("sanity/two_node.json", std::move(o)); }
using swarmsim::test::has_error;

/// Four GTX-1650s that each hold 7 blocks of Llama-3-8B ("auto"): 28 of its 32 blocks.
const Override kFourSmallAutoServers{"nodes", R"([{"name": "gtx", "count": 4, "gpu": "GTX-1650", "location": {"lat": 50.11, "lon": 8.68},
                                                  "uplink": "1Gbps", "downlink": "1Gbps"}])"};

}  // namespace

TEST(PrivacyScenario, ReadsTheSplitAndTheBudget) {
  const Scenario sc = two_node({{"policy.privacy", R"({"client_blocks": 3, "differential_privacy": {"epsilon": 8, "delta": 1e-6, "clip_norm": 20}})"}});
  EXPECT_EQ(sc.policy.privacy.client_blocks, 3);
  EXPECT_EQ(sc.first_served_block(), 3);
  EXPECT_DOUBLE_EQ(sc.policy.privacy.epsilon, 8);
  EXPECT_DOUBLE_EQ(sc.policy.privacy.delta, 1e-6);
  EXPECT_DOUBLE_EQ(sc.policy.privacy.clip_for(sc.model.hidden), 20);
  const Scenario plain = two_node({{"policy.privacy.client_blocks", "1"}});
  EXPECT_FALSE(plain.policy.privacy.noisy());
  EXPECT_DOUBLE_EQ(plain.policy.privacy.clip_for(4096), 64);  // sqrt(hidden) by default
  // Sessions ask the swarm for the blocks after the client's.
  EXPECT_EQ(session_shape(sc, 0, 0.0).request.first_block, 3);
  EXPECT_EQ(session_shape(sc, 0, 0.0).request.end(sc.model), 32);
}

TEST(PrivacyScenario, RefusesSplitsAndBudgetsThatCannotWork) {
  EXPECT_TRUE(has_error(errors({{"policy.privacy.client_blocks", "32"}}),
                  "policy.privacy.client_blocks: 32 leaves none of the 32 blocks of Llama-3-8B to the swarm; expected at most 31"));
  EXPECT_TRUE(has_error(errors({{"policy.privacy.client_blocks", "-1"}}), "policy.privacy.client_blocks: expected an integer"));
  EXPECT_TRUE(has_error(errors({{"policy.privacy.differential_privacy", R"({"delta": 1e-5})"}}),
                  "policy.privacy.differential_privacy.epsilon: missing"));
  EXPECT_TRUE(has_error(errors({{"policy.privacy.differential_privacy", R"({"epsilon": 0})"}}),
                  "policy.privacy.differential_privacy.epsilon: expected a number in [0.001, 100]"));
  EXPECT_TRUE(has_error(errors({{"policy.privacy.differential_privacy", R"({"epsilon": 1, "delta": 0.5})"}}),
                  "policy.privacy.differential_privacy.delta"));
  EXPECT_TRUE(has_error(errors({{"policy.privacy.client_block", "2"}}), "policy.privacy.client_block: unknown key \"client_block\" (did you mean \"client_blocks\"?)"));
  // A client must hold the embedding and LM head, and the weights and one session's KV cache of
  // its blocks: a GTX-1650 cannot hold 20 blocks of Llama-3-8B.
  EXPECT_TRUE(has_error(errors({{"clients[0].device", "GTX-1650"}, {"policy.privacy.client_blocks", "20"}}),
                  "policy.privacy.client_blocks: the embedding and LM head of Llama-3-8B (1.96 GiB) and 20 blocks' weights and "
                  "one session's KV cache need"));
  EXPECT_TRUE(has_error(errors({{"clients[0].device", "GTX-1650"}, {"policy.privacy.client_blocks", "20"}}), "clients[0] (client, GTX-1650) has"));
  EXPECT_TRUE(errors({{"clients[0].device", "GTX-1650"}, {"policy.privacy.client_blocks", "2"}}).empty());
}

TEST(PrivacyScenario, AppliesToChainsOfBlocksOnly) {
  const std::string coded = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/coded/coin-stragglers.json";
  try {
    load_scenario_file(coded, {{"policy.privacy.client_blocks", "1"}});
    FAIL() << "split learning accepted on a coded scenario";
  } catch (const ScenarioError& e) {
    ASSERT_FALSE(e.diagnostics().empty());
    EXPECT_EQ(e.diagnostics().front().path, "policy.privacy");
    EXPECT_NE(e.diagnostics().front().message.find("erasure-coded models"), std::string::npos);
  }
}

// The swarm need not serve the blocks the clients run: four 7-block servers cannot cover 32
// blocks, but they cover the 28 after a client's 4, and "auto" servers never pick the client's.
TEST(PrivacyScenario, ServersCoverOnlyTheBlocksAfterTheClients) {
  EXPECT_TRUE(has_error(errors({kFourSmallAutoServers}), "are served by no node"));
  const Scenario sc = two_node({kFourSmallAutoServers, {"policy.privacy.client_blocks", "4"}});
  const std::vector<BlockRange> ranges = plan_initial_blocks(sc, *make_cost_model(sc));
  ASSERT_EQ(ranges.size(), 4u);
  int held = 0;
  for (const BlockRange& r : ranges) {
    EXPECT_GE(r.start, 4) << r.str();
    held += r.size();
  }
  EXPECT_EQ(held, 28);
  EXPECT_EQ(uncovered_blocks(32, ranges), (std::vector<BlockRange>{BlockRange{0, 4}}));
  // The load the assignment starts from counts the client's blocks as served without limit.
  const std::vector<double> load = swarm_block_load(sc).tokens_per_s();
  EXPECT_DOUBLE_EQ(load[3], 1e9);
  EXPECT_DOUBLE_EQ(load[4], 0.0);
}

// metrics.json says what the clients hold and the noise each released vector gets.
TEST(PrivacyScenario, MetricsReportTheSplitAndTheNoise) {
  const Scenario sc = two_node({{"policy.privacy", R"({"client_blocks": 2, "differential_privacy": {"epsilon": 4}})"}});
  RunMetrics metrics(sc, "roofline");
  const nlohmann::json m = metrics.to_json(1.0, std::vector<NodeSummary>(1), WallClock{});
  const nlohmann::json& p = m["privacy"];
  EXPECT_EQ(p["client_blocks"].get<int>(), 2);
  EXPECT_DOUBLE_EQ(p["client_weight_bytes"].get<double>(), 2 * sc.model.block_weight_bytes());
  EXPECT_EQ(p["swarm_blocks"]["start"].get<int>(), 2);
  const auto& dp = p["differential_privacy"];
  EXPECT_DOUBLE_EQ(dp["clip_norm"].get<double>(), 64.0);
  EXPECT_DOUBLE_EQ(dp["sensitivity"].get<double>(), 128.0);
  EXPECT_DOUBLE_EQ(dp["sigma"].get<double>(), gaussian_mechanism_sigma(4, 1e-5, 128.0));
  EXPECT_FALSE(RunMetrics(two_node(), "roofline").to_json(1.0, std::vector<NodeSummary>(1), WallClock{}).contains("privacy"));
}
