// Hidden-state and weight compression (seed 002, section 4), priced and executed for real.
#include <gtest/gtest.h>

#include "sim/engine/isolated_run.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/sim/engine/shipped_runs.hpp"

using namespace swarmsim::sim;

namespace {

using swarmsim::test::quiet_options;
Scenario load(const std::string& rel, const std::vector<Override>& o = {}) { return swarmsim::test::shipped_scenario(rel, o); }
RunOptions quiet(bool real = false) { return quiet_options(real); }
const Override kBlockwise8{"policy.compression", R"({"hidden_states": "blockwise8"})"};

}  // namespace

// A compressed message is n int8 values + one FP32 scale per 64 values + the header: for the 64-token
// prompt of Llama-3-8B, 262144 + 4 x 4096 + 256 B, against 2 x 262144 + 256 B uncompressed.
TEST(Compression, HiddenStateMessagesHaveTheExpectedSize) {
  Scenario sc = load("sanity/two_node.json", {kBlockwise8});
  SwarmSimulation sim(sc, make_cost_model(sc));
  std::vector<double> sizes;
  sim.signals().on_transfer.connect([&](const TransferSpan& t) { sizes.push_back(t.bytes); });
  sim.run(quiet());
  ASSERT_FALSE(sizes.empty());
  EXPECT_DOUBLE_EQ(sizes.front(), 262144 + 4 * 4096 + 256);
  EXPECT_DOUBLE_EQ(sizes[2], 4096 + 4 * 64 + 256);  // a decode step: 1 token x 4096 values
  EXPECT_LT((sizes.front() - 256) / (2 * 262144.0), 0.54);  // about half the bytes on the wire
}

TEST(Compression, SmallerMessagesSpeedUpASlowLink) {
  const auto ttft = [](const std::vector<Override>& o) {
    return run_isolated(load("sanity/two_node.json", o), quiet()).metrics["latency_s"]["time_to_first_token"]["p50"].get<double>();
  };
  EXPECT_LT(ttft({kBlockwise8}), ttft({}));
}

// LLM.int8 weights about halve each node's weight memory, so an "auto" node holds more blocks.
TEST(Compression, Int8WeightsHalveWeightMemoryAndFitMoreBlocks) {
  const std::vector<Override> auto_gtx{{"nodes[0].gpu", "GTX-1650"}, {"nodes[0].blocks", "\"auto\""}};
  std::vector<Override> int8 = auto_gtx;
  int8.push_back({"policy.compression", R"({"weights": "llm_int8"})"});
  // Enough nodes to cover the model: the GTX-1650 holds 7 bf16 blocks, the rest is served by the L4.
  const std::vector<Override> pool{{"nodes", R"([
    {"name": "gtx", "gpu": "GTX-1650", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps"},
    {"name": "l4", "gpu": "L4", "location": {"lat": 50.11, "lon": 8.68}, "uplink": "1Gbps", "downlink": "1Gbps"}])"}};
  std::vector<Override> pool_int8 = pool;
  pool_int8.push_back({"policy.compression", R"({"weights": "llm_int8"})"});
  const auto m16 = run_isolated(load("sanity/two_node.json", pool), quiet()).metrics;
  const auto m8 = run_isolated(load("sanity/two_node.json", pool_int8), quiet()).metrics;
  const auto blocks = [](const nlohmann::json& n) { return n["blocks"]["end"].get<int>() - n["blocks"]["start"].get<int>(); };
  EXPECT_EQ(blocks(m16["nodes"][0]), 7);
  EXPECT_GT(blocks(m8["nodes"][0]), 12);  // twice as many minus the 16-bit outliers and KV budget
  const double per_block16 = m16["nodes"][0]["weights_bytes"].get<double>() / blocks(m16["nodes"][0]);
  const double per_block8 = m8["nodes"][0]["weights_bytes"].get<double>() / blocks(m8["nodes"][0]);
  EXPECT_NEAR(per_block8 / per_block16, (0.998 + 0.004 + 4.0 / 4096) / 2, 1e-9);
}

// --execute real: the values pass through the quantizer; the effect on the final hidden states and
// on the output distribution is measured against the uncompressed run fed the same tokens.
TEST(RealExecution, CompressionEffectIsSmallNonZeroAndDeterministic) {
  Scenario sc = load("table2/llama3-8b-1gbps-rtt5ms.json",
                     {{"model.reduce_width", "16"}, {"workload.new_tokens", "6"}, {"workload.batch_size", "2"},
                      {"policy.compression", R"({"hidden_states": "blockwise8", "weights": "llm_int8"})"}});
  const auto a = run_isolated(sc, quiet(true)).metrics;
  const auto b = run_isolated(sc, quiet(true)).metrics;
  ASSERT_TRUE(a.contains("real_execution"));
  const auto& ea = a["real_execution"]["value_effect"];
  EXPECT_EQ(ea["sessions"].get<int>(), 1);
  const double err = ea["hidden_relative_error"]["mean"].get<double>(), kl = ea["logits_kl"]["mean"].get<double>();
  EXPECT_GT(err, 1e-4);  // something was really quantized
  EXPECT_LT(err, 0.1);   // 8 bits keep the hidden states within a few percent
  EXPECT_GT(kl, 0.0);
  EXPECT_LT(kl, 0.01);
  // Values do not depend on timing: two runs give the same effect to the last bit.
  EXPECT_EQ(ea.dump(), b["real_execution"]["value_effect"].dump());
  EXPECT_GT(a["real_execution"]["int8_block_bytes"].get<double>(), 0.0);
  EXPECT_EQ(a["sessions"]["completed"].get<int>(), 1);
}

// When no session completes (here every user leaves), nothing was compared: the effect has no
// figures rather than a perfect score.
TEST(RealExecution, NoCompletedSessionGivesNoEffectFigures) {
  Scenario sc = load("table2/llama3-8b-1gbps-rtt5ms.json",
                     {{"model.reduce_width", "16"}, {"workload.sessions", "2"}, {"workload.new_tokens", "4"},
                      {"workload.abandon_share", "1"}, {"policy.compression", R"({"hidden_states": "blockwise8"})"}});
  const auto m = run_isolated(sc, quiet(true)).metrics;
  EXPECT_EQ(m["sessions"]["abandoned"].get<int>(), 2);
  const auto& e = m["real_execution"]["value_effect"];
  EXPECT_EQ(e["sessions"].get<int>(), 0);
  EXPECT_TRUE(e["hidden_relative_error"].is_null());
  EXPECT_TRUE(e["logits_kl"].is_null());
  EXPECT_TRUE(e["token_agreement"].is_null());
}

TEST(RealExecution, WithoutCompressionThereIsNothingToCompare) {
  const auto m = run_isolated(load("sanity/two_node.json", {{"model.reduce_width", "16"}}), quiet(true)).metrics;
  EXPECT_TRUE(m["real_execution"]["value_effect"].is_null());
  EXPECT_GT(m["wall_clock"]["real_kernel_seconds"].get<double>(), 0.0);
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 2);
}

TEST(RealExecution, UnsupportedModelsAndOversizedRunsSayWhy) {
  try {
    run_isolated(load("table2/mixtral-8x7b-1gbps-rtt5ms.json"), quiet(true));
    FAIL() << "Mixtral ran for real";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("Llama-style dense blocks"), std::string::npos) << e.what();
  }
  try {
    run_isolated(load("sanity/two_node.json", {{"model.name", "Llama-2-70B"}, {"nodes[0].gpu", "H200"},
                                               {"nodes[0].blocks", R"({"start": 0, "end": 80})"}}),
                 quiet(true));
    FAIL() << "Llama-2-70B ran for real in FP32 on this machine";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("reduce_width"), std::string::npos) << e.what();
  }
}
