// Dishonest servers and spot checks (seed 002, section 6; sim/verification/spot_check.hpp): the
// draws, the majority of three outputs, the choice of verifiers, and what the loader accepts.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

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
// other: the combinations of three outputs, worked by hand.
TEST(SpotCheck, TheMajorityOfThreeNamesTheOddOneOut) {
  const OutputId right = kRightOutput, lone_a = 11, lone_b = 12, cartel = 40;
  EXPECT_EQ(majority(right, right, lone_a), Verdict::Agreed);
  EXPECT_EQ(majority(lone_a, right, right), Verdict::ServerWrong);
  EXPECT_EQ(majority(right, lone_a, right), Verdict::VerifierWrong);
  EXPECT_EQ(majority(lone_a, lone_b, right), Verdict::Inconclusive);  // only the tie-breaker is right
  EXPECT_EQ(majority(lone_a, right, lone_b), Verdict::Inconclusive);
  EXPECT_EQ(majority(cartel, cartel, right), Verdict::Agreed);         // a cartel verifies its own
  EXPECT_EQ(majority(right, cartel, cartel), Verdict::ServerWrong);    // and outvotes an honest server
  EXPECT_EQ(majority(cartel, right, cartel), Verdict::VerifierWrong);
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
