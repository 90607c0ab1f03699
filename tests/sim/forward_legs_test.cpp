// The forward legs of fine-tuning steps (sim/metrics/forward_legs.hpp), as the engines signal them:
// which training steps ran on a dishonest server's wrong output, and where a step's hidden states
// crossed the (compressed) wire.
#include <gtest/gtest.h>

#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/metrics/forward_legs.hpp"
#include "sim/metrics/training_loss.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/sim/flow_run.hpp"

using namespace swarmsim::sim;

namespace {

Scenario four_servers() {
  // 3090-a0, a1 serve blocks 0-15; b0, b1 16-31. a1 cheats from 10 s with magnitude 0.3; b1 from the start.
  return load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/fine-tuning/lora-llama3-8b.json",
                            {parse_override(R"(nodes[1].dishonest={"from": "10s", "magnitude": 0.3})"),
                             parse_override(R"(nodes[3].dishonest={"magnitude": 2})"), parse_override("events=[]")});
}

ComputeSpan forward(int host, BlockRange blocks, int session, int step, double start) {
  return ComputeSpan{start, start + 1, host, session, step, blocks, "forward", 1.0};
}

}  // namespace

TEST(ForwardLegs, AStepTrainsOnTheWrongOutputsOfTheLegsItUsed) {
  const Scenario sc = four_servers();
  ForwardLegs w(sc);
  w.leg(forward(0, {0, 16}, 7, 0, 1.0));  // honest a0, then dishonest b1 from the start
  w.leg(forward(3, {16, 32}, 7, 0, 2.0));
  ComputeSpan backward = forward(1, {0, 16}, 7, 0, 3.0);
  backward.what = "backward";  // not a forward leg
  w.leg(backward);
  auto wrong = w.wrong(7, 0);
  ASSERT_EQ(wrong.size(), 1u);
  EXPECT_EQ(wrong[0].after_block, 32);
  EXPECT_EQ(wrong[0].magnitude, 2.0);
  EXPECT_TRUE(w.wrong(7, 1).empty());  // another step
  EXPECT_TRUE(w.wrong(8, 0).empty());  // another session

  w.leg(forward(1, {0, 16}, 7, 1, 5.0));  // a1 before it starts cheating (10 s)
  w.leg(forward(2, {16, 32}, 7, 1, 6.0));
  EXPECT_TRUE(w.wrong(7, 1).empty());
  EXPECT_TRUE(w.wrong(7, 0).empty());  // the session's earlier step is forgotten

  w.leg(forward(1, {0, 16}, 7, 2, 11.0));  // a1 cheating, then b1
  w.leg(forward(3, {16, 32}, 7, 2, 12.0));
  wrong = w.wrong(7, 2);
  ASSERT_EQ(wrong.size(), 2u);
  EXPECT_EQ(wrong[0].after_block, 16);
  EXPECT_EQ(wrong[0].magnitude, 0.3);
  EXPECT_EQ(wrong[1].after_block, 32);
  // b1 failed after its leg and the step was retried from a replacement: b0's leg replaces b1's
  // output; a1's output, cached by the client, still fed it.
  w.leg(forward(2, {16, 32}, 7, 2, 20.0));
  wrong = w.wrong(7, 2);
  ASSERT_EQ(wrong.size(), 1u);
  EXPECT_EQ(wrong[0].after_block, 16);
}

// On a run, the poisoned steps are those whose forward went through a cheating server, and the
// adapters trained on them end worse than those of the same run without the cheater.
TEST(ForwardLegs, PoisonedStepsAreThoseThroughTheCheaterAndTheyCostTheLoss) {
  const Scenario honest = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/fine-tuning/lora-llama3-8b.json",
                                             {parse_override("events=[]"), parse_override("workload.fine_tuning.steps=10")});
  Scenario cheating = honest;
  cheating.nodes[0].dishonest = DishonestSpec{0.0, 1.0, false, "", 1.0};  // 3090-a0: every step, unrelated values
  SimSignals signals;
  std::set<std::pair<int, int>> through_a0;
  signals.on_compute.connect([&](const ComputeSpan& c) {
    if (c.host == 0 && std::string_view(c.what) == "forward") through_a0.insert({c.session, c.step});
  });
  const auto m = swarmsim::test::flow_run(cheating, signals).metrics;
  const auto clean = swarmsim::test::flow_run(honest).metrics;
  ASSERT_FALSE(through_a0.empty());
  EXPECT_EQ(m["fine_tuning"]["poisoned_steps"].get<long>(), static_cast<long>(through_a0.size()));
  EXPECT_LT(m["fine_tuning"]["poisoned_steps"].get<long>(), m["fine_tuning"]["steps"].get<long>());
  EXPECT_FALSE(clean["fine_tuning"].contains("poisoned_steps"));
  EXPECT_GT(m["fine_tuning"]["loss"]["final"].get<double>(), clean["fine_tuning"]["loss"]["final"].get<double>());
  // Timing is untouched: a wrong output costs a server the same work.
  EXPECT_EQ(m["fine_tuning"]["trained_tokens_per_s"], clean["fine_tuning"]["trained_tokens_per_s"]);
}

// Compression: a step's hidden states crossed the wire into the first block of every leg whose
// output it used, and into the client's loss.
TEST(ForwardLegs, AStepsHiddenStatesArriveAtTheLegsItUsedAndAtTheLoss) {
  const Scenario sc = four_servers();
  ForwardLegs w(sc);
  EXPECT_TRUE(w.arrivals(7, 0).empty());  // no leg yet
  w.leg(forward(0, {0, 16}, 7, 0, 1.0));
  w.leg(forward(3, {16, 32}, 7, 0, 2.0));
  EXPECT_EQ(w.arrivals(7, 0), (std::vector<int>{0, 16, 32}));
  EXPECT_TRUE(w.arrivals(7, 1).empty());
  // A retried step: 3090-b1's output was lost, and two servers now split its range.
  w.leg(forward(2, {16, 24}, 7, 0, 5.0));
  w.leg(forward(3, {24, 32}, 7, 0, 6.0));
  EXPECT_EQ(w.arrivals(7, 0), (std::vector<int>{0, 16, 24, 32}));
  // Split learning: the client ran blocks 0-1 itself, so the first message enters block 2.
  w.leg(forward(0, {2, 16}, 8, 3, 1.0));
  w.leg(forward(2, {16, 32}, 8, 3, 2.0));
  EXPECT_EQ(w.arrivals(8, 3), (std::vector<int>{2, 16, 32}));
}

// On a run with 8-bit hidden states, each step's loss is the proxy's step through the quantizer at
// the step's leg boundaries; without compression the same step is exact.
TEST(ForwardLegs, ARunWithCompressedHiddenStatesTrainsTheProxyThroughTheQuantizer) {
  const auto scenario = [](const char* compression) {
    return load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/fine-tuning/lora-llama3-8b.json",
                              {parse_override("events=[]"), parse_override("workload.fine_tuning.steps=2"),
                               parse_override(std::string("policy.compression.hidden_states=") + compression)});
  };
  const Scenario wired = scenario("blockwise8"), exact = scenario("none");
  const auto m = swarmsim::test::flow_run(wired).metrics;
  const auto e = swarmsim::test::flow_run(exact).metrics;
  EXPECT_EQ(m["fine_tuning"]["loss"]["proxy"]["wire_block"], 64);
  EXPECT_FALSE(e["fine_tuning"]["loss"]["proxy"].contains("wire_block"));
  EXPECT_FALSE(m["fine_tuning"].contains("poisoned_steps"));  // no dishonest server

  // Session 0's first step by hand: the initial adapters on its batch, its chain's two legs
  // (blocks 0-15 in Amsterdam, 16-31 in Frankfurt).
  TrainingLoss by_hand(wired);
  const swarmsim::gpu::FineTuningProxy& proxy = by_hand.proxy();
  const std::vector<int> tokens = proxy.batch(0, 0);
  const std::vector<double> teacher = proxy.teacher(tokens);
  const std::vector<int> chain{0, 16, 32};
  const double rounded = proxy.loss(proxy.initial(), tokens, teacher, std::nullopt, {}, chain);
  const double plain = proxy.loss(proxy.initial(), tokens, teacher);
  ASSERT_NE(rounded, plain);
  const auto first_loss = [](const nlohmann::json& metrics) {
    for (const auto& s : metrics["fine_tuning"]["loss"]["sessions"])
      if (s["session"] == 0) return s["step_losses"][0].get<double>();
    ADD_FAILURE() << "no session 0";
    return 0.0;
  };
  EXPECT_EQ(first_loss(m), rounded);
  EXPECT_EQ(first_loss(e), plain);
}
