// Fine-tuning sessions in scenarios (workload.fine_tuning, seed 002 section 2.4): what the loader
// accepts and refuses, what a training step costs and moves, and the adapters' checkpoint ledger.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gpu/adapter.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/session_plan.hpp"
#include "sim/swarm/training_step.hpp"
#include "tests/sim/scenario_diagnostics.hpp"

using namespace swarmsim::sim;

namespace {

const Override kLora{"workload.fine_tuning", R"({"adapter": "lora", "rank": 16, "targets": ["qkv", "o"], "steps": 10, "checkpoint_every": 5})"};

Scenario shipped(const std::string& rel, std::vector<Override> o = {}) {
  return load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/" + rel, o);
}

std::vector<std::string> errors(const std::string& rel, std::vector<Override> o) { return swarmsim::test::scenario_errors(rel, std::move(o)); }
using swarmsim::test::has_error;

std::string joined(const std::vector<std::string>& errs) {
  std::string s;
  for (const std::string& e : errs) s += "\n  " + e;
  return s;
}

}  // namespace

TEST(FineTuningScenario, ReadsTheAdapterTheOptimizerAndTheCheckpoints) {
  const Scenario sc = shipped("fine-tuning/lora-llama3-8b.json");
  ASSERT_TRUE(sc.workload.fine_tuning);
  const FineTuningSpec& f = *sc.workload.fine_tuning;
  EXPECT_EQ(f.adapter.kind, swarmsim::gpu::AdapterKind::Lora);
  EXPECT_EQ(f.adapter.rank, 16);
  EXPECT_EQ(f.adapter.targets, swarmsim::gpu::kLoraQkv | swarmsim::gpu::kLoraO);
  EXPECT_EQ(f.optimizer, swarmsim::gpu::Optimizer::Adam);
  EXPECT_GT(f.checkpoint_every, 0);
  // Defaults: LoRA of rank 8 on Q, K, V and O, Adam, no checkpoints.
  const Scenario d = shipped("sanity/two_node.json", {{"workload.new_tokens", "null"}, {"workload.fine_tuning", R"({"steps": 3})"}});
  const FineTuningSpec& g = *d.workload.fine_tuning;
  EXPECT_EQ(g.adapter.kind, swarmsim::gpu::AdapterKind::Lora);
  EXPECT_EQ(g.adapter.rank, 8);
  EXPECT_EQ(g.adapter.targets, swarmsim::gpu::kLoraQkv | swarmsim::gpu::kLoraO);
  EXPECT_EQ(g.optimizer, swarmsim::gpu::Optimizer::Adam);
  EXPECT_EQ(g.checkpoint_every, 0);
  EXPECT_EQ(g.steps, 3);
  const Scenario b = shipped("sanity/two_node.json", {{"workload.new_tokens", "null"}, {"workload.fine_tuning", R"({"adapter": "bottleneck", "rank": 64, "steps": 2, "optimizer": "sgd"})"}});
  EXPECT_EQ(b.workload.fine_tuning->adapter.kind, swarmsim::gpu::AdapterKind::Bottleneck);
  EXPECT_EQ(b.workload.fine_tuning->optimizer, swarmsim::gpu::Optimizer::Sgd);
}

TEST(FineTuningScenario, RefusesWhatATrainingSessionCannotDoWithThePathAndTheReason) {
  const std::string two = "sanity/two_node.json";
  const Override no_new{"workload.new_tokens", "null"};
  EXPECT_TRUE(has_error(errors(two, {kLora}), "workload.new_tokens: does not apply to fine-tuning sessions")) << joined(errors(two, {kLora}));
  EXPECT_TRUE(errors(two, {kLora, no_new}).empty()) << joined(errors(two, {kLora, no_new}));
  EXPECT_TRUE(has_error(errors(two, {no_new, {"workload.fine_tuning", R"({"rank": 4})"}}), "workload.fine_tuning.steps: missing"));
  EXPECT_TRUE(has_error(errors(two, {no_new, {"workload.fine_tuning", R"({"steps": 4, "adapter": "bottleneck", "targets": ["o"]})"}}),
                  "workload.fine_tuning.targets: only applies to \"adapter\": \"lora\""));
  EXPECT_TRUE(has_error(errors(two, {no_new, {"workload.fine_tuning", R"({"steps": 4, "targets": ["o", "mlp"]})"}}),
                  "workload.fine_tuning.targets[1]: expected one of \"qkv\", \"o\", \"gate_up\", \"down\", got \"mlp\""));
  EXPECT_TRUE(has_error(errors(two, {no_new, {"workload.fine_tuning", R"({"steps": 4, "targets": []})"}}), "expected a non-empty array"));
  EXPECT_TRUE(has_error(errors(two, {no_new, {"workload.fine_tuning", R"({"steps": 4, "rank": 5000})"}}),
                  "workload.fine_tuning.rank: 5000 is not a low rank for Llama-3-8B (hidden width 4096)"));
  EXPECT_TRUE(has_error(errors(two, {no_new, {"workload.fine_tuning", R"({"steps": 4, "optimizer": "lamb"})"}}), "workload.fine_tuning.optimizer"));
  EXPECT_TRUE(has_error(errors(two, {no_new, {"workload.fine_tuning", R"({"steps": 4, "lr": 0.1})"}}), "workload.fine_tuning.lr: unknown key"));
  const Override ft{"workload.fine_tuning", R"({"steps": 4})"};
  EXPECT_TRUE(has_error(errors(two, {no_new, ft, {"policy.verification.rate", "0.1"}}), "policy.verification: spot checks of generated tokens does not apply"));
  // A dishonest server poisons the training steps through it; a lazy one would skip legs the step prices.
  EXPECT_TRUE(errors(two, {no_new, ft, {"nodes[0].dishonest", R"({"from": "1s"})"}}).empty());
  EXPECT_TRUE(has_error(errors(two, {no_new, ft, {"nodes[0].dishonest", R"({"from": "1s", "lazy": true})"}}),
                        "nodes[0].dishonest.lazy: a lazy cheater skips its work, which does not apply to fine-tuning sessions "
                        "(workload.fine_tuning): a training step's legs are priced whole; remove \"lazy\""));
  // Split learning trains the client's own blocks too (seed 002, eq. 24), with or without noise on what crosses the split.
  EXPECT_TRUE(errors(two, {no_new, ft, {"policy.privacy.client_blocks", "2"}}).empty()) << joined(errors(two, {no_new, ft, {"policy.privacy.client_blocks", "2"}}));
  const auto noisy = errors(two, {no_new, ft, {"policy.privacy", R"({"client_blocks": 2, "differential_privacy": {"epsilon": 8, "delta": 1e-5}})"}});
  EXPECT_TRUE(noisy.empty()) << joined(noisy);
  // A training client holds the embedding and head (2 x 128,256 x 4,096 x 2 B = 1.96 GiB), and its
  // blocks' weights and training state: 16 x (416 MiB + 20.5 MiB) = 6.82 GiB; 8.78 GiB in all.
  const auto small = errors("fine-tuning/lora-llama3-8b.json", {{"policy.privacy.client_blocks", "16"}, {"clients[1].device", "\"GTX-1650\""}});
  EXPECT_TRUE(has_error(small, "policy.privacy.client_blocks: the embedding and LM head of Llama-3-8B (1.96 GiB) and 16 blocks' weights and "
                               "one session's training state need 8.78 GiB on every client, but clients[1] (lab-1, GTX-1650) has 3.50 GiB usable"))
      << joined(small);
  // Sessions may wait for their client's memory, but not a data-parallel job's on one client: they
  // meet at every synchronization. Two replicas of 64 x 512 tokens on one GTX-1650 need 2.77 GiB
  // (embedding, head, 2 blocks) + 2 x 0.52 GiB of training state; at batch 32 they fit.
  const std::string one_gtx = R"([{"name": "lab-0", "device": "GTX-1650", "location": {"lat": 48.86, "lon": 2.35}, "uplink": "500Mbps", "downlink": "500Mbps"}])";
  const auto job = [&](const char* batch) {
    return errors("fine-tuning/lora-llama3-8b-jobs.json", {{"policy.privacy.client_blocks", "2"}, {"clients", one_gtx}, {"workload.batch_size", batch}});
  };
  EXPECT_TRUE(has_error(job("64"), "workload.fine_tuning.replicas: 2 sessions of one job at once on clients[0] (lab-0, GTX-1650) need 3.79 GiB "
                                   "(the embedding, LM head and 2 blocks' weights, and each session's training state of them), but it has "
                                   "3.50 GiB usable: a job's sessions meet at every synchronization"))
      << joined(job("64"));
  EXPECT_TRUE(job("32").empty()) << joined(job("32"));
  EXPECT_TRUE(has_error(errors("tree/fisher-btree-merge.json", {ft}), "workload.fine_tuning: applies to a transformer served as a chain of blocks"));
}

TEST(FineTuningScenario, ReadsTheLossProxyAndRefusesOneThatCannotRun) {
  const std::string two = "sanity/two_node.json";
  const Override no_new{"workload.new_tokens", "null"};
  const Scenario sc = shipped(two, {no_new, {"workload.fine_tuning", R"({"steps": 4, "loss": {"width": 64, "tokens": 8}})"}});
  ASSERT_TRUE(sc.workload.fine_tuning->loss);
  const LossProxySpec& l = *sc.workload.fine_tuning->loss;
  EXPECT_EQ(l.width, 64);
  EXPECT_EQ(l.tokens, 8);
  EXPECT_EQ(l.vocab, 128);
  EXPECT_EQ(l.sequences, 2);
  EXPECT_DOUBLE_EQ(l.learning_rate, 3e-4);  // Adam's default
  EXPECT_DOUBLE_EQ(shipped(two, {no_new, {"workload.fine_tuning", R"({"steps": 4, "optimizer": "sgd", "loss": {}})"}}).workload.fine_tuning->loss->learning_rate,
                   0.03);
  EXPECT_FALSE(shipped(two, {no_new, {"workload.fine_tuning", R"({"steps": 4})"}}).workload.fine_tuning->loss);
  const auto refused = [&](const std::string& ft, const std::string& want) {
    const auto errs = errors(two, {no_new, {"workload.fine_tuning", ft}});
    EXPECT_TRUE(has_error(errs, want)) << ft << ":" << joined(errs);
  };
  refused(R"({"steps": 4, "loss": {"width": 36}})", "workload.fine_tuning.loss.width: expected a multiple of 8");
  refused(R"({"steps": 4, "loss": {"width": 4}})", "workload.fine_tuning.loss.width: expected an integer in [8, 1024]");
  refused(R"({"steps": 4, "rank": 48, "loss": {"width": 32}})", "workload.fine_tuning.rank: 48 is above the loss proxy's width (workload.fine_tuning.loss.width, 32)");
  refused(R"({"steps": 4, "loss": {"learning_rate": 0}})", "workload.fine_tuning.loss.learning_rate: expected a number in (0, 1000]");
  refused(R"({"steps": 4, "loss": {"lr": 0.1}})", "workload.fine_tuning.loss.lr: unknown key");
  refused(R"({"steps": 4, "loss": 3})", "workload.fine_tuning.loss: expected an object");
  const auto moe = errors("table2/mixtral-8x7b-1gbps-rtt5ms.json",
                          {{"workload.new_tokens", "null"}, {"workload.fine_tuning", R"({"steps": 4, "loss": {}})"}});
  EXPECT_TRUE(has_error(moe, "workload.fine_tuning.loss: trains a Llama-style dense proxy")) << joined(moe);
}

TEST(FineTuningScenario, ASessionReservesItsTrainingStateInsteadOfAKvCache) {
  const Scenario sc = shipped("fine-tuning/lora-llama3-8b.json");
  const SessionShape s = session_shape(sc, 0, 0.0);
  // LoRA rank 16 on QKV [6144 x 4096] and O [4096 x 4096]: 16 x (10240 + 8192) = 294,912 parameters,
  // 16 bytes each under Adam, plus the block input of 4 x 512 tokens x 4096 x 2 bytes.
  const double expected = 294912.0 * 16 + 4.0 * 512 * 4096 * 2;
  EXPECT_DOUBLE_EQ(training_bytes_per_block(sc), expected);
  EXPECT_DOUBLE_EQ(s.kv_per_block, expected);
  EXPECT_DOUBLE_EQ(s.request.kv_bytes_per_block(sc.model), expected);
  EXPECT_EQ(s.new_tokens, sc.workload.fine_tuning->steps);
}

TEST(TrainingStep, PricesEachLegFromTheOpsAndSizesEachMessage) {
  const Scenario sc = shipped("fine-tuning/lora-llama3-8b.json");
  const auto cost = make_cost_model(sc);
  const TrainingStep step(sc, *cost);
  const auto& dev = *sc.nodes[0].device;
  const auto& m = sc.model;
  const swarmsim::gpu::BlockWork w{4, 512, 0};
  const auto& a = sc.workload.fine_tuning->adapter;
  const double fwd1 = cost->blocks_seconds(dev, m, w, 1) + cost->ops_seconds(dev, swarmsim::gpu::adapter_forward_ops(m, a, w));
  EXPECT_NEAR(step.forward_s(dev, 16), 16 * fwd1, 1e-12);
  const double bwd16 = 16 * (fwd1 + cost->ops_seconds(dev, swarmsim::gpu::block_backward_ops(m, w)) +
                             cost->ops_seconds(dev, swarmsim::gpu::adapter_backward_ops(m, a, w))) +
                       cost->ops_seconds(dev, swarmsim::gpu::optimizer_ops(16 * 294912.0, swarmsim::gpu::Optimizer::Adam));
  EXPECT_NEAR(step.backward_s(dev, 16), bwd16, 1e-12);
  EXPECT_GT(step.backward_s(dev, 16), 2 * step.forward_s(dev, 16));  // recompute + the frozen backward
  EXPECT_DOUBLE_EQ(step.activation_bytes(), 4.0 * 512 * 4096 * 2);
  EXPECT_DOUBLE_EQ(step.gradient_bytes(), 4.0 * 512 * 4096 * 2);
  EXPECT_DOUBLE_EQ(step.checkpoint_bytes(16), 16 * 294912.0 * 4);
  // Compressed activations halve on the wire; gradients never are.
  const Scenario q = shipped("fine-tuning/lora-llama3-8b.json", {{"policy.compression.hidden_states", "\"blockwise8\""}});
  const TrainingStep compressed(q, *cost);
  EXPECT_NEAR(compressed.activation_bytes() / step.activation_bytes(), (1.0 + 4.0 / 64) / 2, 1e-12);
  EXPECT_DOUBLE_EQ(compressed.gradient_bytes(), step.gradient_bytes());
}

TEST(AdapterLedger, CountsTheUpdatesAReplacementLosesSinceTheLastCheckpoint) {
  AdapterLedger ledger(8, 3);
  EXPECT_FALSE(ledger.checkpoint_due(0));
  EXPECT_FALSE(ledger.checkpoint_due(1));
  EXPECT_TRUE(ledger.checkpoint_due(2));
  EXPECT_TRUE(ledger.checkpoint_due(5));
  for (int i = 0; i < 3; ++i) ledger.updated(BlockRange{0, 8});
  ledger.saved(BlockRange{0, 4});  // the server of blocks 4-7 failed to send its adapters
  ledger.updated(BlockRange{0, 8});
  ledger.updated(BlockRange{0, 8});
  const AdapterLedger::Restore first = ledger.restore(BlockRange{2, 6});
  EXPECT_EQ(first.checkpointed_blocks, 2);  // blocks 2 and 3 have a checkpoint, 4 and 5 start over
  EXPECT_EQ(first.updates_lost, 5);         // blocks 4-5 lose all five updates
  const AdapterLedger::Restore again = ledger.restore(BlockRange{2, 4});
  EXPECT_EQ(again.updates_lost, 0);  // restored just now
  const AdapterLedger::Restore other = ledger.restore(BlockRange{0, 2});
  EXPECT_EQ(other.checkpointed_blocks, 2);
  EXPECT_EQ(other.updates_lost, 2);
  AdapterLedger never(4, 0);
  for (int step = 0; step < 10; ++step) EXPECT_FALSE(never.checkpoint_due(step));
}

// In a data-parallel job, a replacement copies a peer replica's adapters: it loses only the
// session's own updates since the job's last averaging, and the client's checkpoint stays as old.
TEST(AdapterLedger, APeerReplicaGivesBackAllButTheUpdatesSinceTheLastAveraging) {
  AdapterLedger ledger(4, 10);
  for (int i = 0; i < 4; ++i) ledger.updated(BlockRange{0, 4});
  ledger.synced(BlockRange{0, 4});
  ledger.updated(BlockRange{0, 4});
  EXPECT_EQ(ledger.restore_from_peer(BlockRange{2, 4}), 1);
  EXPECT_EQ(ledger.restore_from_peer(BlockRange{2, 4}), 0);
  EXPECT_EQ(ledger.restore(BlockRange{0, 4}).updates_lost, 5);  // no checkpoint yet: everything since the start
}

TEST(AdapterExchanges, APeerChainThatHoldsEveryBlockGivesThemBackOneMessagePerHop) {
  // The peer's chain: server 2 on 0-9, server 3 on 10-19, server 1 on 20-31.
  const Chain peer{{{2, {0, 10}}, {3, {10, 20}}, {1, {20, 32}}}};
  const auto copies = peer_copies(peer, 1, BlockRange{8, 32});  // replacement server 1 takes 8-31
  ASSERT_TRUE(copies);
  const std::vector<AdapterExchange> want{{2, 1, {8, 10}}, {3, 1, {10, 20}}};  // 20-31: server 1 copies its own
  EXPECT_EQ(*copies, want);
  const Chain partial{{{2, {0, 10}}}};
  EXPECT_FALSE(peer_copies(partial, 1, BlockRange{8, 32}));  // the peer lacks blocks 10-31
}

TEST(FineTuningScenario, DataParallelJobsNeedWholeJobsAndSyncOnlyWithReplicas) {
  const std::string rel = "fine-tuning/lora-llama3-8b.json";  // 4 sessions
  EXPECT_TRUE(errors(rel, {{"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.sync_every", "3"}}).empty());
  const Scenario sc = shipped(rel, {{"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.sync_every", "3"}});
  EXPECT_EQ(sc.workload.fine_tuning->replicas, 2);
  EXPECT_EQ(sc.workload.fine_tuning->sync_every, 3);
  EXPECT_EQ(sc.workload.fine_tuning->job_of(0), 0);
  EXPECT_EQ(sc.workload.fine_tuning->job_of(1), 0);
  EXPECT_EQ(sc.workload.fine_tuning->job_of(3), 1);
  EXPECT_TRUE(has_error(errors(rel, {{"workload.fine_tuning.replicas", "3"}}),
                  "workload.fine_tuning.replicas: 3 sessions per job do not divide workload.sessions (4)"));
  EXPECT_TRUE(has_error(errors(rel, {{"workload.fine_tuning.sync_every", "2"}}), "workload.fine_tuning.sync_every: only applies to data-parallel jobs"));
}

TEST(AdapterExchanges, ServersSendTheBlocksTheyShareWithTheOtherChain) {
  // mine: server 0 on 0-15, server 1 on 16-31; the peer: server 2 on 0-9, server 3 on 10-19, server 1 on 20-31.
  const Chain mine{{{0, {0, 16}}, {1, {16, 32}}}};
  const Chain peer{{{2, {0, 10}}, {3, {10, 20}}, {1, {20, 32}}}};
  const std::vector<AdapterExchange> x = adapter_exchanges(mine, peer);
  const std::vector<AdapterExchange> want{{0, 2, {0, 10}}, {0, 3, {10, 16}}, {1, 3, {16, 20}}};  // server 1 keeps 20-31: it is in both
  EXPECT_EQ(x, want);
  // The other way round: the same pairs, reversed.
  const std::vector<AdapterExchange> back{{2, 0, {0, 10}}, {3, 0, {10, 16}}, {3, 1, {16, 20}}};
  EXPECT_EQ(adapter_exchanges(peer, mine), back);
  EXPECT_TRUE(adapter_exchanges(mine, mine).empty());
}

// ZeRO (seed 002, section 2): stages 1 and 2 need a data-parallel job that synchronizes every step.
TEST(FineTuningScenario, ZeroNeedsReplicasAndASynchronizationEveryStep) {
  const std::string rel = "fine-tuning/lora-llama3-8b.json";  // 4 sessions
  const Scenario sc = shipped(rel, {{"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.zero", "2"}});
  EXPECT_EQ(sc.workload.fine_tuning->zero, 2);
  EXPECT_EQ(sc.workload.fine_tuning->sync_every, 1);
  EXPECT_EQ(shipped(rel).workload.fine_tuning->zero, 0);
  EXPECT_TRUE(has_error(errors(rel, {{"workload.fine_tuning.zero", "1"}}),
                        "workload.fine_tuning.zero: partitions the optimizer state across a data-parallel job's replicas: it needs \"replicas\" above 1"));
  const auto every = errors(rel, {{"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.zero", "1"}, {"workload.fine_tuning.sync_every", "5"}});
  EXPECT_TRUE(has_error(every, "workload.fine_tuning.sync_every: ZeRO (\"zero\": 1) applies the job's mean gradient every step")) << joined(every);
  const auto three = errors(rel, {{"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.zero", "3"}});
  EXPECT_TRUE(has_error(three, "workload.fine_tuning.zero")) << joined(three);
  EXPECT_TRUE(has_error(errors(rel, {{"workload.fine_tuning.replicas", "2"}, {"workload.fine_tuning.zero", "\"1\""}}), "workload.fine_tuning.zero"));
}

// Per adapter parameter a server holds its FP32 value and gradient and Adam's two FP32 moments;
// ZeRO-1 keeps 1/R of the moments, ZeRO-2 1/R of the gradient too. Worked by hand for R = 4.
TEST(FineTuningScenario, ZeroHoldsAShareOfTheOptimizerStateAndTheGradients) {
  const std::string rel = "fine-tuning/lora-llama3-8b.json";
  const double params = 294912.0, saved_input = 4.0 * 512 * 4096 * 2;
  const auto held = [&](const char* zero, const char* optimizer) {
    return training_bytes_per_block(shipped(rel, {{"workload.fine_tuning.replicas", "4"}, {"workload.fine_tuning.zero", zero},
                                                  {"workload.fine_tuning.optimizer", optimizer}}));
  };
  EXPECT_DOUBLE_EQ(held("0", "\"adam\""), params * (4 + 4 + 8) + saved_input);
  EXPECT_DOUBLE_EQ(held("1", "\"adam\""), params * (4 + 4 + 8.0 / 4) + saved_input);
  EXPECT_DOUBLE_EQ(held("2", "\"adam\""), params * (4 + 4.0 / 4 + 8.0 / 4) + saved_input);
  EXPECT_DOUBLE_EQ(held("1", "\"sgd\""), params * (4 + 4) + saved_input);  // SGD keeps no state to split
  EXPECT_DOUBLE_EQ(held("2", "\"sgd\""), params * (4 + 4.0 / 4) + saved_input);
}

// An averaging sends each shared block's adapters once; ZeRO sends a 1/R shard twice (the gradient's,
// then the updated parameters'), and its server updates only its shard.
TEST(TrainingStep, ZeroSendsShardsInTwoRoundsAndUpdatesOneShard) {
  const std::string rel = "fine-tuning/lora-llama3-8b.json";
  const Scenario avg = shipped(rel, {{"workload.fine_tuning.replicas", "4"}});
  const Scenario zero = shipped(rel, {{"workload.fine_tuning.replicas", "4"}, {"workload.fine_tuning.zero", "1"}});
  const auto cost = make_cost_model(avg);
  const TrainingStep a(avg, *cost), z(zero, *cost);
  EXPECT_EQ(a.sync_rounds(), 1);
  EXPECT_EQ(z.sync_rounds(), 2);
  EXPECT_DOUBLE_EQ(a.sync_bytes(16, 4), 16 * 294912.0 * 4);
  EXPECT_DOUBLE_EQ(z.sync_bytes(16, 4), 16 * 294912.0 * 4 / 4);
  EXPECT_DOUBLE_EQ(z.sync_bytes(16, 3), 16 * 294912.0 * 4 / 3);  // a replica that left: the others split its shard
  const auto& dev = *avg.nodes[0].device;
  const double full = cost->ops_seconds(dev, swarmsim::gpu::optimizer_ops(16 * 294912.0, swarmsim::gpu::Optimizer::Adam));
  const double shard = cost->ops_seconds(dev, swarmsim::gpu::optimizer_ops(16 * 294912.0 / 4, swarmsim::gpu::Optimizer::Adam));
  EXPECT_GT(full, shard);
  EXPECT_NEAR(a.backward_s(dev, 16) - z.backward_s(dev, 16), full - shard, 1e-12);
}
