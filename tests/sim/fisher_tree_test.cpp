// The Fisher B-tree's pure parts (seed 000): the task, a node's decision, the Fisher trace, the
// adaptive threshold, the split and merge rules and failures, against values worked out by hand;
// and a tree run's failover bookkeeping.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gpu/device_catalog.hpp"
#include "sim/tree/fisher_tree.hpp"
#include "sim/tree/tree_run.hpp"

namespace swarmsim::sim {
namespace {

FisherTreeSpec small_spec() {
  FisherTreeSpec s;
  s.classes = 8;
  s.dim = 16;
  s.noise = 1.0;
  s.separation = 3.0;
  s.order = 4;
  s.initial_children = 2;
  s.threshold = 0.9;
  s.alpha = 0.5;
  s.split_fisher = 10;
  s.split_load = 1.2;
  s.merge_fisher = 2;
  s.min_samples = 5;
  return s;
}

/// A decision for record_visit with a chosen Fisher term and answer.
NodeDecision decided(double fisher_term, int argmax, bool exits = true) {
  NodeDecision d;
  d.in_range = true;
  d.fisher_term = fisher_term;
  d.argmax = argmax;
  d.exits = exits;
  return d;
}

/// Node `id` sees `visits` in-range requests, each with Fisher term `fisher` and answer `argmax`,
/// and keeps its server busy `busy_s` in all.
void feed(FisherTree& t, int id, int visits, double fisher, int argmax, double busy_s) {
  for (int v = 0; v < visits; ++v) t.record_visit(id, decided(fisher, argmax));
  t.add_busy(id, busy_s);
}

TEST(TreeTask, ClassesFollowTheirZipfPopularityAndLooksAreNoisyMeans) {
  FisherTreeSpec s = small_spec();
  s.class_skew = 1.0;
  const TreeTask task(s, 3);
  double h = 0;
  for (int y = 0; y < s.classes; ++y) h += 1.0 / (y + 1);
  EXPECT_NEAR(task.popularity(0), 1.0 / h, 1e-12);
  EXPECT_NEAR(task.popularity(3), 0.25 / h, 1e-12);
  std::vector<int> count(static_cast<std::size_t>(s.classes), 0);
  const int n = 40000;
  for (int r = 0; r < n; ++r) ++count[static_cast<std::size_t>(task.class_of(static_cast<std::uint64_t>(r)))];
  for (int y = 0; y < s.classes; ++y) {
    const double p = task.popularity(y), se = std::sqrt(p * (1 - p) / n);
    EXPECT_NEAR(count[static_cast<std::size_t>(y)] / static_cast<double>(n), p, 5 * se) << "class " << y;
  }
  // Every mean has the separation as its norm; looks average to the mean with variance σ².
  for (int y = 0; y < s.classes; ++y) EXPECT_NEAR(task.mean_norm2(y), 9.0, 1e-9);
  double mean0 = 0, var0 = 0;
  const int looks = 4000;
  for (int j = 0; j < looks; ++j) {
    std::vector<double> x(static_cast<std::size_t>(s.dim), 0.0);
    task.add_look(7, j, 2, x.data());
    mean0 += x[0];
    var0 += (x[0] - task.mean(2)[0]) * (x[0] - task.mean(2)[0]);
  }
  EXPECT_NEAR(mean0 / looks, task.mean(2)[0], 5.0 / std::sqrt(looks));
  EXPECT_NEAR(var0 / looks, 1.0, 0.1);
  // Same request, same look: the same values (determinism).
  std::vector<double> a(static_cast<std::size_t>(s.dim), 0.0), b = a;
  task.add_look(11, 1, 5, a.data());
  task.add_look(11, 1, 5, b.data());
  EXPECT_EQ(a, b);
}

TEST(FisherTree, ANodesHeadIsTheBayesPosteriorOverItsKeysAndItsFisherTermIsTheGradientNorm) {
  const FisherTreeSpec s = small_spec();
  const TreeTask task(s, 5);
  const FisherTree tree(s, task, {0, 1, 2});
  ASSERT_EQ(tree.nodes().size(), 3u);
  EXPECT_EQ(tree.node(1).keys, (KeyRange{0, 4}));
  EXPECT_EQ(tree.node(2).keys, (KeyRange{4, 8}));
  // A hidden state halfway between class 1 and class 6 after 3 looks, true class 1.
  std::vector<double> h(static_cast<std::size_t>(s.dim));
  for (int i = 0; i < s.dim; ++i) h[static_cast<std::size_t>(i)] = 0.55 * task.mean(1)[i] + 0.45 * task.mean(6)[i];
  const int looks = 3;
  // Leaf 1 (keys 0..3): the posterior by hand.
  std::vector<double> z;
  for (int y = 0; y < 4; ++y) {
    double dot = 0;
    for (int i = 0; i < s.dim; ++i) dot += task.mean(y)[i] * h[static_cast<std::size_t>(i)];
    z.push_back(looks * (dot - 0.5 * task.mean_norm2(y)));
  }
  double zmax = *std::max_element(z.begin(), z.end()), sum = 0;
  for (double v : z) sum += std::exp(v - zmax);
  std::vector<double> p;
  for (double v : z) p.push_back(std::exp(v - zmax) / sum);
  const NodeDecision d = tree.decide(1, h.data(), looks, 1);
  EXPECT_EQ(d.argmax, static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin()));
  EXPECT_NEAR(d.confidence, *std::max_element(p.begin(), p.end()), 1e-12);
  EXPECT_TRUE(d.exits) << "a leaf always answers";
  EXPECT_TRUE(d.in_range);
  EXPECT_NEAR(d.log_p, std::max(kMinLogP, std::log(p[1])), 1e-9);
  double h2 = 0, g = 0;
  for (double v : h) h2 += v * v;
  for (int y = 0; y < 4; ++y) g += ((y == 1 ? 1.0 : 0.0) - p[static_cast<std::size_t>(y)]) * ((y == 1 ? 1.0 : 0.0) - p[static_cast<std::size_t>(y)]);
  EXPECT_NEAR(d.fisher_term, g * (h2 + 1.0), 1e-9 * g * (h2 + 1.0) + 1e-12);
  // A class outside the leaf's keys: no Fisher term, log p at the floor.
  const NodeDecision out = tree.decide(1, h.data(), looks, 6);
  EXPECT_FALSE(out.in_range);
  EXPECT_EQ(out.fisher_term, 0.0);
  EXPECT_EQ(out.log_p, kMinLogP);
}

// initial_children 1: the root alone serves every key, on the one server a run places (the
// constructor read a second server for the leaf it then dropped; found by ScenarioFuzz).
TEST(FisherTree, OneInitialChildIsARootAloneOnOneServer) {
  FisherTreeSpec s = small_spec();
  s.initial_children = 1;
  const TreeTask task(s, 5);
  const FisherTree tree(s, task, {7});
  ASSERT_EQ(tree.nodes().size(), 1u);
  EXPECT_EQ(tree.node(0).server, 7);
  EXPECT_EQ(tree.node(0).keys, (KeyRange{0, 8}));
  EXPECT_TRUE(tree.node(0).children.empty());
}

TEST(FisherTree, TheRootExitsWhenConfidentAndOtherwiseRoutesToTheChildHoldingMostProbability) {
  const FisherTreeSpec s = small_spec();
  const TreeTask task(s, 5);
  const FisherTree tree(s, task, {0, 1, 2});
  std::vector<double> h(static_cast<std::size_t>(s.dim));
  // Exactly on class 6's mean after many looks: confident, answers 6 at the root.
  for (int i = 0; i < s.dim; ++i) h[static_cast<std::size_t>(i)] = task.mean(6)[i];
  const NodeDecision sure = tree.decide(0, h.data(), 50, 6);
  EXPECT_TRUE(sure.exits);
  EXPECT_EQ(sure.argmax, 6);
  EXPECT_GT(sure.confidence, 0.9);
  // Halfway between classes 1 and 6, one look: unsure, routed by probability mass.
  for (int i = 0; i < s.dim; ++i) h[static_cast<std::size_t>(i)] = 0.45 * task.mean(1)[i] + 0.55 * task.mean(6)[i];
  const NodeDecision unsure = tree.decide(0, h.data(), 1, 1);
  ASSERT_FALSE(unsure.exits);
  EXPECT_LT(unsure.confidence, s.threshold);
  const NodeDecision leaf_view = tree.decide(0, h.data(), 1, 1);
  EXPECT_EQ(leaf_view.child, unsure.child);
  EXPECT_EQ(unsure.child, 2) << "class 6's side (keys 4..7) holds more of the probability";
}

TEST(FisherTree, TheAdaptiveThresholdFollowsEachNodesShareOfTheFisherTrace) {
  const FisherTreeSpec s = small_spec();
  const TreeTask task(s, 5);
  FisherTree tree(s, task, {0, 1, 2});
  EXPECT_EQ(tree.adaptive_threshold(1), s.threshold) << "no Fisher measured yet";
  feed(tree, 0, 10, 6.0, 0, 0.1);
  feed(tree, 1, 10, 3.0, 0, 0.1);
  feed(tree, 2, 10, 1.0, 4, 0.1);
  std::vector<int> spares;
  tree.balance(1.0, 1.0, spares, 0, 0, 0);
  EXPECT_DOUBLE_EQ(tree.node(0).fisher, 6.0);  // I_i: the mean Fisher term of its requests
  EXPECT_DOUBLE_EQ(tree.node(1).fisher, 3.0);
  EXPECT_NEAR(tree.adaptive_threshold(0), 0.9 * (1 - 0.5 * 6.0 / 10.0), 1e-12);
  EXPECT_NEAR(tree.adaptive_threshold(2), 0.9 * (1 - 0.5 * 1.0 / 10.0), 1e-12);
}

TEST(FisherTree, LossTermsOfABalancePeriodAreTheLoadVarianceAndTheLoadWeightedFisher) {
  const FisherTreeSpec s = small_spec();
  const TreeTask task(s, 5);
  FisherTree tree(s, task, {0, 1, 2});
  feed(tree, 0, 10, 4.0, 0, 0.6);
  feed(tree, 1, 10, 2.0, 0, 0.3);
  feed(tree, 2, 10, 1.0, 4, 0.0);
  std::vector<int> spares;
  const BalancePeriod b = tree.balance(2.0, 2.0, spares, 8, 6, -4.0);
  const double l0 = 0.3, l1 = 0.15, l2 = 0.0, mean = (l0 + l1 + l2) / 3;
  EXPECT_NEAR(b.mean_load, mean, 1e-12);
  EXPECT_NEAR(b.loss_balance, ((l0 - mean) * (l0 - mean) + (l1 - mean) * (l1 - mean) + (l2 - mean) * (l2 - mean)) / 3, 1e-12);
  EXPECT_NEAR(b.loss_fisher, (4.0 * l0 + 2.0 * l1 + 1.0 * l2) / mean, 1e-12);
  EXPECT_NEAR(b.loss_accuracy, 0.5, 1e-12);
  EXPECT_EQ(b.splits, 0) << "no node is above τ_split";
}

TEST(FisherTree, AnInformativeLoadedLeafSplitsAtItsMedianKeyOnceItsSiblingHasLoaded) {
  const FisherTreeSpec s = small_spec();
  const TreeTask task(s, 5);
  FisherTree tree(s, task, {0, 1, 2});
  // Leaf 1 (keys 0..3) answers keys 0 and 1 most: its traffic divides evenly after key 1.
  feed(tree, 0, 20, 5.0, 0, 0.2);
  for (int v = 0; v < 10; ++v) tree.record_visit(1, decided(30.0, 0));
  for (int v = 0; v < 10; ++v) tree.record_visit(1, decided(30.0, 1));
  for (int v = 0; v < 2; ++v) tree.record_visit(1, decided(30.0, 3));
  tree.add_busy(1, 0.9);
  feed(tree, 2, 10, 30.0, 4, 0.1);  // informative but idle: no split
  std::vector<int> spares{7, 8};
  const BalancePeriod b = tree.balance(1.0, 1.0, spares, 0, 0, 0);
  ASSERT_EQ(b.splits, 1);
  ASSERT_TRUE(tree.pending_split().has_value());
  EXPECT_EQ(tree.pending_split()->node, 1);
  EXPECT_EQ(spares, std::vector<int>{8}) << "the sibling took the first spare";
  // Until it commits, requests still route through the old tree.
  EXPECT_EQ(tree.node(1).keys, (KeyRange{0, 4}));
  EXPECT_EQ(tree.node(0).children, (std::vector<int>{1, 2}));
  // A balance period while it loads restructures nothing.
  feed(tree, 2, 10, 0.1, 4, 0.0);
  EXPECT_TRUE(tree.balance(1.5, 0.5, spares, 0, 0, 0).skipped);
  const TreeSplit split = tree.commit_split(1.8);
  ASSERT_EQ(split.created.size(), 1u);
  const TreeNode& sib = tree.node(split.created[0]);
  // Answers per key 10, 10, 0, 2: cutting after key 0 gives 10 | 12, after key 1 or 2 gives 20 | 2.
  EXPECT_EQ(tree.node(1).keys, (KeyRange{0, 1}));
  EXPECT_EQ(sib.keys, (KeyRange{1, 4}));
  EXPECT_EQ(sib.server, 7);
  EXPECT_EQ(sib.parent, 0);
  EXPECT_EQ(sib.state, TreeNodeState::Serving);
  EXPECT_EQ(tree.node(0).children, (std::vector<int>{1, split.created[0], 2})) << "the sibling sits next to the node it split from";
  EXPECT_DOUBLE_EQ(sib.ready_at_s, 1.8);
}

TEST(FisherTree, ARootThatOverflowsItsOrderSplitsAndTheTreeGrowsALevelWithTheNewRootOnTheOldRootsServer) {
  FisherTreeSpec s = small_spec();
  s.order = 3;
  s.initial_children = 3;  // leaves with keys 0..1, 2..4, 5..7
  const TreeTask task(s, 5);
  auto hot_leaf = [&](FisherTree& t) {
    feed(t, 0, 20, 1.0, 0, 0.1);
    feed(t, 1, 10, 30.0, 0, 0.9);
    feed(t, 1, 10, 30.0, 1, 0.0);
    feed(t, 2, 20, 3.0, 3, 0.1);  // above τ_merge: the quiet leaves stay
    feed(t, 3, 20, 3.0, 6, 0.1);
  };
  // Three spares are needed: the leaf's sibling, the old root's sibling and a place for the old root.
  {
    FisherTree short_of_spares(s, task, {10, 11, 12, 13});
    hot_leaf(short_of_spares);
    std::vector<int> spares{20, 21};
    EXPECT_EQ(short_of_spares.balance(1.0, 1.0, spares, 0, 0, 0).splits, 0);
    EXPECT_EQ(spares, (std::vector<int>{20, 21})) << "a split that cannot be completed takes nothing";
    EXPECT_FALSE(short_of_spares.pending_split().has_value());
  }
  FisherTree tree(s, task, {10, 11, 12, 13});
  hot_leaf(tree);
  std::vector<int> spares{20, 21, 22, 23};
  ASSERT_EQ(tree.balance(1.0, 1.0, spares, 0, 0, 0).splits, 1);
  EXPECT_EQ(spares, std::vector<int>{23});
  const TreeSplit split = tree.commit_split(2.0);
  EXPECT_EQ(split.cascaded, std::vector<int>{0});
  ASSERT_EQ(split.created.size(), 3u);  // the leaf's sibling, the root's sibling, the new root
  EXPECT_EQ(split.moved, std::vector<int>{0});
  const int root = tree.root();
  EXPECT_EQ(root, split.created[2]);
  EXPECT_EQ(tree.node(root).server, 10) << "the new root takes the old root's server";
  EXPECT_NE(tree.node(0).server, 10);
  EXPECT_EQ(tree.node(root).keys, (KeyRange{0, 8}));
  ASSERT_EQ(tree.node(root).children.size(), 2u);
  // Four children under the old root overflow order 3: two halves of two, a level below the new root.
  int next = 0;
  for (const int c : tree.node(root).children) {
    EXPECT_EQ(tree.node(c).parent, root);
    EXPECT_EQ(tree.depth(c), 1);
    EXPECT_EQ(tree.node(c).children.size(), 2u);
    EXPECT_EQ(tree.node(c).keys.lo, next);
    for (const int g : tree.node(c).children) {  // the leaves tile the keys in order
      EXPECT_EQ(tree.node(g).parent, c);
      EXPECT_TRUE(tree.node(g).leaf());
      EXPECT_EQ(tree.node(g).keys.lo, next);
      next = tree.node(g).keys.hi;
    }
    EXPECT_EQ(tree.node(c).keys.hi, next);
  }
  EXPECT_EQ(next, 8);
  EXPECT_EQ(tree.node(1).keys, (KeyRange{0, 1})) << "the hot leaf kept key 0, its sibling took key 1";
}

TEST(FisherTree, QuietConfidentSiblingLeavesMergeAndAParentLeftWithOneLeafBecomesALeaf) {
  const FisherTreeSpec s = small_spec();
  const TreeTask task(s, 5);
  FisherTree tree(s, task, {0, 1, 2});
  feed(tree, 0, 20, 5.0, 0, 0.5);
  feed(tree, 1, 10, 1.0, 0, 0.1);
  feed(tree, 2, 10, 1.5, 4, 0.1);
  std::vector<int> spares{9};
  const BalancePeriod b = tree.balance(1.0, 1.0, spares, 0, 0, 0);
  EXPECT_EQ(b.merges, 1);
  ASSERT_EQ(tree.merges().size(), 1u);
  const TreeMerge& m = tree.merges()[0];
  EXPECT_EQ(m.kept, 1);
  EXPECT_EQ(m.retired, 2);
  EXPECT_NEAR(m.mean_fisher, 1.25, 1e-12);
  EXPECT_EQ(m.collapsed_into, 0) << "the root was left with one leaf child";
  EXPECT_EQ(tree.node(2).state, TreeNodeState::Retired);
  EXPECT_EQ(tree.node(1).state, TreeNodeState::Retired);
  EXPECT_TRUE(tree.node(0).leaf());
  EXPECT_EQ(tree.serving(), 1);
  std::sort(spares.begin(), spares.end());
  EXPECT_EQ(spares, (std::vector<int>{1, 2, 9})) << "both freed servers are spares again";
}

TEST(FisherTree, LeavesDoNotMergeWhenTheMergedLeafWouldSplitOrWhenOneIsUnmeasured) {
  const FisherTreeSpec s = small_spec();
  const TreeTask task(s, 5);
  {
    FisherTree tree(s, task, {0, 1, 2});
    feed(tree, 0, 20, 5.0, 0, 0.2);
    feed(tree, 1, 10, 1.0, 0, 0.4);  // (0.4 + 0.4) / mean 0.333 = 2.4 > ρ_split
    feed(tree, 2, 10, 1.0, 4, 0.4);
    std::vector<int> spares;
    EXPECT_EQ(tree.balance(1.0, 1.0, spares, 0, 0, 0).merges, 0);
  }
  {
    FisherTree tree(s, task, {0, 1, 2});
    feed(tree, 0, 20, 5.0, 0, 0.5);
    feed(tree, 1, 10, 1.0, 0, 0.1);
    feed(tree, 2, s.min_samples - 1, 1.0, 4, 0.1);  // too few requests to measure I
    std::vector<int> spares;
    EXPECT_EQ(tree.balance(1.0, 1.0, spares, 0, 0, 0).merges, 0);
  }
}

TEST(FisherTree, AParentAnswersInPlaceOfAChildKnownToBeDownAndNothingIsRestructuredMeanwhile) {
  const FisherTreeSpec s = small_spec();
  const TreeTask task(s, 5);
  FisherTree tree(s, task, {0, 1, 2});
  std::vector<double> h(static_cast<std::size_t>(s.dim));
  for (int i = 0; i < s.dim; ++i) h[static_cast<std::size_t>(i)] = 0.45 * task.mean(1)[i] + 0.55 * task.mean(6)[i];
  ASSERT_EQ(tree.decide(0, h.data(), 1, 6).child, 2);
  tree.fail(2);
  EXPECT_EQ(tree.node(2).state, TreeNodeState::Failed);
  const NodeDecision before = tree.decide(0, h.data(), 1, 6);
  EXPECT_FALSE(before.exits) << "until heartbeats reveal the failure, the root still routes to it";
  EXPECT_EQ(before.child, 2);
  tree.detect(2);
  const NodeDecision after = tree.decide(0, h.data(), 1, 6);
  EXPECT_TRUE(after.exits);
  EXPECT_TRUE(after.degraded);
  EXPECT_EQ(after.child, -1);
  EXPECT_TRUE(tree.node(0).keys.contains(after.argmax)) << "the root answers among all its keys";
  // A loaded, informative leaf does not split while a node is down.
  feed(tree, 0, 20, 5.0, 0, 0.2);
  feed(tree, 1, 20, 30.0, 0, 0.9);
  std::vector<int> spares{7};
  const BalancePeriod b = tree.balance(1.0, 1.0, spares, 0, 0, 0);
  EXPECT_TRUE(b.skipped);
  EXPECT_EQ(b.splits, 0);
  EXPECT_EQ(b.nodes, 2) << "the failed node is not measured";
  tree.replace(2, 7, 1.5);
  EXPECT_EQ(tree.node(2).state, TreeNodeState::Serving);
  EXPECT_EQ(tree.node(2).server, 7);
  EXPECT_EQ(tree.decide(0, h.data(), 1, 6).child, 2);
}

TEST(FisherTree, ACancelledSplitGivesItsServersBackAndChangesNothing) {
  const FisherTreeSpec s = small_spec();
  const TreeTask task(s, 5);
  FisherTree tree(s, task, {0, 1, 2});
  feed(tree, 0, 20, 5.0, 0, 0.2);
  feed(tree, 1, 10, 30.0, 0, 0.9);
  feed(tree, 1, 10, 30.0, 2, 0.0);
  std::vector<int> spares{7, 8};
  ASSERT_EQ(tree.balance(1.0, 1.0, spares, 0, 0, 0).splits, 1);
  const std::vector<TreeNode> before = tree.nodes();
  tree.cancel_split(spares);
  EXPECT_FALSE(tree.pending_split().has_value());
  std::sort(spares.begin(), spares.end());
  EXPECT_EQ(spares, (std::vector<int>{7, 8}));
  ASSERT_EQ(tree.splits().size(), 1u);
  EXPECT_TRUE(tree.splits()[0].cancelled);
  ASSERT_EQ(tree.nodes().size(), before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(tree.nodes()[i].keys, before[i].keys);
    EXPECT_EQ(tree.nodes()[i].children, before[i].children);
  }
}

}  // namespace
}  // namespace swarmsim::sim

namespace swarmsim::sim {
namespace {

/// A tree scenario on four L4s (root, two leaves, a spare) and one client, heartbeats every 100 ms.
Scenario tree_run_scenario() {
  Scenario sc;
  sc.name = "tree-run";
  FisherTreeSpec t = small_spec();
  sc.tree = t;
  for (int i = 0; i < 4; ++i) {
    NodeSpec n;
    n.name = "s" + std::to_string(i);
    n.device = gpu::find_device("L4");
    sc.nodes.push_back(n);
  }
  ClientSpec c;
  c.name = "c";
  c.device = gpu::find_device("cpu-generic");
  sc.clients.push_back(c);
  sc.workload.sessions = 6;
  sc.policy.faults.heartbeat_s = 0.1;
  sc.policy.faults.heartbeat_misses = 2;
  return sc;
}

// The client sends again exactly the requests the failed node held: those whose last message went
// to it (in flight or queued there) or left it without arriving; not those answered, not those
// whose message from it had arrived, not those elsewhere.
TEST(TreeRun, AFailureResendsOnlyWhatTheFailedNodeHeld) {
  const Scenario sc = tree_run_scenario();
  SimSignals signals;
  TreeRun run(sc, RunOptions{}, signals);
  ASSERT_EQ(run.tree->node(1).server, 1);
  for (int r = 0; r < 6; ++r) run.request_sent(r, 0.0);
  run.message_posted(0, 0, 1);                              // on its way to leaf 1
  run.message_posted(1, 0, 1), run.message_delivered(1);    // queued at leaf 1
  run.message_posted(2, 1, -1);                             // leaf 1's answer, on its way
  run.message_posted(3, 1, -1), run.message_delivered(3);   // leaf 1's answer, arrived
  run.message_posted(4, 0, 2);                              // at the other leaf
  run.message_posted(5, 0, 1), run.request_done(5, 0.5);    // answered already
  const int f = run.node_down(1, 1.03);
  ASSERT_EQ(f, 0);
  EXPECT_EQ(run.tree->node(1).state, TreeNodeState::Failed);
  EXPECT_DOUBLE_EQ(run.failovers[0].detected_at_s, 1.2) << "last heartbeat at 1.0 s, two missed";
  EXPECT_EQ(run.spares, std::vector<int>{3}) << "the spare stays a spare; the failed server is no spare";
  const std::vector<std::vector<int>> lost = run.failure_detected(f, 1.2);
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0], (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(run.failovers[0].requests_resent, 3);
  EXPECT_EQ(run.attempt, (std::vector<int>{1, 1, 1, 0, 0, 0}));
  EXPECT_TRUE(run.stale(0, 0)) << "the lost attempt's messages are dropped from now on";
  EXPECT_TRUE(run.tree->node(1).failure_detected);
  // The spare takes the node over once it has loaded it; a server that is down cannot.
  EXPECT_EQ(run.take_replacement(f), 3);
  run.node_down(3, 1.25);
  EXPECT_FALSE(run.replaced(f, 3, 1.4));
  run.node_up(1, 1.5);
  EXPECT_EQ(run.take_replacement(f), 1) << "the failed server, back, is a spare like any other";
  EXPECT_TRUE(run.replaced(f, 1, 1.7));
  EXPECT_EQ(run.tree->node(1).state, TreeNodeState::Serving);
  EXPECT_DOUBLE_EQ(run.failovers[0].ready_at_s, 1.7);
}

// Failback: a server that comes back takes the serving node that gains most from it, loads it
// while the node serves on, and then the node moves and the server it leaves turns spare; a
// failure of the node meanwhile drops the move.
TEST(TreeRun, AFasterServerThatComesBackTakesTheNodeThatGainsMost) {
  Scenario sc = tree_run_scenario();
  sc.nodes[3].device = gpu::find_device("A100-80GB");  // the fastest: the root starts there
  sc.policy.faults.failback = true;
  SimSignals signals;
  TreeRun run(sc, RunOptions{}, signals);
  ASSERT_EQ(run.tree->node(0).server, 3);
  ASSERT_EQ(run.spares, std::vector<int>{2}) << "the leaves on s0 and s1, s2 spare";
  EXPECT_EQ(run.failback_start(2, 0.5), -1) << "an L4 runs nothing faster than where it runs";
  // The A100 fails; the root moves to the spare L4, then the A100 comes back.
  const int f = run.node_down(3, 1.0);
  run.failure_detected(f, 1.2);
  ASSERT_EQ(run.take_replacement(f), 2);
  ASSERT_TRUE(run.replaced(f, 2, 1.4));
  run.node_up(3, 2.0);
  const int b = run.failback_start(3, 2.0);
  ASSERT_EQ(b, 0);
  EXPECT_EQ(run.failbacks[0].node, 0) << "every node runs on an L4, so the gains are equal: the lowest id, the root";
  EXPECT_EQ(run.failbacks[0].from_server, 2);
  EXPECT_TRUE(run.spares.empty()) << "the A100 is reserved while it loads";
  EXPECT_TRUE(run.failback_switch(b, 2.8));
  EXPECT_EQ(run.tree->node(0).server, 3);
  EXPECT_EQ(run.spares, std::vector<int>{2}) << "the L4 it leaves turns spare";
  // Again, but the root's L4 fails while the A100 loads: the move is dropped, the A100 is a spare.
  const int f2 = run.node_down(3, 3.0);
  run.failure_detected(f2, 3.2);
  ASSERT_EQ(run.take_replacement(f2), 2);
  ASSERT_TRUE(run.replaced(f2, 2, 3.4));
  run.node_up(3, 4.0);
  const int b2 = run.failback_start(3, 4.0);
  ASSERT_EQ(b2, 1);
  run.node_down(2, 4.5);
  EXPECT_FALSE(run.failback_switch(b2, 4.8));
  EXPECT_TRUE(run.failbacks[1].dropped);
  EXPECT_EQ(run.tree->node(0).state, TreeNodeState::Failed);
  EXPECT_EQ(run.spares, std::vector<int>{3}) << "the A100 is free for the root's failover";
}

}  // namespace
}  // namespace swarmsim::sim
