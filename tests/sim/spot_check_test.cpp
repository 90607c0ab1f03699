// Dishonest servers and spot checks (seed 002, section 6; sim/verification/spot_check.hpp): the
// draws, the majority of three outputs, the choice of verifiers, and what the loader accepts.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "gpu/device_catalog.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/verification/spot_check.hpp"

using namespace swarmsim::sim;

namespace {

Scenario two_node(std::vector<Override> o = {}) {
  return load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json", o);
}

ServerView server(int host, BlockRange blocks, bool alive = true) {
  ServerView v;
  v.host = host;
  v.blocks = blocks;
  v.alive = alive;
  return v;
}

}  // namespace

// Right outputs agree with each other, a lone cheater's with nothing, a cartel's members' with each
// other: the combinations of three outputs, worked by hand (exact agreement: tolerance 0).
TEST(SpotCheck, TheMajorityOfThreeNamesTheOddOneOut) {
  Scenario sc = two_node();
  sc.nodes.resize(3, sc.nodes[0]);
  const OutputId right = kRightOutput, lone_a = 11, lone_b = 12, cartel = 40;
  const auto at = [](int node, OutputId id) { return HopOutput{node, id}; };
  EXPECT_EQ(majority(sc, at(0, right), at(1, right), at(2, lone_a)), Verdict::Agreed);
  EXPECT_EQ(majority(sc, at(0, lone_a), at(1, right), at(2, right)), Verdict::ServerWrong);
  EXPECT_EQ(majority(sc, at(0, right), at(1, lone_a), at(2, right)), Verdict::VerifierWrong);
  EXPECT_EQ(majority(sc, at(0, lone_a), at(1, lone_b), at(2, right)), Verdict::Inconclusive);  // only the tie-breaker is right
  EXPECT_EQ(majority(sc, at(0, lone_a), at(1, right), at(2, lone_b)), Verdict::Inconclusive);
  EXPECT_EQ(majority(sc, at(0, cartel), at(1, cartel), at(2, right)), Verdict::Agreed);       // a cartel verifies its own
  EXPECT_EQ(majority(sc, at(0, right), at(1, cartel), at(2, cartel)), Verdict::ServerWrong);  // and outvotes an honest server
  EXPECT_EQ(majority(sc, at(0, cartel), at(1, right), at(2, cartel)), Verdict::VerifierWrong);
  SpotCheck c;
  c.server = 3;
  SpotChecked r;
  r.verifier = 5;
  EXPECT_EQ(wrong_by_majority(c, r, Verdict::ServerWrong), 3);
  EXPECT_EQ(wrong_by_majority(c, r, Verdict::VerifierWrong), 5);
  EXPECT_EQ(wrong_by_majority(c, r, Verdict::Inconclusive), -1);
}

// Only alive servers that serve every block of the hop, and are not excluded, may verify it; the
// draw spreads the checks over them.
TEST(SpotCheck, VerifiersServeTheWholeHopAndTheDrawSpreadsThem) {
  const std::vector<ServerView> view{server(0, {0, 16}), server(1, {0, 12}), server(2, {0, 32}), server(3, {4, 16}),
                                     server(4, {0, 16}, false), server(5, {0, 20})};
  const std::vector<int> exclude{0};
  std::map<int, int> picked;
  for (int i = 0; i < 1000; ++i) ++picked[pick_verifier(view, BlockRange{2, 16}, exclude, (i + 0.5) / 1000.0)];
  EXPECT_EQ(picked.size(), 2u);  // servers 2 and 5
  EXPECT_EQ(picked[2], 500);
  EXPECT_EQ(picked[5], 500);
  const std::vector<int> both{0, 2, 5};
  EXPECT_EQ(pick_verifier(view, BlockRange{2, 16}, both, 0.3), -1);
}

// The draws depend on (seed, node, session, step) only, so both engines see the same cheats and
// checks; a dishonest node cheats from its `from` time at its rate, an honest one never.
TEST(SpotCheck, CheatsAndChecksFollowTheirRates) {
  const Scenario sc = two_node({{"nodes[0].dishonest", R"({"from": "30s", "rate": 0.25})"}, {"policy.verification.rate", "0.1"}});
  ASSERT_TRUE(sc.nodes[0].dishonest);
  EXPECT_DOUBLE_EQ(sc.nodes[0].dishonest->from_s, 30.0);
  int wrong = 0, checked = 0;
  const int n = 20000;
  for (int step = 0; step < n; ++step) {
    EXPECT_FALSE(returns_wrong_output(sc, 0, 7, step, 29.9));
    wrong += returns_wrong_output(sc, 0, 7, step, 30.0);
    checked += spot_checks(sc, 7, step, 0);
    EXPECT_EQ(returns_wrong_output(sc, 0, 7, step, 31.0), returns_wrong_output(sc, 0, 7, step, 45.0));
  }
  EXPECT_NEAR(wrong / static_cast<double>(n), 0.25, 0.015);
  EXPECT_NEAR(checked / static_cast<double>(n), 0.1, 0.01);
  EXPECT_FALSE(spot_checks(two_node(), 7, 1, 0));  // no verification policy: never
  const Scenario honest = two_node();
  for (int step = 0; step < 100; ++step) EXPECT_FALSE(returns_wrong_output(honest, 0, 7, step, 1e6));
}

TEST(SpotCheck, TheLoaderRefusesWhatCannotWork) {
  const auto error_of = [](const std::string& file, std::vector<Override> o) -> std::string {
    try {
      load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + file, o);
    } catch (const ScenarioError& e) {
      return e.diagnostics().front().path + ": " + e.diagnostics().front().message;
    }
    return "";
  };
  EXPECT_NE(error_of("sanity/two_node.json", {{"nodes[0].dishonest", R"({"rate": 2})"}}).find("nodes[0].dishonest.rate: expected a number in [0, 1]"),
            std::string::npos);
  EXPECT_NE(error_of("sanity/two_node.json", {{"nodes[0].dishonest", R"({"form": "3s"})"}}).find("(did you mean \"from\"?)"),
            std::string::npos);
  EXPECT_NE(error_of("sanity/two_node.json", {{"policy.verification", R"({"ban": false})"}}).find("policy.verification.rate: missing"),
            std::string::npos);
  EXPECT_NE(error_of("coded/coin-stragglers.json", {{"policy.verification.rate", "0.1"}})
                .find("policy.verification: applies to a transformer served as a chain of blocks"),
            std::string::npos);
  EXPECT_NE(error_of("coded/coin-stragglers.json", {{"nodes[0].dishonest", "{}"}}).find("nodes[0].dishonest: applies to servers of a chain"),
            std::string::npos);
  EXPECT_EQ(error_of("sanity/two_node.json", {{"nodes[0].divergence", "1"}}),
            "nodes[0].divergence: expected a number in [0, 1) (relative L2 distance of its honest outputs from exact arithmetic), got 1");
  EXPECT_EQ(error_of("sanity/two_node.json", {{"nodes[0].dishonest", R"({"magnitude": 0})"}}),
            "nodes[0].dishonest.magnitude: expected a number in (0, 10] (relative L2 distance of its wrong outputs from the right ones; 1: "
            "unrelated values), got 0");
  EXPECT_EQ(error_of("sanity/two_node.json", {{"policy.verification", R"({"rate": 0.1, "tolerance": -1})"}}),
            "policy.verification.tolerance: expected a number in [0, 10] (relative L2 distance up to which two outputs agree), got -1");
}

// Distribution consensus (seed 002, section 6.2) compares outputs up to a tolerance. The distance
// of two outputs of a hop, by hand: rounding parts sqrt(a^2 + b^2) unless both nodes have the same
// device and divergence, a wrong output's magnitude unless both return the same wrong values.
TEST(SpotCheck, OutputsDifferByTheirNodesRoundingAndTheirCheatsMagnitude) {
  Scenario sc = two_node();
  sc.nodes.resize(6, sc.nodes[0]);  // L4s
  sc.nodes[0].divergence = sc.nodes[1].divergence = 0.003;
  sc.nodes[2].device = swarmsim::gpu::find_device("RTX-4090");
  sc.nodes[2].divergence = 0.003;
  sc.nodes[3].divergence = 0.004;
  sc.nodes[4].dishonest = DishonestSpec{0.0, 1.0, false, "", 0.002};
  sc.nodes[5].dishonest = DishonestSpec{0.0, 1.0, false, "", 0.5};
  const OutputId right = kRightOutput, lone4 = 4, lone5 = 5;
  const auto d = [&](int a, OutputId ia, int b, OutputId ib) { return output_distance(sc, {a, ia}, {b, ib}); };
  EXPECT_EQ(d(0, right, 1, right), 0.0);                     // same device, same divergence: identical
  EXPECT_DOUBLE_EQ(d(0, right, 2, right), std::sqrt(2 * 0.003 * 0.003));  // another device
  EXPECT_DOUBLE_EQ(d(0, right, 3, right), 0.005);             // another divergence: a 3-4-5 triangle
  EXPECT_DOUBLE_EQ(d(3, right, 4, right), 0.004);             // node 4's right outputs are exact
  EXPECT_DOUBLE_EQ(d(4, lone4, 1, right), std::sqrt(0.002 * 0.002 + 0.003 * 0.003));
  EXPECT_DOUBLE_EQ(d(4, lone4, 5, lone5), std::sqrt(0.002 * 0.002 + 0.25));
  EXPECT_EQ(d(4, 77, 5, 77), 0.0);                            // a cartel's same values, both exact
  EXPECT_DOUBLE_EQ(output_distance(sc, {5, lone5}, {4, right}), 0.5);

  // Exact agreement (tolerance 0) sees every difference; a tolerance lets small ones agree.
  EXPECT_FALSE(outputs_agree(sc, {0, right}, {3, right}));
  sc.policy.verification.tolerance = 0.0045;
  EXPECT_TRUE(outputs_agree(sc, {0, right}, {2, right}));
  EXPECT_FALSE(outputs_agree(sc, {0, right}, {3, right}));
  EXPECT_TRUE(outputs_agree(sc, {4, lone4}, {3, right}));     // a subtle cheat passes
}

// With a tolerance the verdict can go wrong without a cartel: too tight, and an honest server on
// another device is outvoted by two that round alike; loose enough, and a subtle cheater agrees;
// a tie-breaker close to both sides decides nothing.
TEST(SpotCheck, ATolerancePutsHonestServersAndSubtleCheatsOnEitherSide) {
  Scenario sc = two_node();
  sc.nodes.resize(4, sc.nodes[0]);
  sc.nodes[0].divergence = 0.004;  // the odd one out among L4s that otherwise round alike
  sc.nodes[3].dishonest = DishonestSpec{0.0, 1.0, false, "", 0.002};
  const OutputId right = kRightOutput, lone = 9;
  sc.policy.verification.tolerance = 0.003;
  EXPECT_EQ(majority(sc, {0, right}, {1, right}, {2, right}), Verdict::ServerWrong);  // an honest server banned
  EXPECT_EQ(majority(sc, {3, lone}, {1, right}, {2, right}), Verdict::Agreed);       // the cheat passes
  sc.policy.verification.tolerance = 0.001;
  EXPECT_EQ(majority(sc, {3, lone}, {1, right}, {2, right}), Verdict::ServerWrong);  // caught when tighter
  sc.policy.verification.tolerance = 0.0035;
  EXPECT_EQ(majority(sc, {3, lone}, {0, right}, {1, right}), Verdict::VerifierWrong);  // 0.0045 apart; node 1 sides with the cheat
  sc.nodes[2].divergence = 0.003;  // node 3's cheat (0.002) and node 2 differ by 0.0036; node 1 is within 0.003 of both
  EXPECT_EQ(majority(sc, {3, lone}, {2, right}, {1, right}), Verdict::Inconclusive);
}

// A cartel's members cheat on the same steps with the same values; lone cheaters never agree.
TEST(SpotCheck, ACartelCheatsTogether) {
  const Scenario sc = two_node({{"nodes", R"([{"name": "s", "count": 4, "gpu": "L4", "location": {"lat": 50.11, "lon": 8.68},
                                              "uplink": "1Gbps", "downlink": "1Gbps", "blocks": {"start": 0, "end": 32}}])"},
                                {"nodes[0].dishonest", R"({"rate": 0.5, "cartel": "c"})"}});
  // nodes[0] expands to four copies with the same cartel: they agree step by step.
  int both = 0;
  for (int step = 0; step < 2000; ++step) {
    const OutputId a = output_of(sc, 0, 3, step, 1.0), b = output_of(sc, 2, 3, step, 1.0);
    EXPECT_EQ(a, b) << step;
    both += a != kRightOutput;
  }
  EXPECT_NEAR(both / 2000.0, 0.5, 0.04);
  const Scenario lone = two_node({{"nodes", R"([{"name": "s", "count": 2, "gpu": "L4", "location": {"lat": 50.11, "lon": 8.68},
                                               "uplink": "1Gbps", "downlink": "1Gbps", "blocks": {"start": 0, "end": 32},
                                               "dishonest": {}}])"}});
  for (int step = 0; step < 100; ++step) {
    EXPECT_NE(output_of(lone, 0, 3, step, 1.0), kRightOutput);
    EXPECT_NE(output_of(lone, 0, 3, step, 1.0), output_of(lone, 1, 3, step, 1.0));
  }
}
