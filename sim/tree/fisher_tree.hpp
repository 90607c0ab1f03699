#pragma once
// A Fisher-information guided B-tree network (seed 000): the tree of nodes, what each node
// decides for a request (early exit with an adaptive threshold, or routing to a child), the
// diagonal Fisher information each node gathers, and the split and merge rules that restructure
// the tree every balance period. Pure: no SimGrid; the engine (sim/engine/tree_simulation.cpp)
// only decides when things happen. docs/algorithms.md, "Fisher B-trees", maps equations to code.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::sim {

/// The synthetic task a tree serves: C classes (the tree's keys) with means μ_y of norm
/// `separation` in R^d, Zipf-skewed popularity, and inputs seen as noisy looks x = μ_y + σ ε.
class TreeTask {
 public:
  TreeTask(const FisherTreeSpec& spec, std::uint64_t seed);
  int classes() const { return classes_; }
  int dim() const { return dim_; }
  double noise() const { return noise_; }
  /// μ_y, dim() values.
  const double* mean(int y) const { return &means_[static_cast<std::size_t>(y) * static_cast<std::size_t>(dim_)]; }
  /// ||μ_y||².
  double mean_norm2(int y) const { return norm2_[static_cast<std::size_t>(y)]; }
  /// Share of requests of class y.
  double popularity(int y) const { return popularity_[static_cast<std::size_t>(y)]; }
  /// The class of request r (fixed by the seed and r).
  int class_of(std::uint64_t request) const;
  /// Adds look j at request r's input, μ_y + σ ε with ε ~ N(0, I) fixed by the seed, r and j, to `sum`.
  void add_look(std::uint64_t request, int j, int y, double* sum) const;

 private:
  int classes_, dim_;
  double noise_;
  std::uint64_t seed_;
  std::vector<double> means_, norm2_, popularity_, cdf_;
};

/// Keys [lo, hi) of a tree node: the classes it answers for.
struct KeyRange {
  int lo = 0, hi = 0;
  int size() const { return hi - lo; }
  bool contains(int y) const { return y >= lo && y < hi; }
  bool operator==(const KeyRange&) const = default;
};

enum class TreeNodeState {
  Loading,  ///< created by a split, loading its parameters; not routed to yet
  Serving,  ///< in the tree
  Retired,  ///< merged away (or collapsed into its parent); its server is free
  Failed,   ///< its server went down: it keeps its place in the tree until a spare takes it over
};

const char* to_string(TreeNodeState s);

/// A node n_i = (f_i, θ_i, τ_i, F_i, GPU_i) of the tree (seed 000 §2.1) and its tallies.
struct TreeNode {
  int id = 0;
  int parent = -1;            ///< node id, -1 for the root
  std::vector<int> children;  ///< node ids, in key order; empty for a leaf
  KeyRange keys;
  int server = -1;            ///< index into Scenario::nodes (GPU_i)
  TreeNodeState state = TreeNodeState::Serving;
  double created_at_s = 0, ready_at_s = 0;
  double fisher = 0;          ///< I_i = tr(F_i) over the last period it was measured (seed 000 §2.3)
  double load = 0;            ///< L_i: its server's busy fraction for the tree over the last period
  // The current period's tallies.
  double fisher_sum = 0;      ///< Σ over its in-range requests of their squared log-likelihood gradient
  int fisher_samples = 0;     ///< in-range requests behind fisher_sum
  int period_visits = 0;
  double period_busy_s = 0;
  std::vector<int> period_answers;  ///< per key of its range: requests it answered or routed with that argmax
  // Totals over the run.
  int visits = 0, exits = 0;
  double busy_s = 0;

  bool failure_detected = false;  ///< Failed, and its parent knows (missed heartbeats): it answers in its place

  bool leaf() const { return children.empty(); }
};

/// What node i does with a request (seed 000 §2.2).
struct NodeDecision {
  double confidence = 0;   ///< c_i = max_y p_i(y)
  double threshold = 0;    ///< τ_i^adaptive
  int argmax = -1;         ///< the class of highest probability (the answer when it exits)
  bool exits = false;      ///< answered here: confident, or a leaf, or its chosen child is known to be down
  bool degraded = false;   ///< answered here only because the child it chose is down (detected)
  int child = -1;          ///< node id the request goes to when it does not exit
  bool in_range = false;   ///< the request's class is among the node's keys
  double log_p = 0;        ///< log p_i(y | x), clamped at kMinLogP when y is not among its keys
  double fisher_term = 0;  ///< ||∇_θ log p_i(y | x)||² (0 when y is not among its keys)
};

/// log p of a class outside a node's keys (which its head gives probability 0).
inline constexpr double kMinLogP = -20.0;

/// A restructuring decided at the end of a balance period.
struct TreeSplit {
  int node = 0;                 ///< the node that split (seed 000 §2.5, Split(n_i))
  double at_s = 0;              ///< decided
  double ready_s = -1;          ///< the new nodes loaded and the tree changed; -1 until then
  std::vector<int> created;     ///< new node ids: the sibling, then any cascaded siblings, then a new root
  std::vector<int> cascaded;    ///< ancestors that split because they held more than `order` children
  std::vector<int> moved;       ///< nodes that move to another server: the old root when the root splits
  bool cancelled = false;       ///< a server failed while the new nodes loaded: the tree did not change
  double fisher = 0, load_ratio = 0;  ///< I_i and L_i / L̄ that triggered it
};

struct TreeMerge {
  int kept = 0, retired = 0;    ///< sibling leaves: `kept` takes over `retired`'s keys (Merge, seed 000 §2.5)
  int collapsed_into = -1;      ///< the parent, when the merge left it one leaf child and became a leaf itself
  double at_s = 0;
  double mean_fisher = 0;       ///< (I_kept + I_retired) / 2
};

/// One balance period's measurements and the terms of seed 000's loss (§2.4).
struct BalancePeriod {
  double end_s = 0;
  int nodes = 0;                ///< serving nodes
  double mean_load = 0;         ///< L̄
  double loss_balance = 0;      ///< L_balance = Var({L_i})
  double loss_fisher = 0;       ///< L_fisher = Σ I_i L_i / L̄
  double loss_accuracy = 0;     ///< L_accuracy = −mean log p(y | x) of the period's answers
  int answered = 0, correct = 0;
  int splits = 0, merges = 0;
  bool skipped = false;         ///< a split or a failback was loading, or a node was down: no restructuring this period
};

/// The tree, its nodes' decisions and their restructuring.
class FisherTree {
 public:
  /// A root over every key with `initial_children` leaves of equal key ranges, on `servers`
  /// (root first, then the leaves left to right); requires as many servers.
  FisherTree(const FisherTreeSpec& spec, const TreeTask& task, const std::vector<int>& servers);

  const std::vector<TreeNode>& nodes() const { return nodes_; }
  const TreeNode& node(int id) const { return nodes_[static_cast<std::size_t>(id)]; }
  int root() const { return root_; }
  /// Depth of node `id` (root 0).
  int depth(int id) const;
  /// Serving nodes.
  int serving() const;
  /// Node `id`'s server went down: the node fails (a split under way is cancelled, see
  /// cancel_split). Until detect() its parent still routes to it, and those requests are lost.
  void fail(int id);
  /// The failure of node `id` is known (heartbeats): its parent answers in its place.
  void detect(int id);
  /// Failed node `id` serves again from server `server` (a spare that loaded its parameters).
  void replace(int id, int server, double t);
  /// Serving node `id` moves to server `server` at t (a failback), keeping its tallies.
  void move(int id, int server, double t);
  /// Whether some node is Failed (balance periods then restructure nothing).
  bool any_failed() const;
  /// The split whose nodes are loading, if any.
  const std::optional<TreeSplit>& pending_split() const { return pending_; }
  /// The tree as it will be once the pending split commits (its new nodes Loading); empty when none.
  const std::vector<TreeNode>& pending_nodes() const { return pending_nodes_; }
  int pending_root() const { return pending_root_; }

  /// τ_i^adaptive = τ_i (1 − α tr(F_i) / Σ_j tr(F_j)) over serving nodes (τ_i when Σ = 0).
  double adaptive_threshold(int id) const;
  /// Node `id` on a request of class y whose hidden state is the mean `h` of `looks` looks.
  /// The node's head is Bayes-optimal for that evidence over its keys, p_i = Softmax(z) with
  /// z_y = (looks / σ²)(μ_y·h − ||μ_y||²/2); it exits when c_i > τ_i^adaptive or it is a leaf, and
  /// otherwise routes to the child whose keys hold most of p_i (j = argmax Router_i(h_i)).
  NodeDecision decide(int id, const double* h, int looks, int y) const;
  /// Tallies a visit of node `id` that decided `d`.
  void record_visit(int id, const NodeDecision& d);
  /// Node `id` kept its server busy `seconds` more (its load L_i, seed 000 §2.4).
  void add_busy(int id, double seconds);

  /// Ends the balance period at t: measures every serving node (I_i from its in-range requests,
  /// L_i = busy / period; a node with fewer than min_samples keeps its last I_i), then, unless a
  /// split is loading, splits the node with I_i > τ_split and L_i / L̄ > ρ_split whose load is
  /// highest (a leaf, or an inner node other than the root with four children or more; spares
  /// taken from the front of `spares`, best first; the split waits for them to load, see
  /// commit_split), or else merges adjacent sibling leaves with mean I < τ_merge whose merged load
  /// would not split again, lowest first, freeing their servers into `spares`. `answered`, `correct` and `sum_log_p` are the
  /// period's answers, for its loss terms.
  /// With `restructure` false (a failback is loading) it only measures.
  BalancePeriod balance(double t, double period_s, std::vector<int>& spares, int answered, int correct, double sum_log_p,
                        bool restructure = true);
  /// The pending split's new nodes loaded: the tree changes at t. Returns the split.
  TreeSplit commit_split(double t);
  /// Drops the pending split (a server failed while it loaded): its servers go back to `spares`.
  void cancel_split(std::vector<int>& spares);
  /// Splits planned so far; the engine's loader commits only the split it waited for.
  int splits_planned() const { return splits_planned_; }

  const std::vector<TreeSplit>& splits() const { return splits_; }
  const std::vector<TreeMerge>& merges() const { return merges_; }

 private:
  /// Plans splitting node `id` into the working copy `next`, taking spares; returns false (and
  /// leaves `next` and `spares` as they were) when there are not enough spares or keys.
  bool plan_split(std::vector<TreeNode>& next, int& next_root, int id, std::vector<int>& spares, TreeSplit& split) const;
  /// Where node `id` divides: a leaf's keys into two halves of about equal traffic, an inner node's
  /// children into two halves of equal count.
  int split_point(const std::vector<TreeNode>& nodes, int id) const;
  void reset_period(TreeNode& n) const;

  const FisherTreeSpec& spec_;
  const TreeTask& task_;
  std::vector<TreeNode> nodes_;
  int root_ = 0;
  std::optional<TreeSplit> pending_;
  int splits_planned_ = 0;
  std::vector<TreeNode> pending_nodes_;  ///< the tree once the pending split commits
  int pending_root_ = 0;
  std::vector<TreeSplit> splits_;
  mutable std::vector<double> scratch_p_;  ///< decide's probabilities, kept between calls to spare an allocation per visit
  std::vector<TreeMerge> merges_;
};

}  // namespace swarmsim::sim
