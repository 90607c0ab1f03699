// How routers estimate a server's uptime for eq. 18's R_A (policy.reputation): the two
// estimators on known answers, on a long alternating renewal process, through SwarmState's view,
// and as the loader reads them.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/swarm_state.hpp"
#include "sim/swarm/uptime_estimate.hpp"
#include "scenario_diagnostics.hpp"

using namespace swarmsim::sim;

namespace {

ReputationSpec product() { return {}; }
ReputationSpec posterior(double prior_s) { return {UptimeEstimate::Posterior, prior_s}; }

/// Seconds up and seconds watched of a server that alternates exponential up periods of mean
/// mttr x u / (1 - u) and down periods of mean mttr (the churn model), watched for `horizon`.
std::pair<double, double> renewal_up_time(double u, double mttr, double horizon, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> up_len(1.0 / (mttr * u / (1.0 - u)));
  std::exponential_distribution<double> down_len(1.0 / mttr);
  double t = 0.0, up = 0.0;
  bool is_up = true;
  while (t < horizon) {
    const double d = std::min(is_up ? up_len(rng) : down_len(rng), horizon - t);
    if (is_up) up += d;
    t += d;
    is_up = !is_up;
  }
  return {up, horizon};
}

}  // namespace

TEST(UptimeEstimate, BeforeAnyWatchingBothReadTheDeclaration) {
  EXPECT_DOUBLE_EQ(estimated_uptime(product(), 0.7, 0.0, 0.0), 0.7);
  EXPECT_DOUBLE_EQ(estimated_uptime(posterior(600), 0.7, 0.0, 0.0), 0.7);
  EXPECT_DOUBLE_EQ(estimated_uptime(posterior(0), 0.7, 0.0, 0.0), 0.7);
}

TEST(UptimeEstimate, KnownAnswers) {
  // A node declaring 0.9, seen up 90 s of 100 s: the product counts its failures twice.
  EXPECT_NEAR(estimated_uptime(product(), 0.9, 90.0, 100.0), 0.81, 1e-12);
  // The posterior keeps a truthful declaration: (0.9 x 600 + 90) / (600 + 100) = 0.9.
  EXPECT_NEAR(estimated_uptime(posterior(600), 0.9, 90.0, 100.0), 0.9, 1e-12);
  // An overstated 0.99 seen up 70 s of 100 s with a 100 s prior: (99 + 70) / 200.
  EXPECT_NEAR(estimated_uptime(posterior(100), 0.99, 70.0, 100.0), 0.845, 1e-12);
  // A zero prior reads the observed share alone.
  EXPECT_NEAR(estimated_uptime(posterior(0), 0.99, 70.0, 100.0), 0.7, 1e-12);
  // Never seen down: the posterior rises toward 1, the product keeps the declaration.
  EXPECT_NEAR(estimated_uptime(posterior(600), 0.9, 600.0, 600.0), 0.95, 1e-12);
  EXPECT_NEAR(estimated_uptime(product(), 0.9, 600.0, 600.0), 0.9, 1e-12);
}

TEST(UptimeEstimate, StaysInTheUnitIntervalAndGrowsWithTimeUp) {
  for (const ReputationSpec& spec : {product(), posterior(0), posterior(60), posterior(3600)}) {
    double last = -1.0;
    for (double up = 0.0; up <= 100.0; up += 5.0) {
      const double u = estimated_uptime(spec, 0.8, up, 100.0);
      EXPECT_GE(u, 0.0);
      EXPECT_LE(u, 1.0);
      EXPECT_GE(u, last);
      last = u;
    }
    // Inputs outside their ranges are clamped, not extrapolated.
    EXPECT_LE(estimated_uptime(spec, 1.5, 200.0, 100.0), 1.0);
    EXPECT_GE(estimated_uptime(spec, -0.5, -10.0, 100.0), 0.0);
  }
}

TEST(UptimeEstimate, OnChurnThatMatchesTheDeclarationThePosteriorReadsUptimeAndTheProductItsSquare) {
  // Ten hours of the churn model at u = 0.7, one-minute repairs (about 180 failures): the share up
  // is within a few percent of u, so the posterior (10 min prior) lands near u and the product
  // near u². Several seeds, so one lucky draw cannot pass the test.
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const auto [up, watched] = renewal_up_time(0.7, 60.0, 36000.0, seed);
    const double observed = up / watched;
    ASSERT_NEAR(observed, 0.7, 0.05) << "seed " << seed;
    EXPECT_NEAR(estimated_uptime(posterior(600), 0.7, up, watched), 0.7, 0.05) << "seed " << seed;
    EXPECT_NEAR(estimated_uptime(product(), 0.7, up, watched), 0.49, 0.05) << "seed " << seed;
    // And exactly: the posterior is the observed share pulled toward the declaration by 600 / (600 + watched).
    EXPECT_NEAR(estimated_uptime(posterior(600), 0.7, up, watched), observed + (0.7 - observed) * 600.0 / (600.0 + watched), 1e-12);
  }
}

TEST(UptimeEstimate, SwarmViewReadsThePolicysEstimator) {
  // Server 0 of two_node joined at 0 s, was up 30 s then went down; at 40 s routers read its
  // uptime by the policy's estimator.
  for (const bool use_posterior : {false, true}) {
    std::vector<Override> ov = {{"nodes[0].uptime", "0.9"}};
    if (use_posterior) ov.push_back({"policy.reputation", R"({"estimate": "posterior", "prior": "60s"})"});
    const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json", ov);
    SwarmState swarm(sc, *make_cost_model(sc));
    swarm.finish_loading(0, 0.0);
    swarm.host_down(0, 30.0);
    ASSERT_TRUE(swarm.declared_dead(0, 40.0));  // heartbeats every 5 s, dead after 2 missed
    std::vector<ServerView> view;
    swarm.view(40.0, view);
    const double expected = use_posterior ? (0.9 * 60.0 + 30.0) / (60.0 + 40.0) : 0.9 * 30.0 / 40.0;
    EXPECT_NEAR(view[0].uptime, expected, 1e-12) << (use_posterior ? "posterior" : "declared_x_observed");
  }
}

// Routers learn of a crash when the heartbeats stop (policy.faults): until then the server still
// looks alive, and its time since the crash still counts as time up; once declared dead, the
// whole down period counts.
TEST(UptimeEstimate, ACrashCountsOnlyOnceTheSwarmHasNoticedIt) {
  const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json", {{"nodes[0].uptime", "0.9"}});
  SwarmState swarm(sc, *make_cost_model(sc));
  swarm.finish_loading(0, 0.0);
  swarm.host_down(0, 30.0);
  const double noticed = swarm.death_notice_time(0, 30.0);
  ASSERT_GT(noticed, 30.0);
  std::vector<ServerView> view;
  const double before = 30.0 + 0.5 * (noticed - 30.0);
  ASSERT_FALSE(swarm.declared_dead(0, before));
  swarm.view(before, view);
  EXPECT_TRUE(view[0].alive);
  EXPECT_NEAR(view[0].uptime, 0.9, 1e-12);  // up all the time, as far as routers know
  const double after = noticed + 10.0;
  ASSERT_TRUE(swarm.declared_dead(0, after));
  swarm.view(after, view);
  EXPECT_FALSE(view[0].alive);
  EXPECT_NEAR(view[0].uptime, 0.9 * 30.0 / after, 1e-12);
}

TEST(UptimeEstimate, TheLoaderReadsThePolicyAndRefusesWhatNothingReads) {
  const std::string path = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json";
  const Scenario def = load_scenario_file(path, {});
  EXPECT_EQ(def.policy.reputation.estimate, UptimeEstimate::DeclaredTimesObserved);
  const Scenario post = load_scenario_file(path, {{"policy.reputation", R"({"estimate": "posterior"})"}});
  EXPECT_EQ(post.policy.reputation.estimate, UptimeEstimate::Posterior);
  EXPECT_DOUBLE_EQ(post.policy.reputation.prior_s, 600.0);
  const Scenario zero = load_scenario_file(path, {{"policy.reputation", R"({"estimate": "posterior", "prior": "0s"})"}});
  EXPECT_DOUBLE_EQ(zero.policy.reputation.prior_s, 0.0);

  using swarmsim::test::has_error;
  using swarmsim::test::scenario_errors;
  EXPECT_TRUE(has_error(scenario_errors("sanity/two_node.json", {{"policy.reputation", R"({"prior": "5min"})"}}),
                        "policy.reputation.prior: only applies to \"estimate\": \"posterior\""));
  EXPECT_TRUE(has_error(scenario_errors("sanity/two_node.json", {{"policy.reputation", R"({"estimate": "posterior", "prior": "-5min"})"}}),
                        "policy.reputation.prior"));
  EXPECT_TRUE(has_error(scenario_errors("sanity/two_node.json", {{"policy.reputation", R"({"estimate": "bayes"})"}}),
                        "policy.reputation.estimate"));
  EXPECT_TRUE(has_error(scenario_errors("sanity/two_node.json", {{"policy.reputation", R"({"estimat": "posterior"})"}}),
                        "policy.reputation.estimat"));
}
