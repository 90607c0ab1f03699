// Known answers for the coverage of a model's blocks by servers that fail and come back
// (sim/swarm/block_coverage.hpp): a server serves its range a load time after it joins or comes
// back, and a failure while it loads serves nothing.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/block_coverage.hpp"

using namespace swarmsim::sim;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// A server of `sc` on `range` that loads its weights in `load_s` seconds.
NodeSpec server(const Scenario& sc, const std::string& name, BlockRange range, double join_at, double load_s) {
  NodeSpec n;
  n.name = name;
  n.blocks = range;
  n.join_at_s = join_at;
  n.weights_load_Bps = range.size() * sc.model.block_weight_bytes() / load_s;
  return n;
}

ReplayEvent event(double t, EventAction a, const std::string& node) { return {t, a, node, "", LinkDirection::Both, 0.0}; }

/// A 4-block model: a serves 0-1 (loads in 2 s), b serves 2-3 (2 s) and never fails. a goes down
/// at 10 s, up at 20 s, down at 21 s while reloading, and up at 30 s for good.
Scenario two_halves() {
  Scenario sc;
  sc.model = *swarmsim::gpu::find_model("Llama-3-8B");
  sc.model.n_layers = 4;
  sc.nodes = {server(sc, "a", {0, 2}, 0.0, 2.0), server(sc, "b", {2, 4}, 0.0, 2.0)};
  sc.events = {event(10, EventAction::NodeDown, "a"), event(20, EventAction::NodeUp, "a"), event(21, EventAction::NodeDown, "a"),
               event(30, EventAction::NodeUp, "a")};
  return sc;
}

}  // namespace

TEST(BlockCoverage, AServerServesALoadTimeAfterItJoinsOrComesBack) {
  const Scenario sc = two_halves();
  using Intervals = std::vector<std::pair<double, double>>;
  const Intervals a = serving_intervals(sc, 0);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_NEAR(a[0].first, 2.0, 1e-9);
  EXPECT_EQ(a[0].second, 10.0);
  EXPECT_NEAR(a[1].first, 32.0, 1e-9);  // the reload from 20 s was cut at 21 s
  EXPECT_EQ(a[1].second, kInf);
  ASSERT_EQ(serving_intervals(sc, 1).size(), 1u);
  // A node that comes up before its join loads at its join.
  Scenario late = sc;
  late.nodes[0].join_at_s = 50.0;
  const Intervals l = serving_intervals(late, 0);
  ASSERT_EQ(l.size(), 1u);
  EXPECT_NEAR(l[0].first, 52.0, 1e-9);
}

TEST(BlockCoverage, CountsTheTimeEachBlockHadNoServer) {
  Scenario sc = two_halves();
  const auto c = block_coverage(sc, 0.0, 40.0);
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->uncovered_s.size(), 4u);
  // Blocks 0-1: [0, 2) loading and [10, 32) down or reloading; blocks 2-3: [0, 2).
  EXPECT_NEAR(c->uncovered_s[0], 2.0 + 22.0, 1e-9);
  EXPECT_NEAR(c->uncovered_s[1], 24.0, 1e-9);
  EXPECT_NEAR(c->uncovered_s[2], 2.0, 1e-9);
  EXPECT_NEAR(c->all_covered_s, 8.0 + 8.0, 1e-9);
  EXPECT_NEAR(c->all_covered_fraction(), 16.0 / 40.0, 1e-12);
  // A window inside: [5, 25).
  const auto inside = block_coverage(sc, 5.0, 25.0);
  EXPECT_NEAR(inside->uncovered_s[0], 15.0, 1e-9);
  EXPECT_NEAR(inside->all_covered_s, 5.0, 1e-9);
  // A third server on every block, ready at 6 s, covers the hole.
  sc.nodes.push_back(server(sc, "c", {0, 4}, 5.0, 1.0));
  const auto three = block_coverage(sc, 0.0, 40.0);
  EXPECT_NEAR(three->uncovered_s[0], 2.0, 1e-9);
  EXPECT_NEAR(three->all_covered_s, 38.0, 1e-9);
  // An "auto" range is chosen at run time: nothing to say before.
  sc.nodes[2].blocks.reset();
  EXPECT_FALSE(block_coverage(sc, 0.0, 40.0).has_value());
}

// The shipped two-cities scenario with outages wide enough to take every city down at once (the
// shipped 50 km take one city, and the others hold every block): the drawn outages leave the
// blocks without a server for a while, and the coverage agrees with a brute-force scan of the
// serving intervals.
TEST(BlockCoverage, AgreesWithAScanOfTheServingIntervalsOnADrawnScenario) {
  const Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/churn/two-cities.json",
                                         {parse_override(R"(churn.regional.radius="1000km")")});
  const double from = sc.workload.start_s, until = sc.churn->until_s;
  const auto c = block_coverage(sc, from, until);
  ASSERT_TRUE(c.has_value());
  std::vector<std::vector<std::pair<double, double>>> serving;
  for (int i = 0; i < static_cast<int>(sc.nodes.size()); ++i) serving.push_back(serving_intervals(sc, i));
  const double dt = 0.05;
  std::vector<double> scan(static_cast<std::size_t>(sc.model.n_layers), 0.0);
  double all = 0.0;
  for (double t = from + dt / 2; t < until; t += dt) {
    bool every = true;
    for (int k = 0; k < sc.model.n_layers; ++k) {
      bool any = false;
      for (std::size_t i = 0; i < sc.nodes.size() && !any; ++i)
        if (sc.nodes[i].blocks->contains(k))
          for (const auto& [a, b] : serving[i]) any |= a <= t && t < b;
      if (!any) scan[static_cast<std::size_t>(k)] += dt;
      every &= any;
    }
    if (every) all += dt;
  }
  EXPECT_LT(c->all_covered_fraction(), 1.0);  // the outages do leave holes
  EXPECT_GT(c->all_covered_fraction(), 0.2);  // an outage every 4 min lasting 2 min takes everything: about half
  EXPECT_NEAR(c->all_covered_s, all, 0.05 * 40);
  for (int k = 0; k < sc.model.n_layers; ++k) EXPECT_NEAR(c->uncovered_s[static_cast<std::size_t>(k)], scan[static_cast<std::size_t>(k)], 0.05 * 40) << k;
}
