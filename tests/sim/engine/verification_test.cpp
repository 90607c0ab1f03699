// Dishonest servers and clients' spot checks on the engines (seed 002, section 6): who gets
// banned and when, which tokens were corrupted, what checking costs, and that both engines agree.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/engine/isolated_run.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/sim/engine/shipped_runs.hpp"

using namespace swarmsim::sim;

namespace {

Scenario dishonest(const std::vector<Override>& o = {}) { return swarmsim::test::shipped_scenario("verification/dishonest-server.json", o); }
RunOptions quiet() { return swarmsim::test::quiet_options(); }

}  // namespace

// l4-a1 returns wrong outputs from 40 s: the steps it served since are exactly the corrupted
// ones, a check's majority bans it, and no session's blocks run on it after the ban (the
// sessions on it move at their next step).
TEST(Verification, ADishonestServerIsBannedAndSessionsLeaveIt) {
  const Scenario sc = dishonest();
  SwarmSimulation sim(sc, make_cost_model(sc));
  const int liar = 1;
  ASSERT_EQ(sc.nodes[liar].name, "l4-a1");
  std::set<std::pair<int, int>> served_by_liar, reported;
  std::vector<ComputeSpan> on_liar;
  double check_seconds = 0;
  std::vector<ServerBanned> bans;
  sim.signals().on_compute.connect([&](const ComputeSpan& c) {
    if (c.host == liar && std::string(c.what) == "blocks") {
      on_liar.push_back(c);
      if (c.end >= 40.0) served_by_liar.insert({c.session, c.step});
    }
    if (c.check()) check_seconds += c.device_seconds;
  });
  sim.signals().on_step.connect([&](const StepCompleted& s) {
    if (s.corrupted) reported.insert({s.session, s.step});
  });
  sim.signals().on_server_banned.connect([&](const ServerBanned& b) { bans.push_back(b); });
  const auto m = sim.run(quiet()).metrics;
  ASSERT_EQ(bans.size(), 1u);
  EXPECT_EQ(bans[0].node, liar);
  EXPECT_GT(bans[0].t, 40.0);
  EXPECT_FALSE(served_by_liar.empty());
  EXPECT_EQ(reported, served_by_liar);  // rate 1: every step it served since 40 s, and no other
  EXPECT_EQ(m["verification"]["corrupted_steps"].get<long>(), static_cast<long>(served_by_liar.size()));
  for (const ComputeSpan& c : on_liar) EXPECT_LT(c.start, bans[0].t + 1.0) << "session " << c.session << " step " << c.step;
  EXPECT_GT(m["resilience"]["recoveries"].get<int>(), 0);
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 40);
  EXPECT_EQ(m["verification"]["banned"][0]["node"], "l4-a1");
  EXPECT_GE(m["verification"]["checks"]["server_wrong"].get<int>(), 1);
  EXPECT_DOUBLE_EQ(m["verification"]["check_device_seconds"].get<double>(), check_seconds);
}

// More checks catch the cheat sooner, so fewer corrupted tokens reach users, at the price of more
// recomputation on the swarm. Without checks nobody is banned.
TEST(Verification, MoreChecksCatchTheCheatSoonerAtMoreCost) {
  const auto run = [](const std::string& rate) { return run_isolated(dishonest({{"policy.verification.rate", rate}}), quiet()).metrics; };
  const auto none = run("0"), few = run("0.01"), many = run("0.2");
  EXPECT_TRUE(none["verification"]["banned"].empty());
  EXPECT_EQ(none["verification"]["checks"]["total"].get<int>(), 0);
  ASSERT_EQ(few["verification"]["banned"].size(), 1u);
  ASSERT_EQ(many["verification"]["banned"].size(), 1u);
  EXPECT_LT(many["verification"]["banned"][0]["t"].get<double>(), few["verification"]["banned"][0]["t"].get<double>());
  const auto corrupted = [](const nlohmann::json& m) { return m["verification"]["corrupted_tokens"].get<long>(); };
  EXPECT_LT(corrupted(many), corrupted(few));
  EXPECT_LT(corrupted(few), corrupted(none));
  EXPECT_GT(many["verification"]["check_device_seconds"].get<double>(), few["verification"]["check_device_seconds"].get<double>());
}

// With two replicas of a hop's blocks, a disagreement has no third server to break it: the
// client cannot tell who is wrong, and nobody is banned.
TEST(Verification, TwoReplicasCannotBreakATie) {
  const auto m = run_isolated(dishonest({{"nodes[2].blocks", R"({"start": 16, "end": 32})"}, {"policy.verification.rate", "0.1"}}), quiet()).metrics;
  EXPECT_GT(m["verification"]["checks"]["no_tie_breaker"].get<int>(), 0);
  EXPECT_EQ(m["verification"]["checks"]["server_wrong"].get<int>(), 0);
  EXPECT_TRUE(m["verification"]["banned"].empty());
}

// A lazy cheater skips the work of its wrong outputs: its device looks idle, load-aware routing
// (eq. 18's load term) sends it more chains, and more tokens are corrupted than by a cheater that
// computes; checks still ban it.
TEST(Verification, ALazyCheaterAttractsMoreChains) {
  const auto run = [](const std::string& lazy, const std::string& rate) {
    return run_isolated(dishonest({{"nodes[1].dishonest.lazy", lazy}, {"policy.verification.rate", rate}}), quiet()).metrics;
  };
  const auto busy = run("false", "0"), lazy = run("true", "0"), checked = run("true", "0.05");
  EXPECT_GT(lazy["nodes"][1]["chains"].get<int>(), busy["nodes"][1]["chains"].get<int>());
  EXPECT_LT(lazy["nodes"][1]["busy_device_seconds"].get<double>(), busy["nodes"][1]["busy_device_seconds"].get<double>());
  EXPECT_GT(lazy["verification"]["corrupted_tokens"].get<long>(), busy["verification"]["corrupted_tokens"].get<long>());
  ASSERT_EQ(checked["verification"]["banned"].size(), 1u);
  EXPECT_LT(checked["verification"]["corrupted_tokens"].get<long>(), lazy["verification"]["corrupted_tokens"].get<long>());
}

// Two of the three servers of blocks 0-15 form a cartel: they return the same wrong values, so a
// check verified by one of them agrees, and a check of the honest server is outvoted. Checks then
// ban the honest server and corrupt more tokens than no checks at all.
TEST(Verification, ACartelOutvotesTheHonestServer) {
  const auto run = [](const std::string& rate) {
    return run_isolated(dishonest({{"nodes[1].dishonest", R"({"from": "40s", "cartel": "c"})"},
                                   {"nodes[2].dishonest", R"({"from": "40s", "cartel": "c"})"},
                                   {"policy.verification.rate", rate}}),
                        quiet())
        .metrics;
  };
  const auto unchecked = run("0"), checked = run("0.05");
  const auto& v = checked["verification"];
  ASSERT_EQ(v["banned"].size(), 1u);
  EXPECT_EQ(v["banned"][0]["node"], "l4-a0");
  EXPECT_TRUE(v["banned"][0]["honest"].get<bool>());
  EXPECT_EQ(v["honest_servers_banned"].get<int>(), 1);
  EXPECT_GT(v["wrong_outputs_passed"].get<int>(), 0);
  EXPECT_GT(v["corrupted_tokens"].get<long>(), unchecked["verification"]["corrupted_tokens"].get<long>());
}

// Distribution consensus with a tolerance (seed 002, section 6.2). l4-a0 rounds differently from
// the other L4s (divergence 0.004, theirs 0), and nobody cheats: a tolerance below 0.004 makes
// every check of it a disagreement that the two others settle against it, so an honest server is
// banned; a tolerance above it bans nobody.
TEST(Verification, ATightToleranceBansAnHonestServerThatRoundsDifferently) {
  const auto run = [](const std::string& tolerance) {
    return run_isolated(dishonest({{"nodes[1].dishonest.rate", "0"},
                                   {"nodes[0].divergence", "0.004"},
                                   {"policy.verification", R"({"rate": 0.05, "tolerance": )" + tolerance + "}"}}),
                        quiet())
        .metrics;
  };
  const auto tight = run("0.003"), loose = run("0.005");
  const auto& t = tight["verification"];
  ASSERT_EQ(t["banned"].size(), 1u) << t.dump();
  EXPECT_EQ(t["banned"][0]["node"], "l4-a0");
  EXPECT_TRUE(t["banned"][0]["honest"].get<bool>());
  EXPECT_EQ(t["corrupted_tokens"].get<long>(), 0);
  const auto& l = loose["verification"];
  EXPECT_TRUE(l["banned"].empty()) << l.dump();
  EXPECT_EQ(l["checks"]["server_wrong"].get<int>() + l["checks"]["verifier_wrong"].get<int>(), 0);
  EXPECT_GT(l["checks"]["agreed"].get<int>(), 0);
}

// l4-a1's wrong outputs are a subtle perturbation (magnitude 0.002) of the right ones: a tolerance
// of 0.003 lets every check of it agree, so it corrupts tokens unbanned; 0.001 catches it.
TEST(Verification, ASubtleCheatPassesALooseToleranceAndATightOneCatchesIt) {
  const auto run = [](const std::string& tolerance) {
    return run_isolated(dishonest({{"nodes[1].dishonest.magnitude", "0.002"},
                                   {"policy.verification", R"({"rate": 0.05, "tolerance": )" + tolerance + "}"}}),
                        quiet())
        .metrics;
  };
  const auto loose = run("0.003"), tight = run("0.001");
  const auto& l = loose["verification"];
  EXPECT_TRUE(l["banned"].empty()) << l.dump();
  EXPECT_GT(l["wrong_outputs_passed"].get<int>(), 0);
  EXPECT_EQ(l["checks"]["server_wrong"].get<int>(), 0);
  const auto& t = tight["verification"];
  ASSERT_EQ(t["banned"].size(), 1u) << t.dump();
  EXPECT_EQ(t["banned"][0]["node"], "l4-a1");
  EXPECT_FALSE(t["banned"][0]["honest"].get<bool>());
  EXPECT_LT(t["corrupted_tokens"].get<long>(), l["corrupted_tokens"].get<long>());
}
