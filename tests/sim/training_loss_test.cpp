// workload.fine_tuning.loss: the replay of a run's adapter events on the proxy. Each event does to
// the values what it says: an update trains, a restore gives back the checkpoint (or the starting
// adapters, or a peer's), an averaging leaves every replica at the mean, and the run that lost
// nothing ignores the restores.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "sim/metrics/training_loss.hpp"
#include "sim/privacy/gaussian_mechanism.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/sim/scenario_diagnostics.hpp"

using namespace swarmsim::sim;
using swarmsim::gpu::BlockAdapters;
using swarmsim::gpu::FineTuningProxy;

namespace {

/// The shipped LoRA scenario with a loss proxy (and `more` overrides), at 4 blocks so that a step
/// takes milliseconds.
Scenario scenario(const std::string& loss = "{}", std::vector<Override> more = {}) {
  more.insert(more.begin(), Override{"workload.fine_tuning.loss", loss});
  Scenario sc = load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/fine-tuning/lora-llama3-8b.json", more);
  sc.model.n_layers = 4;
  return sc;
}

std::vector<double> flat(const BlockAdapters& b) {
  std::vector<double> v;
  for (const std::vector<double>* t : b.parameters()) v.insert(v.end(), t->begin(), t->end());
  return v;
}

std::vector<double> flat(const FineTuningProxy::Adapters& a, int block) { return flat(a.blocks[static_cast<std::size_t>(block)]); }

AdaptersMoved saved(int session, int step, BlockRange blocks) { return AdaptersMoved{0, session, step, 0, blocks, 1.0, false, 0}; }
AdaptersMoved restored(int session, int step, BlockRange blocks, int lost) { return AdaptersMoved{0, session, step - 1, 1, blocks, 1.0, true, lost}; }

}  // namespace

TEST(TrainingLoss, UpdatesTrainTheSessionsOwnAdaptersOnItsOwnData) {
  const Scenario sc = scenario();
  TrainingLoss loss(sc);
  loss.updated({0, 0, 0});
  loss.updated({0, 1, 0});
  loss.updated({0, 0, 1});
  ASSERT_EQ(loss.step_losses(0).size(), 2u);
  ASSERT_EQ(loss.step_losses(1).size(), 1u);
  EXPECT_NE(loss.step_losses(0)[0], loss.step_losses(1)[0]);  // different batches
  EXPECT_NE(flat(loss.adapters(0, false), 0), flat(loss.proxy().initial(), 0));
  // The same steps replayed alone on a fresh proxy give the same values: nothing else touched session 0.
  TrainingLoss alone(sc);
  alone.updated({0, 0, 0});
  alone.updated({0, 0, 1});
  EXPECT_EQ(flat(alone.adapters(0, false), 2), flat(loss.adapters(0, false), 2));
  EXPECT_EQ(alone.step_losses(0), loss.step_losses(0));
}

TEST(TrainingLoss, ARestoreGivesBackTheCheckpointAndTheRunThatLostNothingKeepsItsAdapters) {
  TrainingLoss loss(scenario());
  loss.updated({0, 0, 0});
  loss.moved(saved(0, 0, {0, 2}));
  loss.moved(saved(0, 0, {2, 4}));
  const std::vector<double> at_save = flat(loss.adapters(0, false), 1);
  loss.updated({0, 0, 1});
  loss.updated({0, 0, 2});
  const std::vector<double> block3 = flat(loss.adapters(0, false), 3), block1 = flat(loss.adapters(0, false), 1);
  loss.moved(restored(0, 3, {0, 2}, 2));
  EXPECT_EQ(flat(loss.adapters(0, false), 1), at_save);  // the checkpoint's
  EXPECT_EQ(flat(loss.adapters(0, false), 3), block3);   // the other server's blocks keep theirs
  EXPECT_EQ(flat(loss.adapters(0, true), 1), block1);    // nothing lost
  loss.updated({0, 0, 3});
  EXPECT_NE(flat(loss.adapters(0, false), 3), flat(loss.adapters(0, true), 3));  // they now train apart
  EXPECT_NE(loss.held_out(0, false), loss.held_out(0, true));
  const nlohmann::json j = loss.to_json();
  ASSERT_EQ(j["restores"].size(), 1u);
  EXPECT_EQ(j["restores"][0]["from"], "checkpoint");
  EXPECT_EQ(j["restores"][0]["updates_lost"], 2);
  EXPECT_EQ(j["restores"][0]["blocks"], nlohmann::json::array({0, 2}));
  EXPECT_DOUBLE_EQ(j["final"].get<double>(), loss.held_out(0, false));
  EXPECT_DOUBLE_EQ(j["final_if_nothing_lost"].get<double>(), loss.held_out(0, true));
  EXPECT_DOUBLE_EQ(j["penalty"].get<double>(), loss.held_out(0, false) - loss.held_out(0, true));
}

TEST(TrainingLoss, WithoutACheckpointARestoredServerStartsOverAndLosesItsOptimizerMoments) {
  TrainingLoss loss(scenario());
  loss.updated({0, 0, 0});
  loss.updated({0, 0, 1});
  loss.moved(restored(0, 2, {2, 4}, 2));
  EXPECT_EQ(flat(loss.adapters(0, false), 2), flat(loss.proxy().initial(), 2));
  EXPECT_EQ(loss.adapters(0, false).moments[2][0].step, 0);
  EXPECT_EQ(loss.adapters(0, false).moments[0][0].step, 2);
  EXPECT_EQ(loss.to_json()["restores"][0]["from"], "scratch");
}

TEST(TrainingLoss, AnAveragingLeavesEveryReplicaAtTheMeanOnceAllHaveArrived) {
  TrainingLoss loss(scenario());
  loss.updated({0, 0, 0});
  loss.updated({0, 1, 0});
  const std::vector<double> a = flat(loss.adapters(0, false), 1), b = flat(loss.adapters(1, false), 1);
  ASSERT_NE(a, b);
  loss.synced(AdaptersSynced{0, 0, 0, 1.0, 0.0, 0, 2});
  EXPECT_EQ(flat(loss.adapters(0, false), 1), a);  // waits for the other replica
  loss.synced(AdaptersSynced{0, 1, 0, 1.0, 0.0, 0, 2});
  const std::vector<double> got0 = flat(loss.adapters(0, false), 1), got1 = flat(loss.adapters(1, false), 1);
  EXPECT_EQ(got0, got1);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(got0[i], (a[i] + b[i]) / 2);
}

TEST(TrainingLoss, APeerRestoreCopiesThePeersAdapters) {
  TrainingLoss loss(scenario());
  loss.updated({0, 0, 0});
  loss.updated({0, 1, 0});
  loss.updated({0, 1, 1});
  AdaptersMoved m = restored(0, 1, {0, 2}, 1);
  m.from_peer = true;
  m.peer = 1;
  loss.moved(m);
  EXPECT_EQ(flat(loss.adapters(0, false), 0), flat(loss.adapters(1, false), 0));
  EXPECT_NE(flat(loss.adapters(0, false), 3), flat(loss.adapters(1, false), 3));
  EXPECT_EQ(loss.to_json()["restores"][0]["from"], "peer");
}

TEST(TrainingLoss, ARunThatLosesNothingReportsNoPenalty) {
  TrainingLoss loss(scenario());
  for (int s = 0; s < 3; ++s) loss.updated({0, 0, s});
  const nlohmann::json j = loss.to_json();
  EXPECT_EQ(j["restores"].size(), 0u);
  EXPECT_EQ(j["final"], j["final_if_nothing_lost"]);
  EXPECT_EQ(j["penalty"], 0.0);
  EXPECT_EQ(j["mean_by_step"].size(), 3u);
  EXPECT_EQ(j["proxy"]["blocks"], 4);
}

TEST(TrainingLoss, ARestoreRecordsItsJumpAndTheUpdatesThatWonItBack) {
  TrainingLoss loss(scenario());
  for (int s = 0; s < 8; ++s) loss.updated({0, 0, s});
  const double before = loss.held_out(0, false);
  loss.moved(restored(0, 8, {0, 4}, 8));  // every block starts over
  const double after = loss.held_out(0, false);
  EXPECT_DOUBLE_EQ(after, loss.untrained());
  ASSERT_GT(after, before);
  int won_back = -1;
  for (int s = 8; s < 24; ++s) {
    loss.updated({0, 0, s});
    if (won_back < 0 && loss.held_out(0, false) <= before) won_back = s - 7;
  }
  const nlohmann::json r = loss.to_json()["restores"][0];
  EXPECT_DOUBLE_EQ(r["held_out_before"].get<double>(), before);
  EXPECT_DOUBLE_EQ(r["held_out_after"].get<double>(), after);
  EXPECT_EQ(r["step"], 8);
  if (won_back < 0)
    EXPECT_TRUE(r["updates_to_recover"].is_null());
  else
    EXPECT_EQ(r["updates_to_recover"].get<int>(), won_back);
  EXPECT_GT(won_back, 0) << "sixteen updates win back eight";
}

namespace {

/// The 4-block proxy scenario as data-parallel pairs under ZeRO-1.
Scenario zero_pairs() { return scenario("{}", {{"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.zero", "1"}}); }

std::vector<double> moments(const FineTuningProxy::Adapters& a, int block) {
  std::vector<double> v;
  for (const auto& s : a.moments[static_cast<std::size_t>(block)]) v.insert(v.end(), s.m.begin(), s.m.end());
  return v;
}

}  // namespace

// ZeRO (seed 002, section 2): an update only computes the session's gradient; once every replica
// met, each applies eq. 7 (Adam) to the job's mean gradient, so the replicas stay equal. Checked
// against the same arithmetic done by hand on a second proxy.
TEST(TrainingLoss, UnderZeroEveryReplicaStepsOnTheJobsMeanGradient) {
  const Scenario sc = zero_pairs();
  TrainingLoss loss(sc);
  loss.updated({0, 0, 0});
  loss.updated({0, 1, 0});
  EXPECT_EQ(flat(loss.adapters(0, false), 2), flat(loss.proxy().initial(), 2));  // nothing applied before the meeting
  ASSERT_EQ(loss.step_losses(1).size(), 1u);
  loss.synced(AdaptersSynced{0, 0, 0, 1.0, 0.0, 0, 2});
  EXPECT_EQ(flat(loss.adapters(0, false), 2), flat(loss.proxy().initial(), 2));  // waits for the other replica
  loss.synced(AdaptersSynced{0, 1, 0, 1.0, 0.0, 0, 2});

  FineTuningProxy by_hand(sc.model, sc.workload.fine_tuning->adapter, sc.workload.fine_tuning->optimizer, swarmsim::gpu::ProxyConfig{}, sc.seed);
  FineTuningProxy::Adapters a = by_hand.initial(), b = by_hand.initial();
  const auto tokens0 = by_hand.batch(0, 0), tokens1 = by_hand.batch(1, 0);
  EXPECT_DOUBLE_EQ(by_hand.gradient(a, tokens0, by_hand.teacher(tokens0)), loss.step_losses(0)[0]);
  by_hand.gradient(b, tokens1, by_hand.teacher(tokens1));
  for (std::size_t blk = 0; blk < a.blocks.size(); ++blk) {
    auto ta = a.blocks[blk].tensors(), tb = b.blocks[blk].tensors();
    for (std::size_t t = 0; t < ta.size(); ++t)
      for (std::size_t i = 0; i < ta[t].second->size(); ++i) (*ta[t].second)[i] = ((*ta[t].second)[i] + (*tb[t].second)[i]) / 2;
  }
  by_hand.apply(a);
  for (int blk = 0; blk < 4; ++blk) {
    EXPECT_EQ(flat(loss.adapters(0, false), blk), flat(a, blk)) << "block " << blk;
    EXPECT_EQ(flat(loss.adapters(1, false), blk), flat(a, blk)) << "block " << blk;
  }
  EXPECT_NE(flat(a, 2), flat(by_hand.initial(), 2));
}

// Under ZeRO a failed server held the job's only copy of its session's shard of the moments: a
// peer restore gives back the adapters whole, and every replica's moments of that shard restart
// (the other shard is kept), so the replicas still step alike afterwards.
TEST(TrainingLoss, UnderZeroARestoreRestartsTheLostShardOfTheJobsMoments) {
  TrainingLoss loss(zero_pairs());
  for (int step = 0; step < 2; ++step) {
    loss.updated({0, 0, step});
    loss.updated({0, 1, step});
    loss.synced(AdaptersSynced{0, 0, step, 1.0, 0.0, 0, 2});
    loss.synced(AdaptersSynced{0, 1, step, 1.0, 0.0, 0, 2});
  }
  const std::vector<double> before = moments(loss.adapters(0, false), 0);
  ASSERT_EQ(before, moments(loss.adapters(1, false), 0));
  AdaptersMoved m = restored(1, 2, {0, 2}, 0);
  m.from_peer = true;
  m.peer = 0;
  loss.moved(m);
  const std::vector<double> after0 = moments(loss.adapters(0, false), 0), after1 = moments(loss.adapters(1, false), 0);
  EXPECT_EQ(after0, after1);
  // Each tensor's second half is session 1's shard: zero now; the first half is kept. Over the
  // block's tensors, some of each half moved from 0 before.
  const auto& states = loss.adapters(0, false).moments[0];
  std::size_t at = 0;
  int kept = 0, cleared = 0;
  for (const auto& s : states) {
    const std::size_t n = s.m.size();
    for (std::size_t i = 0; i < n; ++i, ++at) {
      if (i < n / 2) {
        EXPECT_EQ(after0[at], before[at]);
        kept += before[at] != 0.0;
      } else {
        EXPECT_EQ(after0[at], 0.0);
        cleared += before[at] != 0.0;
      }
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(cleared, 0);
  EXPECT_EQ(moments(loss.adapters(0, false), 3), moments(loss.adapters(1, false), 3));  // blocks not restored keep all
  loss.updated({0, 0, 2});
  loss.updated({0, 1, 2});
  loss.synced(AdaptersSynced{0, 0, 2, 1.0, 0.0, 0, 2});
  loss.synced(AdaptersSynced{0, 1, 2, 1.0, 0.0, 0, 2});
  for (int blk = 0; blk < 4; ++blk) EXPECT_EQ(flat(loss.adapters(0, false), blk), flat(loss.adapters(1, false), blk)) << "block " << blk;
}

// Split learning under differential privacy: the proxy releases its client blocks' output through
// the scenario's noise at its own width (the clip norm scaled by sqrt(32 / 4096), sigma per element
// kept), and the held-out loss is measured through that release, as served.
TEST(TrainingLoss, SplitLearningsNoiseReachesTheProxyAtItsWidth) {
  const Scenario sc = scenario("{}", {{"policy.privacy", R"({"client_blocks": 2, "differential_privacy": {"epsilon": 100}})"}});
  const TrainingLoss noisy(sc);
  const auto& c = noisy.proxy().config();
  EXPECT_EQ(c.release_after, 2);
  EXPECT_DOUBLE_EQ(c.clip_norm, std::sqrt(4096.0) * std::sqrt(32.0 / 4096.0));
  EXPECT_DOUBLE_EQ(c.noise_sigma, gaussian_mechanism_sigma(100, 1e-5, 2 * std::sqrt(4096.0)));
  EXPECT_TRUE(noisy.proxy().noisy());
  EXPECT_NE(noisy.to_json()["metric"].get<std::string>().find("differential-privacy noise"), std::string::npos);
  const TrainingLoss clean(scenario());  // the same 4 blocks, no split
  EXPECT_FALSE(clean.proxy().noisy());
  EXPECT_GT(noisy.untrained(), 2 * clean.untrained());  // the noise norm is about 12 times the clip
}
