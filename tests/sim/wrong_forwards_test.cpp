// Dishonest servers in fine-tuning: which training steps ran on a wrong forward output
// (sim/metrics/wrong_forwards.hpp), from the forward legs as the engines signal them.
#include <gtest/gtest.h>

#include <set>
#include <string_view>
#include <utility>

#include "sim/metrics/wrong_forwards.hpp"
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

TEST(WrongForwards, AStepTrainsOnTheWrongOutputsOfTheLegsItUsed) {
  const Scenario sc = four_servers();
  WrongForwards w(sc);
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
TEST(WrongForwards, PoisonedStepsAreThoseThroughTheCheaterAndTheyCostTheLoss) {
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
