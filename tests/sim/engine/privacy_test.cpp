// Split learning on the engines (seed 002, section 6.3.1): the client runs the first blocks on its
// own device and the chain serves the rest; with --execute real, differential-privacy noise on
// what the client releases, measured against the exact run.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/engine/isolated_run.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/privacy/gaussian_mechanism.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/sim/engine/shipped_runs.hpp"

using namespace swarmsim;
using namespace swarmsim::sim;

namespace {

using swarmsim::test::quiet_options;
Scenario load(const std::string& rel, const std::vector<Override>& o = {}) { return swarmsim::test::shipped_scenario(rel, o); }
RunOptions quiet(bool real = false) { return quiet_options(real); }

}  // namespace

// Every step, the client runs blocks [0, 4) priced on its own device after the embedding, and
// the chain it routes starts at block 4.
TEST(SplitLearning, TheClientRunsItsBlocksAndTheChainServesTheRest) {
  const auto plain = run_isolated(load("sanity/two_node.json"), quiet()).metrics;  // in a child: one SimGrid run per process
  const Scenario sc = load("sanity/two_node.json", {{"policy.privacy.client_blocks", "4"}});
  const auto cost = make_cost_model(sc);
  SwarmSimulation sim(sc, cost);
  std::vector<ComputeSpan> client_blocks, server_blocks;
  std::vector<ChainFormed> chains;
  sim.signals().on_compute.connect([&](const ComputeSpan& c) {
    if (std::string(c.what) == "client_blocks") client_blocks.push_back(c);
    if (std::string(c.what) == "blocks") server_blocks.push_back(c);
  });
  sim.signals().on_chain_formed.connect([&](const ChainFormed& c) { chains.push_back(c); });
  const auto m = sim.run(quiet()).metrics;
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 2);
  ASSERT_EQ(chains.size(), 2u);
  for (const ChainFormed& c : chains) EXPECT_EQ(c.ranges.front(), (BlockRange{4, 32}));
  for (const ComputeSpan& c : server_blocks) EXPECT_EQ(c.blocks, (BlockRange{4, 32}));
  ASSERT_EQ(client_blocks.size(), 2u * 16);  // every step of both sessions
  const gpu::DeviceSpec& client = *sc.clients[0].device;
  EXPECT_EQ(client_blocks[0].host, 1);  // the client's host
  EXPECT_DOUBLE_EQ(client_blocks[0].device_seconds, cost->blocks_seconds(client, sc.model, gpu::BlockWork{1, 64, 0}, 4));
  EXPECT_DOUBLE_EQ(client_blocks[1].device_seconds, cost->blocks_seconds(client, sc.model, gpu::BlockWork{1, 1, 64}, 4));
  // The client's blocks count as client compute in where a token's time goes.
  const double more = m["latency_breakdown_s"]["per_token"]["client_compute"].get<double>() -
                      plain["latency_breakdown_s"]["per_token"]["client_compute"].get<double>();
  EXPECT_GT(more, 0.9 * cost->blocks_seconds(client, sc.model, gpu::BlockWork{1, 1, 64}, 4));
  EXPECT_LT(m["latency_breakdown_s"]["per_token"]["server_compute"].get<double>(),
            plain["latency_breakdown_s"]["per_token"]["server_compute"].get<double>());
  EXPECT_EQ(m["privacy"]["client_blocks"].get<int>(), 4);
}

// With --execute real, the client's blocks run for real and what it releases is clipped and
// noised: less budget (ε) means more noise and results further from the exact run; the same
// scenario gives the same values, to the last bit.
TEST(SplitLearning, PrivacyNoiseCostsAccuracyAsTheBudgetShrinks) {
  const auto run = [](const std::string& epsilon) {
    std::vector<Override> o{{"model.reduce_width", "16"}, {"workload.new_tokens", "5"}, {"workload.batch_size", "2"},
                            {"policy.privacy.client_blocks", "2"}, {"policy.compression.hidden_states", "none"}};
    if (!epsilon.empty()) o.push_back({"policy.privacy.differential_privacy", R"({"epsilon": )" + epsilon + "}"});
    return run_isolated(load("table2/llama3-8b-1gbps-rtt5ms.json", o), quiet(true)).metrics;
  };
  const auto exact = run("");
  EXPECT_TRUE(exact["real_execution"]["value_effect"].is_null());  // nothing compressed or noised
  const auto tight = run("2"), loose = run("100"), again = run("100");
  const auto& t = tight["real_execution"]["value_effect"];
  const auto& l = loose["real_execution"]["value_effect"];
  ASSERT_FALSE(t.is_null());
  EXPECT_GT(t["privacy_noise"]["sigma"].get<double>(), l["privacy_noise"]["sigma"].get<double>());
  EXPECT_DOUBLE_EQ(l["privacy_noise"]["sigma"].get<double>(), gaussian_mechanism_sigma(100, 1e-5, 2 * 16.0));  // C = sqrt(256)
  EXPECT_GT(l["hidden_relative_error"]["mean"].get<double>(), 0.0);
  EXPECT_GT(t["hidden_relative_error"]["mean"].get<double>(), l["hidden_relative_error"]["mean"].get<double>());
  EXPECT_GE(t["logits_kl"]["mean"].get<double>(), l["logits_kl"]["mean"].get<double>());
  // Every position of every sequence is released once: the 64-token prompt, then one per step.
  EXPECT_EQ(l["privacy_noise"]["vectors_released"].get<long>(), 2 * (64 + 4));
  EXPECT_EQ(l.dump(), again["real_execution"]["value_effect"].dump());
  EXPECT_EQ(tight["privacy"]["differential_privacy"]["sigma"], t["privacy_noise"]["sigma"]);
}
