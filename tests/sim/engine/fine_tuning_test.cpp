// Fine-tuning sessions on the engines (workload.fine_tuning, seed 002 section 2.4): the legs of a
// training step in order, their prices and bytes, the memory they reserve, checkpoints, and what a
// failure costs the adapters.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sim/engine/isolated_run.hpp"
#include "sim/engine/swarm_simulation.hpp"
#include "sim/pricing.hpp"
#include "sim/swarm/training_step.hpp"
#include "tests/sim/engine/shipped_runs.hpp"

using namespace swarmsim::sim;

namespace {

/// The shipped LoRA scenario without its loss proxy (its arithmetic takes seconds; the tests of the
/// proxy set it again).
Scenario lora(std::vector<Override> o = {}) {
  o.insert(o.begin(), Override{"workload.fine_tuning.loss", "null"});
  return swarmsim::test::shipped_scenario("fine-tuning/lora-llama3-8b.json", o);
}
RunOptions quiet() { return swarmsim::test::quiet_options(); }
const Override kNoFailure{"events", "[]"};

/// One in-process SimGrid run of `sc` (data-parallel jobs), with its prices and what it signals:
/// each session's chain, and its synchronizations in order. `sc` must outlive it.
struct JobRun {
  std::shared_ptr<const swarmsim::gpu::ShardCostModel> cost;
  TrainingStep price;
  std::map<int, Chain> chains;
  std::map<int, std::vector<AdaptersSynced>> syncs;
  nlohmann::json metrics;
  explicit JobRun(const Scenario& sc) : cost(make_cost_model(sc)), price(sc, *cost) {
    SwarmSimulation sim(sc, cost);
    sim.signals().on_chain_formed.connect([this](const ChainFormed& c) {
      Chain chain;
      for (std::size_t i = 0; i < c.servers.size(); ++i) chain.hops.push_back({c.servers[i], c.ranges[i]});
      chains[c.session] = chain;
    });
    sim.signals().on_adapters_synced.connect([this](const AdaptersSynced& a) { syncs[a.session].push_back(a); });
    metrics = sim.run(quiet()).metrics;
  }
  JobRun(const JobRun&) = delete;
};

}  // namespace

// On a static swarm, one session's steps run forward through its chain, the loss on the client,
// then backward in reverse; each leg costs its price and carries its bytes; the servers checkpoint
// their adapters every `checkpoint_every` steps; and each server reserves the training state of
// its blocks.
TEST(FineTuning, AStepRunsForwardThenBackwardAtItsPricesAndBytes) {
  const Scenario sc = lora({kNoFailure, {"workload.sessions", "1"}});
  const auto cost = make_cost_model(sc);
  const TrainingStep price(sc, *cost);
  SwarmSimulation sim(sc, cost);
  std::map<int, std::vector<std::pair<std::string, int>>> legs;  // step -> (what, host) in order
  std::vector<ChainFormed> chains;
  std::vector<AdaptersMoved> saved;
  std::vector<TransferSpan> transfers;
  int bad_prices = 0;
  sim.signals().on_chain_formed.connect([&](const ChainFormed& c) { chains.push_back(c); });
  sim.signals().on_compute.connect([&](const ComputeSpan& c) {
    legs[c.step].emplace_back(c.what, c.host);
    const std::string what = c.what;
    if (what == "forward" || what == "backward") {
      const auto& dev = *sc.nodes[static_cast<std::size_t>(c.host)].device;
      const double want = what == "forward" ? price.forward_s(dev, c.blocks.size()) : price.backward_s(dev, c.blocks.size());
      bad_prices += std::abs(c.device_seconds - want) > 1e-12 * want;
    }
  });
  sim.signals().on_transfer.connect([&](const TransferSpan& t) { transfers.push_back(t); });
  sim.signals().on_adapters_moved.connect([&](const AdaptersMoved& a) { saved.push_back(a); });
  const auto m = sim.run(quiet()).metrics;
  ASSERT_EQ(chains.size(), 1u);
  const std::vector<int>& servers = chains[0].servers;
  ASSERT_EQ(servers.size(), 2u);
  const int client = static_cast<int>(sc.nodes.size());
  const int steps = sc.workload.fine_tuning->steps, every = sc.workload.fine_tuning->checkpoint_every;
  ASSERT_EQ(static_cast<int>(legs.size()), steps);
  for (const auto& [step, seq] : legs) {
    const std::vector<std::pair<std::string, int>> want{{"embed", client},         {"forward", servers[0]}, {"forward", servers[1]},
                                                        {"loss", client},          {"backward", servers[1]}, {"backward", servers[0]}};
    EXPECT_EQ(seq, want) << "step " << step;
  }
  EXPECT_EQ(bad_prices, 0);
  // Messages: activations forward, gradients back, an empty acknowledgement, checkpoints.
  const double header = sc.overheads.header_bytes;
  int forward = 0, backward = 0, acks = 0, checkpoints = 0;
  for (const TransferSpan& t : transfers) {
    if (t.to == servers[0] && t.from == client) forward += t.bytes == price.activation_bytes() + header;
    if (t.to == servers[1] && t.from == servers[0]) forward += t.bytes == price.activation_bytes() + header;
    if (t.to == servers[1] && t.from == client) backward += t.bytes == price.gradient_bytes() + header;
    if (t.to == servers[0] && t.from == servers[1]) backward += t.bytes == price.gradient_bytes() + header;
    if (t.to == client && t.from == servers[0]) {
      acks += t.bytes == header;
      checkpoints += t.bytes == price.checkpoint_bytes(16) + header;
    }
  }
  EXPECT_EQ(forward, 2 * steps);
  EXPECT_EQ(backward, 2 * steps);
  EXPECT_EQ(acks, steps);
  ASSERT_EQ(static_cast<int>(saved.size()), 2 * (steps / every));
  for (const AdaptersMoved& a : saved) {
    EXPECT_FALSE(a.restored);
    EXPECT_EQ((a.step + 1) % every, 0);
  }
  EXPECT_EQ(checkpoints, steps / every);
  const auto& f = m["fine_tuning"];
  EXPECT_EQ(f["steps"].get<int>(), steps);
  EXPECT_DOUBLE_EQ(f["trained_tokens"].get<double>(), steps * 4.0 * 512);
  EXPECT_EQ(f["checkpoints"]["saved"].get<int>(), 2 * (steps / every));
  EXPECT_EQ(f["checkpoints"]["restored"].get<int>(), 0);
  EXPECT_EQ(m["throughput"]["tokens_generated"].get<int>(), 0);
  for (int s : servers)  // the session's state on each of the server's 16 blocks, nothing else
    EXPECT_DOUBLE_EQ(m["nodes"][s]["kv_peak_bytes"].get<double>(), 16 * training_bytes_per_block(sc));
}

// 3090-b0 fails at 60 s. The sessions on it move to 3090-b1, which restores their adapters of
// blocks 16-31 from the client's last checkpoint: each loses the updates since then. Without
// checkpoints nothing is restored and every update before the failure is lost.
TEST(FineTuning, AFailureRestoresTheLastCheckpointAndLosesTheUpdatesSince) {
  const auto run = [](const std::string& every) { return run_isolated(lora({{"workload.fine_tuning.checkpoint_every", every}}), quiet()).metrics; };
  const auto never = run("0"), rare = run("10");
  const Scenario sc = lora();
  SwarmSimulation sim(sc, make_cost_model(sc));
  std::map<int, int> done, last_saved;  // per session: steps completed, steps covered by the last save of blocks 16-31
  std::vector<std::pair<AdaptersMoved, int>> restores;  // with the updates the test counts as lost
  sim.signals().on_step.connect([&](const StepCompleted& s) { done[s.session] = s.step + 1; });
  sim.signals().on_adapters_moved.connect([&](const AdaptersMoved& a) {
    if (!a.restored && a.blocks.start == 16) last_saved[a.session] = a.step + 1;
    if (a.restored) restores.emplace_back(a, done[a.session] - last_saved[a.session]);
  });
  const auto m = sim.run(quiet()).metrics;
  ASSERT_FALSE(restores.empty());
  const TrainingStep price(sc, *make_cost_model(sc));
  for (const auto& [a, lost] : restores) {
    EXPECT_EQ(a.blocks.start, 16);
    EXPECT_EQ(a.updates_lost, lost) << "session " << a.session;
    EXPECT_DOUBLE_EQ(a.bytes, last_saved[a.session] > 0 ? price.checkpoint_bytes(16) : 0.0);
  }
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 4);
  const auto lost = [](const nlohmann::json& j) { return j["fine_tuning"]["checkpoints"]["updates_lost"].get<int>(); };
  EXPECT_EQ(never["fine_tuning"]["checkpoints"]["saved"].get<int>(), 0);
  EXPECT_DOUBLE_EQ(never["fine_tuning"]["checkpoints"]["restored_bytes"].get<double>(), 0.0);
  EXPECT_GT(never["fine_tuning"]["checkpoints"]["restored"].get<int>(), 0);
  EXPECT_GT(lost(never), lost(rare));
  EXPECT_GE(lost(rare), lost(m));
  // Checkpoints cost bytes: more of them, more traffic.
  EXPECT_GT(m["fine_tuning"]["checkpoints"]["saved_bytes"].get<double>(), rare["fine_tuning"]["checkpoints"]["saved_bytes"].get<double>());
}

// A session whose training state does not fit next to any server's weights is refused at
// admission with the usual reason, as an inference session without KV memory is.
TEST(FineTuning, ASessionThatCannotHoldItsTrainingStateIsRefused) {
  const auto m = run_isolated(lora({kNoFailure, {"workload.prompt_tokens", "8192"}, {"workload.batch_size", "64"},
                                    {"policy.admission_timeout", "\"5s\""}}),
                              quiet())
                     .metrics;
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 0);
  ASSERT_EQ(m["sessions"]["failures"].size(), 4u);
  EXPECT_NE(m["sessions"]["failures"][0]["reason"].get<std::string>().find("no chain"), std::string::npos)
      << m["sessions"]["failures"][0]["reason"];
}

// Split learning (seed 002, eq. 24): the client runs its two blocks forward with their adapters
// before the chain, and, once the first server sends it the gradient of their output, backward;
// the servers train blocks 2-31. Priced as the servers' legs are, on the client's device.
TEST(FineTuning, UnderSplitLearningTheClientTrainsItsOwnBlocks) {
  const auto whole = run_isolated(lora({kNoFailure, {"workload.sessions", "1"}}), quiet()).metrics;  // before SimGrid runs here
  const Scenario sc = lora({kNoFailure, {"workload.sessions", "1"}, {"policy.privacy.client_blocks", "2"}});
  const auto cost = make_cost_model(sc);
  const TrainingStep price(sc, *cost);
  SwarmSimulation sim(sc, cost);
  std::map<int, std::vector<std::pair<std::string, int>>> legs;
  std::vector<ChainFormed> chains;
  std::vector<TransferSpan> transfers;
  int bad_prices = 0;
  const int client = static_cast<int>(sc.nodes.size());
  const auto& client_dev = *sc.clients[0].device;
  sim.signals().on_chain_formed.connect([&](const ChainFormed& c) { chains.push_back(c); });
  sim.signals().on_compute.connect([&](const ComputeSpan& c) {
    legs[c.step].emplace_back(c.what, c.host);
    const std::string what = c.what;
    if (what == "client_forward" || what == "client_backward") {
      const double want = what == "client_forward" ? price.forward_s(client_dev, 2) : price.backward_s(client_dev, 2);
      bad_prices += std::abs(c.device_seconds - want) > 1e-12 * want || c.host != client;
    }
  });
  sim.signals().on_transfer.connect([&](const TransferSpan& t) { transfers.push_back(t); });
  const auto m = sim.run(quiet()).metrics;
  ASSERT_EQ(chains.size(), 1u);
  const std::vector<int>& servers = chains[0].servers;
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(chains[0].ranges[0].start, 2);
  const int steps = sc.workload.fine_tuning->steps;
  for (const auto& [step, seq] : legs) {
    const std::vector<std::pair<std::string, int>> want{{"embed", client},           {"client_forward", client}, {"forward", servers[0]},
                                                        {"forward", servers[1]},     {"loss", client},           {"backward", servers[1]},
                                                        {"backward", servers[0]},    {"client_backward", client}};
    EXPECT_EQ(seq, want) << "step " << step;
  }
  EXPECT_EQ(bad_prices, 0);
  int gradients_to_client = 0;
  for (const TransferSpan& t : transfers)
    gradients_to_client += t.from == servers[0] && t.to == client && t.bytes == price.gradient_bytes() + sc.overheads.header_bytes;
  EXPECT_EQ(gradients_to_client, steps);
  const auto& d = m["fine_tuning"]["device_seconds"];
  EXPECT_NEAR(d["client_forward"].get<double>(), steps * price.forward_s(client_dev, 2), 1e-9);
  EXPECT_NEAR(d["client_backward"].get<double>(), steps * price.backward_s(client_dev, 2), 1e-9);
  EXPECT_FALSE(whole["fine_tuning"]["device_seconds"].contains("client_forward"));
}

// Under split learning a data-parallel job also averages the clients' own blocks: the sessions'
// clients exchange them, one message per pair of sessions on different clients.
TEST(FineTuning, UnderSplitLearningAJobAveragesItsClientsBlocksToo) {
  const Scenario sc = lora({kNoFailure, {"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.sync_every", "3"}, {"policy.privacy.client_blocks", "2"}});
  ASSERT_GE(sc.clients.size(), 2u);  // sessions 0 and 1 come from different clients
  const auto cost = make_cost_model(sc);
  const TrainingStep price(sc, *cost);
  SwarmSimulation sim(sc, cost);
  const int S = static_cast<int>(sc.nodes.size());
  int client_exchanges = 0;
  sim.signals().on_transfer.connect([&](const TransferSpan& t) {
    client_exchanges += t.from >= S && t.to >= S && t.bytes == price.checkpoint_bytes(2) + sc.overheads.header_bytes;
  });
  const auto m = sim.run(quiet()).metrics;
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 4);
  const int meetings = sc.workload.fine_tuning->steps / 3;
  EXPECT_EQ(client_exchanges, 4 * meetings);  // each session's client sends its peer's client blocks 0-1 at each meeting
}

// Sessions 0 and 1 wait for the servers to load and, retrying every second from 0 s and 2 s,
// form their chains at the same instant as session 2 arrives (4.0 s): sessions 0 and 2 get the
// same chain and stay in lockstep. With policy.admission_jitter their retries spread, the three
// start apart, and no pair of sessions ends together (docs/fine-tuning.md, convoys).
TEST(FineTuning, AdmissionJitterBreaksTheConvoyOfACommonStart) {
  const Scenario sc = lora({kNoFailure});
  const auto m0 = run_isolated(sc, quiet()).metrics;  // before SimGrid runs here
  Scenario spread = sc;
  spread.policy.admission_jitter = 0.5;
  SwarmSimulation sim(spread, make_cost_model(spread));
  std::map<int, double> formed, ended;
  sim.signals().on_chain_formed.connect([&](const ChainFormed& c) { formed[c.session] = c.t; });
  sim.signals().on_session_ended.connect([&](const SessionEnded& e) { ended[e.session] = e.t; });
  const auto m = sim.run(quiet()).metrics;
  ASSERT_EQ(formed.size(), 4u);
  EXPECT_NE(formed[0], formed[1]);
  EXPECT_NE(formed[0], 4.0);
  EXPECT_NE(formed[1], 4.0);
  for (int a = 0; a < 4; ++a)
    for (int b = a + 1; b < 4; ++b) EXPECT_GT(std::abs(ended[a] - ended[b]), 1e-6) << "sessions " << a << " and " << b;
  EXPECT_GT(m["fine_tuning"]["trained_tokens_per_s"].get<double>(), m0["fine_tuning"]["trained_tokens_per_s"].get<double>());
}

// Two jobs of two sessions average their adapters every 3 steps on a static swarm. Each session
// takes part in steps / 3 averagings; the sessions of a job leave each one at the same time (the
// second meeting); and what a session's servers send is their adapters of the blocks they share
// with the other session's chain.
TEST(FineTuning, ADataParallelJobAveragesItsAdaptersAtEachMeeting) {
  const auto often = run_isolated(lora({kNoFailure, {"workload.fine_tuning.replicas", "2"}}), quiet()).metrics;  // before SimGrid runs here
  const Scenario sc = lora({kNoFailure, {"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.sync_every", "3"}});
  JobRun run(sc);
  auto& [cost, price, chains, syncs, m] = run;
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 4);
  ASSERT_EQ(syncs.size(), 4u);
  for (int k = 0; k < 4; ++k) {
    const int peer = k ^ 1;  // sessions 0 and 1 form job 0, 2 and 3 job 1
    ASSERT_EQ(syncs[k].size(), 10u) << "session " << k;
    double bytes = 0;
    for (const AdapterExchange& x : adapter_exchanges(chains[k], chains[peer])) bytes += price.checkpoint_bytes(x.blocks.size());
    EXPECT_GT(bytes, 0.0);
    for (std::size_t i = 0; i < syncs[k].size(); ++i) {
      EXPECT_EQ(syncs[k][i].step, 3 * static_cast<int>(i) + 2);
      EXPECT_DOUBLE_EQ(syncs[k][i].bytes, bytes) << "session " << k;
      EXPECT_NEAR(syncs[k][i].t, syncs[peer][i].t, 1e-9) << "sessions " << k << " and " << peer << ", averaging " << i;
    }
  }
  const auto& y = m["fine_tuning"]["sync"];
  EXPECT_EQ(y["averagings"].get<int>(), 40);
  EXPECT_EQ(y["replicas"].get<int>(), 2);
  // Averaging every step costs more than every third.
  EXPECT_GT(often["fine_tuning"]["sync"]["bytes"].get<double>(), y["bytes"].get<double>());
  EXPECT_LT(often["fine_tuning"]["trained_tokens_per_s"].get<double>(), m["fine_tuning"]["trained_tokens_per_s"].get<double>());
}

// ZeRO-1 on the same pairs (seed 002, section 2): a synchronization after every step, each in two
// rounds of 1/2 shards (gradients, then parameters), so a step's messages carry as many bytes as
// one averaging's but pay the meeting twice; and each server holds half of Adam's moments.
TEST(FineTuning, ZeroSynchronizesEveryStepInTwoRoundsOfShards) {
  const Scenario avg_sc = lora({kNoFailure, {"workload.fine_tuning.replicas", "2"}});
  const auto averaged = run_isolated(avg_sc, quiet()).metrics;  // before SimGrid runs here
  const Scenario sc = lora({kNoFailure, {"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.zero", "1"}});
  JobRun run(sc);
  auto& [cost, price, chains, syncs, m] = run;
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 4);
  const int steps = sc.workload.fine_tuning->steps;
  for (int k = 0; k < 4; ++k) {
    double shards = 0, whole = 0;
    for (const AdapterExchange& x : adapter_exchanges(chains[k], chains[k ^ 1])) {
      shards += price.sync_bytes(x.blocks.size(), 2);
      whole += price.checkpoint_bytes(x.blocks.size());
    }
    ASSERT_GT(shards, 0.0);
    EXPECT_DOUBLE_EQ(2 * shards, whole);
    ASSERT_EQ(syncs[k].size(), static_cast<std::size_t>(steps)) << "session " << k;
    for (int i = 0; i < steps; ++i) {
      EXPECT_EQ(syncs[k][static_cast<std::size_t>(i)].step, i);
      EXPECT_DOUBLE_EQ(syncs[k][static_cast<std::size_t>(i)].bytes, 2 * shards) << "session " << k;
    }
  }
  const auto& y = m["fine_tuning"]["sync"];
  EXPECT_EQ(y["zero"].get<int>(), 1);
  EXPECT_EQ(y["averagings"].get<int>(), 4 * steps);
  EXPECT_DOUBLE_EQ(y["bytes"].get<double>(), averaged["fine_tuning"]["sync"]["bytes"].get<double>());
  EXPECT_GT(y["mean_seconds"].get<double>(), averaged["fine_tuning"]["sync"]["mean_seconds"].get<double>());
  // Memory: each server's peak is its sessions' blocks at the smaller training state.
  const double ratio = training_bytes_per_block(sc) / training_bytes_per_block(avg_sc);
  EXPECT_LT(ratio, 1.0);
  for (std::size_t s = 0; s < m["nodes"].size(); ++s) {
    const double was = averaged["nodes"][s]["kv_peak_bytes"].get<double>();
    ASSERT_GT(was, 0.0);
    EXPECT_NEAR(m["nodes"][s]["kv_peak_bytes"].get<double>() / was, ratio, 1e-12) << m["nodes"][s]["name"];
  }
}

// One job of four replicas under ZeRO-1 whose server 3090-b0 fails while the job synchronizes
// after step 6: the senders give a server up once per synchronization (three unanswered attempts),
// not once per message to it, and the job goes on (it was three give-ups, 96 s, before).
TEST(FineTuning, ASynchronizationGivesUpOnADeadServerOnce) {
  const Scenario sc = swarmsim::test::shipped_scenario("fine-tuning/lora-llama3-8b-jobs.json", {{"workload.fine_tuning.loss", "null"},
                                                                                                  {"workload.fine_tuning.replicas", "4"},
                                                                                                  {"workload.fine_tuning.sync_every", "1"},
                                                                                                  {"workload.fine_tuning.zero", "1"}});
  SwarmSimulation sim(sc, make_cost_model(sc));
  std::map<std::pair<int, int>, int> given_up;  // (session, step) -> give-ups
  sim.signals().on_transfer_retried.connect([&](const TransferRetried& r) {
    if (r.given_up) ++given_up[{r.session, r.step}];
  });
  const auto m = sim.run(quiet()).metrics;
  EXPECT_EQ(m["sessions"]["completed"].get<int>(), 4);
  ASSERT_FALSE(given_up.empty());  // the failure did strike during a synchronization
  for (const auto& [at, n] : given_up) EXPECT_EQ(n, 1) << "session " << at.first << ", step " << at.second;
}

// Both servers of blocks 16-31 fail: every session fails, and a session whose job partner failed
// first completes a step its partner never did: its averaging after that step no longer waited
// for the partner.
TEST(FineTuning, ASessionThatFailsLeavesItsJob) {
  const Scenario sc = lora({{"workload.fine_tuning.replicas", "2"},
                            {"events", R"([{"at": "60s", "action": "node_down", "node": "3090-b0"},
                                           {"at": "61s", "action": "node_down", "node": "3090-b1"}])"},
                            {"policy.admission_timeout", "\"20s\""}});
  SwarmSimulation sim(sc, make_cost_model(sc));
  std::map<int, int> steps;
  sim.signals().on_step.connect([&](const StepCompleted& s) { steps[s.session] = s.step + 1; });
  const auto m = sim.run(quiet()).metrics;
  EXPECT_EQ(m["sessions"]["failed"].get<int>(), 4);
  bool went_on_alone = false;
  for (int k = 0; k < 4; ++k) went_on_alone |= steps[k] > steps[k ^ 1];
  EXPECT_TRUE(went_on_alone) << steps[0] << " " << steps[1] << " " << steps[2] << " " << steps[3];
}

// Without checkpoints a lone session's replacement starts its adapters over (25 updates lost on
// the shipped scenario). In a data-parallel job that averages every step, it copies its peer
// replica's adapters instead and loses none.
TEST(FineTuning, APeerReplicaRestoresWhatNoCheckpointHolds) {
  const Override never{"workload.fine_tuning.checkpoint_every", "0"};
  const auto alone = run_isolated(lora({never}), quiet()).metrics;
  const auto job = run_isolated(lora({never, {"workload.fine_tuning.replicas", "2"}}), quiet()).metrics;
  EXPECT_GT(alone["fine_tuning"]["checkpoints"]["updates_lost"].get<int>(), 10);
  const auto& c = job["fine_tuning"]["checkpoints"];
  ASSERT_GT(c["restored"].get<int>(), 0);
  EXPECT_EQ(job["fine_tuning"]["sync"]["restored_from_peers"].get<int>(), c["restored"].get<int>());
  EXPECT_EQ(c["updates_lost"].get<int>(), 0);
  EXPECT_EQ(c["saved"].get<int>(), 0);
}

// workload.fine_tuning.loss follows the run: every session's proxy trains once per completed step,
// each restore the engine signals appears with its source and its lost updates, and a failure
// without checkpoints leaves a loss apart from the run that lost nothing.
TEST(FineTuning, TheLossProxyFollowsTheRunsUpdatesAndRestores) {
  const std::vector<Override> small{{"workload.fine_tuning.steps", "16"},
                                    {"workload.fine_tuning.checkpoint_every", "0"},
                                    {"workload.fine_tuning.loss", R"({"sequences": 1, "tokens": 8})"}};
  // Data-parallel pairs restore from the peer replica.
  std::vector<Override> pairs = small;
  pairs.push_back({"workload.fine_tuning.replicas", "2"});
  const auto job = run_isolated(lora(pairs), quiet()).metrics;
  ASSERT_FALSE(job["fine_tuning"]["loss"]["restores"].empty());
  for (const auto& r : job["fine_tuning"]["loss"]["restores"]) EXPECT_EQ(r["from"], "peer");
  // Without the failure nothing is lost.
  std::vector<Override> calm = small;
  calm.push_back(kNoFailure);
  const auto quiet_run = run_isolated(lora(calm), quiet()).metrics;
  EXPECT_TRUE(quiet_run["fine_tuning"]["loss"]["restores"].empty());
  EXPECT_EQ(quiet_run["fine_tuning"]["loss"]["penalty"].get<double>(), 0.0);
  // In process (after the isolated runs: SimGrid starts once per process), with the signals.
  const Scenario sc = lora(small);
  SwarmSimulation sim(sc, make_cost_model(sc));
  std::map<int, int> updates;
  std::vector<AdaptersMoved> restores;
  sim.signals().on_adapters_updated.connect([&](const AdaptersUpdated& u) { ++updates[u.session]; });
  sim.signals().on_adapters_moved.connect([&](const AdaptersMoved& a) {
    if (a.restored) restores.push_back(a);
  });
  const auto m = sim.run(quiet()).metrics;
  const auto& loss = m["fine_tuning"]["loss"];
  ASSERT_EQ(loss["sessions"].size(), 4u);
  for (const auto& s : loss["sessions"]) EXPECT_EQ(s["updates"].get<int>(), updates[s["session"].get<int>()]);
  ASSERT_FALSE(restores.empty());
  ASSERT_EQ(loss["restores"].size(), restores.size());
  for (std::size_t i = 0; i < restores.size(); ++i) {
    EXPECT_EQ(loss["restores"][i]["session"].get<int>(), restores[i].session);
    EXPECT_EQ(loss["restores"][i]["updates_lost"].get<int>(), restores[i].updates_lost);
    EXPECT_EQ(loss["restores"][i]["from"], "scratch");
  }
  EXPECT_NE(loss["final"], loss["final_if_nothing_lost"]);
  EXPECT_LT(loss["final_if_nothing_lost"].get<double>(), loss["untrained"].get<double>());  // it did learn
}
