// Failures survived (seed 003 "Error Handling"): a server killed mid-generation, transfers that
// time out and are retried with backoff, corrupted messages, and rebalancing (seed 002, eq. 3).
// Each TEST runs in its own process (gtest_discover_tests); runs compared use run_isolated.
#include <gtest/gtest.h>

#include <string>

#include "gpu/shard_cost_model.hpp"
#include "sim/engine/isolated_run.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"

using namespace swarmsim::sim;

namespace {

/// Two spans of Llama-3-8B, each held by two L4 servers (a0/a1: blocks 0-15, b0/b1: 16-31), one
/// client; sessions of 16 prompt + 24 new tokens every 30 s.
std::string redundant_swarm(const std::string& events, const std::string& policy_extra = "") {
  return R"({
    "name": "redundant",
    "seed": 3,
    "model": {"name": "Llama-3-8B"},
    "nodes": [
      {"name": "a0", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps", "blocks": {"start": 0, "end": 16}},
      {"name": "a1", "gpu": "L4", "location": {"lat": 51, "lon": 9}, "uplink": "1Gbps", "downlink": "1Gbps", "blocks": {"start": 0, "end": 16}},
      {"name": "b0", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps", "blocks": {"start": 16, "end": 32}},
      {"name": "b1", "gpu": "L4", "location": {"lat": 51, "lon": 9}, "uplink": "1Gbps", "downlink": "1Gbps", "blocks": {"start": 16, "end": 32}}],
    "clients": [{"name": "cl", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"}],
    "workload": {"sessions": 2, "start": "10s", "arrival": {"process": "fixed", "interval": "30s"}, "prompt_tokens": 16, "new_tokens": 24},
    "policy": {"router": "shortest_path")" + policy_extra + R"(},
    "events": )" + events + "}";
}

Scenario scenario(const std::string& text) { return load_scenario_text(text, "resilience_test.json"); }

RunOptions quiet() {
  RunOptions o;
  o.progress = RunOptions::Progress::Never;
  return o;
}

struct Recorded {
  std::vector<ChainFormed> chains;
  std::vector<SessionEnded> ended;
  std::vector<SessionRecovered> recovered;
  std::vector<TransferRetried> retries;
  std::vector<ComputeSpan> computes;
  std::vector<StepCompleted> steps;
  std::vector<BlocksMoved> moves;
  std::vector<NodeJoined> joins;
  RunReport report;
};

Recorded run_here(const Scenario& sc) {
  SwarmSimulation sim(sc, make_cost_model(sc));
  Recorded r;
  sim.signals().on_chain_formed.connect([&](const ChainFormed& c) { r.chains.push_back(c); });
  sim.signals().on_session_ended.connect([&](const SessionEnded& e) { r.ended.push_back(e); });
  sim.signals().on_session_recovered.connect([&](const SessionRecovered& e) { r.recovered.push_back(e); });
  sim.signals().on_transfer_retried.connect([&](const TransferRetried& e) { r.retries.push_back(e); });
  sim.signals().on_compute.connect([&](const ComputeSpan& c) { r.computes.push_back(c); });
  sim.signals().on_step.connect([&](const StepCompleted& s) { r.steps.push_back(s); });
  sim.signals().on_blocks_moved.connect([&](const BlocksMoved& m) { r.moves.push_back(m); });
  sim.signals().on_node_joined.connect([&](const NodeJoined& j) { r.joins.push_back(j); });
  r.report = sim.run(quiet());
  return r;
}

}  // namespace

// A server on the session's chain is killed in the middle of generation and never returns: the
// session completes with every token, its span moves to the other server of the pair, which
// rebuilds the KV cache by running the replayed positions as a prefill, and the extra latency
// shows in the session's duration against the same run without the failure.
TEST(Resilience, NodeKilledMidGenerationSessionCompletesWithTheKvCacheRebuilt) {
  // The shortest-path router puts b0 (next to the client and a0) on the first chain; kill it at
  // 12 s, mid-decode of session 0 (which runs from 10 s for ~4.5 s without failures).
  const auto base = run_isolated(scenario(redundant_swarm("[]")), quiet()).metrics;
  const auto m = run_isolated(scenario(redundant_swarm(R"([{"at": "12s", "action": "node_down", "node": "b0"}])")), quiet()).metrics;
  ASSERT_GT(base["latency_s"]["session"]["max"].get<double>(), 2.5);  // the kill lands mid-generation
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 2);
  EXPECT_EQ(m["throughput"]["tokens_generated"].get<int>(), 2 * 24);
  EXPECT_EQ(m["resilience"]["recoveries"].get<int>(), 1);
  EXPECT_GT(m["resilience"]["replayed_tokens"].get<int>(), 16);  // the prompt and the tokens so far
  // The session took longer than without the failure: the client waited for the timeout or the
  // heartbeat verdict, re-routed, and paid the replayed prefill.
  EXPECT_GT(m["latency_s"]["session"]["max"].get<double>(), base["latency_s"]["session"]["max"].get<double>() + 1.0);
}

// The same failure watched through the signals in this process.
TEST(Resilience, ReplacementServerRunsTheReplayedPrefill) {
  // b0 and b1 are symmetric but for their location; the shortest-path router picks b0 (same place
  // as the client and a0). Kill b0 at 12 s.
  const Recorded r = run_here(scenario(redundant_swarm(R"([{"at": "12s", "action": "node_down", "node": "b0"}])")));
  ASSERT_EQ(r.ended.size(), 2u);
  for (const SessionEnded& e : r.ended) EXPECT_TRUE(e.completed) << e.reason;
  ASSERT_EQ(r.chains.size(), 2u);
  ASSERT_EQ(r.chains[0].servers.back(), 2) << "expected the first chain to end on b0";
  ASSERT_EQ(r.recovered.size(), 1u);
  const SessionRecovered& rec = r.recovered[0];
  EXPECT_EQ(rec.failed_server, 2);
  EXPECT_EQ(rec.span, (BlockRange{16, 32}));
  ASSERT_EQ(rec.servers.size(), 1u);
  EXPECT_EQ(rec.servers[0], 3);  // b1 takes over
  EXPECT_GE(rec.t, 12.0);
  // Detection: the compute in flight died with b0; the client gave up on it when the response
  // timeout (10 s) or the heartbeat verdict (<= 2 x 5 s after its last heartbeat) came first.
  EXPECT_LE(rec.t, 12.0 + 10.0 + 1e-9);
  // The KV cache is rebuilt: b1 runs one "replay" prefill over the replayed positions of blocks 16-31.
  int replays = 0;
  for (const ComputeSpan& c : r.computes)
    if (std::string(c.what) == "replay") {
      ++replays;
      EXPECT_EQ(c.host, 3);
      EXPECT_EQ(c.blocks, (BlockRange{16, 32}));
      EXPECT_GT(c.device_seconds, 0.0);
    }
  EXPECT_EQ(replays, 1);
  EXPECT_EQ(rec.replayed_tokens, 16 + rec.step - 1);  // prompt + tokens generated before the failed step
  // Every token of session 0 arrived, and the step that met the failure is the slowest.
  int steps0 = 0;
  double slowest = 0;
  int slowest_step = -1;
  for (const StepCompleted& s : r.steps)
    if (s.session == 0) {
      ++steps0;
      if (s.latency > slowest) {
        slowest = s.latency;
        slowest_step = s.step;
      }
    }
  EXPECT_EQ(steps0, 24);
  EXPECT_EQ(slowest_step, rec.step);
}

// A server that dies while the session is between steps is only found out by the next transfer:
// three attempts, each waiting out the timeout, with backoffs of 0.5 s and 1 s between them, then
// the client gives up on it and re-routes.
TEST(Resilience, UnansweredTransfersAreRetriedWithBackoffThenGivenUp) {
  // Long heartbeats (60 s x 2) keep the failure unknown to the swarm; the session's next step
  // starts after the kill and must find out by itself. Session 0's decode steps take ~0.19 s.
  const std::string text = redundant_swarm(R"([{"at": "12.05s", "action": "node_down", "node": "b0"}])",
                                           R"(, "faults": {"heartbeat": "60s", "transfer_timeout": "2s"})");
  const Recorded r = run_here(scenario(text));
  for (const SessionEnded& e : r.ended) EXPECT_TRUE(e.completed) << e.reason;
  std::vector<TransferRetried> timeouts;
  for (const TransferRetried& t : r.retries)
    if (t.reason == "timeout" && t.session == 0) timeouts.push_back(t);
  ASSERT_FALSE(r.recovered.empty());
  ASSERT_EQ(timeouts.size(), 3u) << "the kill at 12.05 s must find session 0 between steps, about to send to b0";
  EXPECT_EQ(timeouts[0].attempt, 1);
  EXPECT_EQ(timeouts[2].attempt, 3);
  EXPECT_FALSE(timeouts[1].given_up);
  EXPECT_TRUE(timeouts[2].given_up);
  // Each attempt waits out its timeout; backoff before attempt 2 is 0.5 s, before attempt 3 is 1 s.
  const double gap12 = timeouts[1].t - timeouts[0].t, gap23 = timeouts[2].t - timeouts[1].t;
  EXPECT_NEAR(gap23 - gap12, 0.5, 1e-6);
  EXPECT_GT(gap12, 2.0 + 0.5);
}

// Corrupted hidden states are caught by their FNV-1a checksum and sent again: every session
// completes with the same tokens as without corruption, and every retransmission is one more hop.
TEST(Resilience, CorruptedMessagesAreDetectedAndResent) {
  const auto clean = run_isolated(scenario(redundant_swarm("[]")), quiet()).metrics;
  const auto noisy = run_isolated(scenario(redundant_swarm("[]", R"(, "faults": {"corruption_rate": 0.2})")), quiet()).metrics;
  const int corrupted = noisy["resilience"]["corrupted_messages"].get<int>();
  EXPECT_GT(corrupted, 0);
  EXPECT_EQ(clean["resilience"]["corrupted_messages"].get<int>(), 0);
  EXPECT_EQ(noisy["sessions"]["completed"].get<int>(), 2);
  EXPECT_EQ(noisy["throughput"]["tokens_generated"], clean["throughput"]["tokens_generated"]);
  EXPECT_EQ(noisy["network"]["hops"].get<int>(), clean["network"]["hops"].get<int>() + corrupted);
  EXPECT_GT(noisy["latency_s"]["session"]["max"].get<double>(), clean["latency_s"]["session"]["max"].get<double>());
}

// Rebalancing (seed 002, eq. 3): b serves blocks 16-31 alone and leaves at 30 s; once the swarm
// has declared it dead (two missed 5 s heartbeats), the next rebalancing round (every 10 s) moves
// one of the two servers of blocks 0-15 there, and sessions after that complete.
TEST(Resilience, RebalancingRestoresCoverageWithinThePeriod) {
  const std::string text = R"({
    "name": "rebalance", "seed": 1, "model": {"name": "Llama-3-8B"},
    "nodes": [
      {"name": "a", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps", "max_blocks": 16},
      {"name": "b", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps", "max_blocks": 16},
      {"name": "c", "gpu": "L4", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps", "max_blocks": 16, "join_at": "5s"}],
    "clients": [{"name": "cl", "device": "cpu-generic", "location": {"lat": 50, "lon": 8}, "uplink": "1Gbps", "downlink": "1Gbps"}],
    "workload": {"sessions": 6, "start": "20s", "arrival": {"process": "fixed", "interval": "20s"}, "prompt_tokens": 16, "new_tokens": 8},
    "policy": {"router": "eq18", "rebalance": {"period": "10s"}},
    "events": [{"at": "30s", "action": "node_down", "node": "b"}]
  })";
  const Recorded r = run_here(scenario(text));
  ASSERT_EQ(r.moves.size(), 1u);
  const BlocksMoved& mv = r.moves[0];
  EXPECT_EQ(mv.to, (BlockRange{16, 32}));
  EXPECT_EQ(mv.from, (BlockRange{0, 16}));
  EXPECT_EQ(mv.min_throughput_before, 0.0);  // blocks 16-31 were served by nobody
  EXPECT_GT(mv.min_throughput_after, 0.0);
  // Declared dead at most 2 x 5 s after 30 s; the next round is at most one period later.
  EXPECT_LE(mv.t, 30.0 + 2 * 5.0 + 10.0 + 1e-9);
  EXPECT_GT(mv.t, 30.0);
  // The mover serves the new range once it has loaded 16 blocks x 436,224,000 B at 2e9 B/s.
  bool rejoined = false;
  for (const NodeJoined& j : r.joins)
    if (j.node == mv.node && j.blocks == BlockRange{16, 32}) {
      rejoined = true;
      EXPECT_NEAR(j.t, mv.t + 16 * 436224000.0 / 2e9, 1e-9);
    }
  EXPECT_TRUE(rejoined);
  for (const SessionEnded& e : r.ended) EXPECT_TRUE(e.completed) << "session " << e.session << ": " << e.reason;
}

// With the DHT, clients find servers through lookups of "block:<i>" records (seed 002, §3). A dead
// server stops republishing; once its records expire (TTL 10 s) clients no longer route to it,
// even while heartbeats (slowed to 1000 s here) have not declared it dead. Without the DHT, the
// swarm's stale view sends the later session to the dead server, which costs timeouts and a
// recovery.
TEST(Dht, ExpiredRecordsKeepClientsAwayFromADeadServer) {
  const std::string events = R"([{"at": "25s", "action": "node_down", "node": "b0"}])";
  const std::string slow_heartbeat = R"(, "faults": {"heartbeat": "1000s"})";
  for (const EngineKind engine : {EngineKind::SimGrid, EngineKind::Flow}) {
    SCOPED_TRACE(to_string(engine));
    Scenario plain = scenario(redundant_swarm(events, slow_heartbeat));
    Scenario dht = scenario(redundant_swarm(events, slow_heartbeat + R"(, "dht": {"record_ttl": "10s", "client_refresh": "5s"})"));
    plain.engine = dht.engine = engine;
    const auto without = run_isolated(plain, quiet()).metrics;
    const auto with = run_isolated(dht, quiet()).metrics;
    // Session 1 arrives at 40 s: 15 s after b0 died, 5 s past its records' expiry.
    EXPECT_EQ(without["sessions"]["completed"].get<int>(), 2);
    EXPECT_EQ(with["sessions"]["completed"].get<int>(), 2);
    EXPECT_GE(without["resilience"]["recoveries"].get<int>(), 1);
    EXPECT_EQ(with["resilience"]["recoveries"].get<int>(), 0);
    EXPECT_EQ(with["resilience"]["transfer_retries"].get<int>(), 0);
    // The DHT did real work over the network and its lookups are counted.
    const auto& d = with["dht"];
    EXPECT_GE(d["lookups"].get<int>(), 2 * 32);  // one per block per admission, at least
    EXPECT_GT(d["messages"].get<int>(), 0);
    EXPECT_GT(d["rpcs_answered"].get<int>(), 0);
    EXPECT_FALSE(without.contains("dht"));
  }
}
