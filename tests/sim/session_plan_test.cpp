// The engine-free parts of a session: what it asks for, and Petals' recovery of a failed hop.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/session_plan.hpp"

using namespace swarmsim::sim;

namespace {

Scenario two_node(const std::vector<Override>& overrides = {}) {
  return load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/sanity/two_node.json", overrides);
}

}  // namespace

TEST(SessionPlan, ShapeComesFromTheWorkloadOrTheTrace) {
  const Scenario sc = two_node({{"workload.deadline", "\"30s\""}});
  const SessionShape s = session_shape(sc, 1, 12.0);
  EXPECT_EQ(s.client, 1);  // one server, then the client
  EXPECT_EQ(s.prompt_tokens, sc.workload.prompt_tokens);
  EXPECT_EQ(s.request.client_host, 1);
  EXPECT_DOUBLE_EQ(s.deadline, 42.0);
  EXPECT_DOUBLE_EQ(s.kv_per_block, s.request.kv_bytes_per_block(sc.model));
  Scenario traced = sc;
  traced.workload.arrival = ArrivalProcess::Trace;
  traced.workload.trace = {{0.0, 0, 0, 0}, {1.0, 100, 7, 3}};
  const SessionShape t = session_shape(traced, 1, 1.0);
  EXPECT_EQ(t.prompt_tokens, 100);
  EXPECT_EQ(t.new_tokens, 7);
  EXPECT_EQ(t.priority, 3);
  EXPECT_TRUE(std::isinf(session_shape(two_node(), 0, 0.0).deadline));
}

TEST(SessionPlan, RepairRoutesTheLostSpanBetweenItsNeighboursAndSplicesTheReplacement) {
  // Three servers in a chain 0 > 1 > 2 (blocks 0-9, 10-19, 20-31); server 1 fails.
  Scenario sc = two_node();
  sc.nodes = {sc.nodes[0], sc.nodes[0], sc.nodes[0]};
  sc.nodes[1].name = "b";
  sc.nodes[2].name = "c";
  SwarmState swarm(sc, *make_cost_model(sc));
  const Chain chain{{{0, {0, 10}}, {1, {10, 20}}, {2, {20, 32}}}, 0.0};
  const RouteRequest req{3, 1, 16, 8};
  std::vector<Reservation> reservations;
  swarm.reserve(chain.hops, 1000.0, reservations);
  for (int restart = 0; restart < 4; ++restart) swarm.finish_loading(1, 0.0);  // incarnation 4: not the reservation's
  std::vector<std::pair<int, int>> failed_seen;
  const ChainRepair r = begin_repair(swarm, req, chain, 1, reservations, failed_seen);
  EXPECT_EQ(r.hop, 1);
  EXPECT_EQ(r.lost.server, 1);
  EXPECT_EQ(r.span.first_block, 10);
  EXPECT_EQ(r.span.end_block, 20);
  EXPECT_EQ(r.span.entry_host, 0);
  EXPECT_EQ(r.span.exit_host, 2);
  ASSERT_EQ(failed_seen.size(), 1u);
  EXPECT_EQ(failed_seen[0], (std::pair<int, int>{1, 0}));  // the incarnation its reservation was made with
  EXPECT_EQ(reservations.size(), 2u);
  EXPECT_DOUBLE_EQ(swarm[1].kv_reserved, 0.0);
  EXPECT_EQ(swarm[1].active, 0);

  Chain spliced = chain;
  std::vector<char> needs_replay(3, 0);
  const Chain sub{{{2, {10, 15}}, {0, {15, 20}}}, 0.0};
  splice_repair(spliced, needs_replay, r, sub, 40);
  ASSERT_EQ(spliced.hops.size(), 4u);
  EXPECT_EQ(spliced.hops[1].server, 2);
  EXPECT_EQ(spliced.hops[2].server, 0);
  EXPECT_EQ(spliced.hops[3].server, 2);
  EXPECT_EQ(needs_replay, (std::vector<char>{0, 1, 1, 0}));

  // The first hop fails: the client sends the span its input; at prefill nothing is replayed.
  const ChainRepair first = begin_repair(swarm, req, chain, -1, reservations, failed_seen);
  EXPECT_EQ(first.hop, 0);
  EXPECT_EQ(first.span.entry_host, 3);
  EXPECT_EQ(first.span.exit_host, 1);
  std::vector<char> flags(3, 0);
  Chain c2 = chain;
  splice_repair(c2, flags, first, sub, 0);
  EXPECT_EQ(flags, (std::vector<char>{0, 0, 0, 0}));
  EXPECT_EQ(repair_failure("b", 0, {10, 20}), "b failed at prefill and no alive server with free KV memory could take blocks 10-19");
}

// policy.admission_jitter spreads the waits between admission attempts around admission_retry;
// without it every wait is admission_retry exactly and the session's random stream is untouched.
TEST(SessionPlan, AdmissionWaitsSpreadByTheJitterAroundTheRetryInterval) {
  const Scenario plain = two_node({{"policy.admission_retry", "\"2s\""}});
  Rng a(7), b(7);
  EXPECT_EQ(admission_wait_s(plain, a), 2.0);
  EXPECT_EQ(a.next_u64(), b.next_u64());  // no draw
  const Scenario spread = two_node({{"policy.admission_retry", "\"2s\""}, {"policy.admission_jitter", "0.5"}});
  Rng r(7);
  double lo = 1e9, hi = 0, sum = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const double w = admission_wait_s(spread, r);
    lo = std::min(lo, w);
    hi = std::max(hi, w);
    sum += w;
  }
  EXPECT_GE(lo, 1.0);  // 2 s x (1 - 0.5)
  EXPECT_LT(hi, 3.0);  // 2 s x (1 + 0.5)
  EXPECT_LT(lo, 1.05);
  EXPECT_GT(hi, 2.95);
  EXPECT_NEAR(sum / n, 2.0, 0.03);  // the mean wait is the retry interval (sd of the mean 0.009)
  const auto bad = [](const char* v) {
    try {
      two_node({{"policy.admission_jitter", v}});
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(bad("1.5").find("policy.admission_jitter: expected a number in [0, 1], got 1.5"), std::string::npos) << bad("1.5");
  EXPECT_NE(bad("\"half\"").find("policy.admission_jitter"), std::string::npos) << bad("\"half\"");
}

// SwarmState tells its observer each server's KV memory reserved after every change, and only
// after a change: reservations add, releases subtract, a server that goes down or moves holds none.
TEST(SessionPlan, KvChangesReachTheObserverWithEachServersNewTotal) {
  Scenario sc = two_node();
  sc.nodes = {sc.nodes[0], sc.nodes[0]};
  sc.nodes[1].name = "b";
  SwarmState swarm(sc, *make_cost_model(sc));
  std::vector<std::pair<int, double>> seen;
  swarm.on_kv_changed = [&](int server, double bytes) { seen.emplace_back(server, bytes); };
  const std::vector<ChainHop> chain{{0, {0, 10}}, {1, {10, 32}}};
  std::vector<Reservation> first, second;
  swarm.reserve(chain, 100.0, first);   // 1000 B on server 0, 2200 B on server 1
  swarm.reserve(chain, 10.0, second);   // +100 B, +220 B
  EXPECT_EQ(seen, (std::vector<std::pair<int, double>>{{0, 1000.0}, {1, 2200.0}, {0, 1100.0}, {1, 2420.0}}));
  seen.clear();
  swarm.release_one(1, first);  // server 1 gives back the first session's 2200 B
  EXPECT_EQ(seen, (std::vector<std::pair<int, double>>{{1, 220.0}}));
  seen.clear();
  swarm.host_down(0, 5.0);  // server 0 loses both sessions' caches at once
  EXPECT_EQ(seen, (std::vector<std::pair<int, double>>{{0, 0.0}}));
  seen.clear();
  swarm.release(first);   // its reservation on server 0 died with the node: nothing changes
  swarm.host_down(0, 6.0);  // already empty
  EXPECT_TRUE(seen.empty());
  swarm.begin_move(1, BlockRange{0, 22});  // server 1 drops its caches with its old weights
  EXPECT_EQ(seen, (std::vector<std::pair<int, double>>{{1, 0.0}}));
  swarm.reserve({{0, {0, 0}}}, 100.0, second);  // an empty hop reserves nothing
  EXPECT_EQ(seen.size(), 1u);
}

// workload.abandon_share: the share of sessions whose users leave, each before a step drawn
// uniformly over the session, from the seed and the session alone.
TEST(SessionPlan, AbandonmentIsDrawnForTheShareOfSessionsUniformlyOverTheirSteps) {
  EXPECT_EQ(session_shape(two_node(), 0, 0.0).abandon_step, -1);
  const int n = 4000;
  const Scenario all = two_node({{"workload.abandon_share", "1"}, {"workload.new_tokens", "10"}});
  std::vector<int> per_step(10, 0);
  for (int k = 0; k < n; ++k) {
    const int a = session_shape(all, k, 0.0).abandon_step;
    ASSERT_GE(a, 0);
    ASSERT_LT(a, 10);
    ++per_step[static_cast<std::size_t>(a)];
  }
  for (int step = 0; step < 10; ++step)  // 400 expected each; 5 sd of a binomial(4000, 0.1) is 95
    EXPECT_NEAR(per_step[static_cast<std::size_t>(step)], n / 10, 95) << "step " << step;
  const Scenario some = two_node({{"workload.abandon_share", "0.3"}});
  int leaving = 0;
  for (int k = 0; k < n; ++k) leaving += session_shape(some, k, 0.0).abandon_step >= 0;
  EXPECT_NEAR(leaving, 0.3 * n, 5 * std::sqrt(n * 0.3 * 0.7));
  // The same draw at any arrival time, and another seed draws other sessions.
  EXPECT_EQ(session_shape(some, 7, 0.0).abandon_step, session_shape(some, 7, 99.0).abandon_step);
  Scenario reseeded = some;
  reseeded.seed += 1;
  int same = 0;
  for (int k = 0; k < 200; ++k) same += session_shape(some, k, 0.0).abandon_step == session_shape(reseeded, k, 0.0).abandon_step;
  EXPECT_LT(same, 180);
  EXPECT_EQ(abandon_reason(0), "abandoned by its user before prefill");
  EXPECT_EQ(abandon_reason(5), "abandoned by its user before decode step 5");
}

TEST(SessionPlan, AbandonmentIsRefusedOutsideTokenSessionsAndOutOfRange) {
  const auto message = [](const std::vector<Override>& o, const std::string& file = "sanity/two_node.json") {
    try {
      load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + file, o);
    } catch (const ScenarioError& e) {
      return std::string(e.what());
    }
    return std::string("loaded");
  };
  EXPECT_NE(message({{"workload.abandon_share", "1.5"}}).find("workload.abandon_share: expected a number in [0, 1]"), std::string::npos)
      << message({{"workload.abandon_share", "1.5"}});
  EXPECT_NE(message({{"workload.abandon_share", "0.2"}}, "fine-tuning/lora-llama3-8b.json").find("fine-tuning sessions"), std::string::npos);
  EXPECT_NE(message({{"workload.abandon_share", "0.2"}}, "pipeline/resnet50-l4-1gbps.json").find("single forward passes"), std::string::npos);
  EXPECT_NE(message({{"policy.faults.session_timeout", "\"-1s\""}}).find("policy.faults.session_timeout"), std::string::npos);
  EXPECT_EQ(message({{"policy.faults.session_timeout", "\"0s\""}}), "loaded");
}
