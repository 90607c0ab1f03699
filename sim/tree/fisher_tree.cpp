#include "sim/tree/fisher_tree.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "sim/rng.hpp"

namespace swarmsim::sim {

namespace {
constexpr std::uint64_t kMeansStream = 0x6D65616E73ULL;  // "means"
constexpr std::uint64_t kClassStream = 0x636C617373ULL;  // "class"
constexpr std::uint64_t kLookStream = 0x6C6F6F6BULL;     // "look"
}  // namespace

const char* to_string(TreeNodeState s) {
  switch (s) {
    case TreeNodeState::Loading: return "loading";
    case TreeNodeState::Serving: return "serving";
    case TreeNodeState::Retired: return "retired";
    case TreeNodeState::Failed: return "failed";
  }
  return "?";
}

TreeTask::TreeTask(const FisherTreeSpec& spec, std::uint64_t seed)
    : classes_(spec.classes), dim_(spec.dim), noise_(spec.noise), seed_(seed) {
  const auto d = static_cast<std::size_t>(dim_);
  means_.assign(static_cast<std::size_t>(classes_) * d, 0.0);
  norm2_.assign(static_cast<std::size_t>(classes_), 0.0);
  Rng rng = Rng(seed).split(kMeansStream);
  for (int y = 0; y < classes_; ++y) {  // a uniformly random direction, scaled to the separation
    double* mu = &means_[static_cast<std::size_t>(y) * d];
    fill_normals(rng, mu, static_cast<std::size_t>(dim_));
    double n2 = 0;
    for (std::size_t i = 0; i < d; ++i) n2 += mu[i] * mu[i];
    const double scale = spec.separation / std::sqrt(std::max(n2, 1e-300));
    for (std::size_t i = 0; i < d; ++i) mu[i] *= scale;
    norm2_[static_cast<std::size_t>(y)] = spec.separation * spec.separation;
  }
  popularity_.resize(static_cast<std::size_t>(classes_));
  for (int y = 0; y < classes_; ++y) popularity_[static_cast<std::size_t>(y)] = std::pow(1.0 + y, -spec.class_skew);  // Zipf
  const double total = std::accumulate(popularity_.begin(), popularity_.end(), 0.0);
  double c = 0;
  for (double& p : popularity_) {
    p /= total;
    c += p;
    cdf_.push_back(c);
  }
  cdf_.back() = 1.0;
}

int TreeTask::class_of(std::uint64_t request) const {
  Rng rng = Rng(seed_ ^ kClassStream).split(request);
  const double u = rng.uniform();
  return static_cast<int>(std::upper_bound(cdf_.begin(), cdf_.end(), u) - cdf_.begin());
}

void TreeTask::add_look(std::uint64_t request, int j, int y, double* sum) const {
  Rng rng = Rng(seed_ ^ kLookStream).split(request * 1024 + static_cast<std::uint64_t>(j));
  const double* mu = mean(y);
  for (int i = 0; i < dim_; i += 2) {
    double a = 0, b = 0;
    normal_pair(rng, a, b);
    sum[i] += mu[i] + noise_ * a;
    if (i + 1 < dim_) sum[i + 1] += mu[i + 1] + noise_ * b;
  }
}

FisherTree::FisherTree(const FisherTreeSpec& spec, const TreeTask& task, const std::vector<int>& servers)
    : spec_(spec), task_(task) {
  const int leaves = spec.initial_children > 1 ? spec.initial_children : 0;  // a single leaf would only repeat the root
  TreeNode root;
  root.id = 0;
  root.keys = {0, task.classes()};
  root.server = servers.at(0);
  nodes_.push_back(root);
  for (int c = 0; c < leaves; ++c) {
    TreeNode n;
    n.id = c + 1;
    n.parent = 0;
    n.keys = {task.classes() * c / leaves, task.classes() * (c + 1) / leaves};
    n.server = servers.at(static_cast<std::size_t>(c) + 1);
    nodes_[0].children.push_back(n.id);
    nodes_.push_back(n);
  }
  for (TreeNode& n : nodes_) reset_period(n);
}

void FisherTree::reset_period(TreeNode& n) const {
  n.fisher_sum = 0;
  n.fisher_samples = 0;
  n.period_visits = 0;
  n.period_busy_s = 0;
  n.period_answers.assign(static_cast<std::size_t>(n.keys.size()), 0);
}

int FisherTree::depth(int id) const {
  int d = 0;
  for (int p = node(id).parent; p >= 0; p = node(p).parent) ++d;
  return d;
}

int FisherTree::serving() const {
  return static_cast<int>(std::count_if(nodes_.begin(), nodes_.end(), [](const TreeNode& n) { return n.state == TreeNodeState::Serving; }));
}

double FisherTree::adaptive_threshold(int id) const {
  double total = 0;
  for (const TreeNode& n : nodes_)
    if (n.state == TreeNodeState::Serving) total += n.fisher;
  if (total <= 0) return spec_.threshold;
  return spec_.threshold * (1.0 - spec_.alpha * node(id).fisher / total);  // seed 000, §2.2: τ_i^adaptive
}

NodeDecision FisherTree::decide(int id, const double* h, int looks, int y) const {
  const TreeNode& n = node(id);
  NodeDecision d;
  const int k = n.keys.size();
  std::vector<double>& p = scratch_p_;  // reused: decide runs once per visit
  p.resize(static_cast<std::size_t>(k));
  const double scale = looks / (task_.noise() * task_.noise());
  double h2 = 0;
  for (int i = 0; i < task_.dim(); ++i) h2 += h[i] * h[i];
  double zmax = -INFINITY;
  for (int c = 0; c < k; ++c) {  // Bayes-optimal linear head over the node's keys
    const double* mu = task_.mean(n.keys.lo + c);
    double dot = 0;
    for (int i = 0; i < task_.dim(); ++i) dot += mu[i] * h[i];
    p[static_cast<std::size_t>(c)] = scale * (dot - 0.5 * task_.mean_norm2(n.keys.lo + c));
    zmax = std::max(zmax, p[static_cast<std::size_t>(c)]);
  }
  double z_y = 0;
  if (n.keys.contains(y)) z_y = p[static_cast<std::size_t>(y - n.keys.lo)];
  double sum = 0;
  for (double& v : p) sum += (v = std::exp(v - zmax));
  for (double& v : p) v /= sum;  // seed 000, §2.2: p_i = Softmax(ConfidenceHead_i(h_i))
  d.argmax = static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin()) + n.keys.lo;
  d.confidence = p[static_cast<std::size_t>(d.argmax - n.keys.lo)];  // seed 000, §2.2: c_i = max(p_i)
  d.threshold = adaptive_threshold(id);
  d.in_range = n.keys.contains(y);
  if (d.in_range) {
    d.log_p = std::max(kMinLogP, z_y - zmax - std::log(sum));
    // ∂ log p(y|x) / ∂W_cm = (δ_cy − p_c) h_m and ∂/∂b_c = δ_cy − p_c for logits W h + b.
    double g = 0;
    for (int c = 0; c < k; ++c) {
      const double e = (n.keys.lo + c == y ? 1.0 : 0.0) - p[static_cast<std::size_t>(c)];
      g += e * e;
    }
    d.fisher_term = g * (h2 + 1.0);  // seed 000, §2.3: one sample of Σ_j F_i^diag[j]
  } else {
    d.log_p = kMinLogP;
  }
  d.exits = n.leaf() || d.confidence > d.threshold;  // seed 000, §2.2: EarlyExit
  if (!d.exits) {
    double best = -1;
    for (const int c : n.children) {  // seed 000, §2.2: j = argmax Router_i(h_i)
      const KeyRange r = node(c).keys;
      double mass = 0;
      for (int key = r.lo; key < r.hi; ++key) mass += p[static_cast<std::size_t>(key - n.keys.lo)];
      if (mass > best) best = mass, d.child = c;
    }
    if (d.child < 0 || node(d.child).failure_detected) {  // the child is known to be down (or p is not finite): answer in its place
      d.exits = d.degraded = true;
      d.child = -1;
    }
  }
  return d;
}

void FisherTree::fail(int id) {
  nodes_[static_cast<std::size_t>(id)].state = TreeNodeState::Failed;
}

void FisherTree::detect(int id) { nodes_[static_cast<std::size_t>(id)].failure_detected = true; }

void FisherTree::move(int id, int server, double t) {
  TreeNode& n = nodes_[static_cast<std::size_t>(id)];
  n.server = server;
  n.ready_at_s = t;
}

void FisherTree::replace(int id, int server, double t) {
  TreeNode& n = nodes_[static_cast<std::size_t>(id)];
  n.state = TreeNodeState::Serving;
  n.failure_detected = false;
  n.server = server;
  n.ready_at_s = t;
  reset_period(n);
}

bool FisherTree::any_failed() const {
  return std::any_of(nodes_.begin(), nodes_.end(), [](const TreeNode& n) { return n.state == TreeNodeState::Failed; });
}

void FisherTree::cancel_split(std::vector<int>& spares) {
  if (!pending_) return;
  TreeSplit s = *pending_;
  s.cancelled = true;
  for (const int id : s.created) spares.push_back(pending_nodes_[static_cast<std::size_t>(id)].server);
  for (const int id : s.moved) spares.push_back(pending_nodes_[static_cast<std::size_t>(id)].server);
  pending_.reset();
  pending_nodes_.clear();
  splits_.push_back(s);
}

void FisherTree::add_busy(int id, double seconds) {
  TreeNode& n = nodes_[static_cast<std::size_t>(id)];
  n.busy_s += seconds;
  n.period_busy_s += seconds;
}

void FisherTree::record_visit(int id, const NodeDecision& d) {
  TreeNode& n = nodes_[static_cast<std::size_t>(id)];
  ++n.visits;
  ++n.period_visits;
  if (d.exits) ++n.exits;
  if (d.in_range) {
    n.fisher_sum += d.fisher_term;
    ++n.fisher_samples;
  }
  if (n.keys.contains(d.argmax) && static_cast<std::size_t>(n.keys.size()) == n.period_answers.size())
    ++n.period_answers[static_cast<std::size_t>(d.argmax - n.keys.lo)];
}

int FisherTree::split_point(const std::vector<TreeNode>& nodes, int id) const {
  const TreeNode& n = nodes[static_cast<std::size_t>(id)];
  // An inner node that overflows its order splits its children in two halves, as a B-tree does.
  if (!n.leaf()) return static_cast<int>(n.children.size()) / 2;
  // A leaf divides its keys where its traffic divides most evenly: the B-tree's median key,
  // weighed by the answers the node gave. Ties go to the middle.
  std::vector<double> weight;
  for (int c = 0; c < n.keys.size(); ++c)
    weight.push_back(static_cast<std::size_t>(c) < n.period_answers.size() ? n.period_answers[static_cast<std::size_t>(c)] : 0);
  const double total = std::accumulate(weight.begin(), weight.end(), 0.0);
  const int parts = static_cast<int>(weight.size());
  int best = parts / 2;
  double best_gap = INFINITY, left = 0;
  for (int m = 1; m < parts; ++m) {
    left += weight[static_cast<std::size_t>(m - 1)];
    const double gap = std::abs(2 * left - total);
    const bool closer_to_middle = std::abs(2 * m - parts) < std::abs(2 * best - parts);
    if (gap < best_gap || (gap == best_gap && closer_to_middle)) best_gap = gap, best = m;
  }
  return best;
}

bool FisherTree::plan_split(std::vector<TreeNode>& next_out, int& root_out, int id, std::vector<int>& spares_out, TreeSplit& split) const {
  std::vector<TreeNode> next = next_out;
  std::vector<int> spares = spares_out;
  int root = root_out;
  auto take_spare = [&spares]() {
    const int s = spares.front();
    spares.erase(spares.begin());
    return s;
  };
  auto new_node = [&](int server) -> TreeNode& {
    TreeNode n;
    n.id = static_cast<int>(next.size());
    n.server = server;
    n.state = TreeNodeState::Loading;
    n.created_at_s = split.at_s;
    next.push_back(n);
    split.created.push_back(n.id);
    return next.back();
  };
  for (int cur = id;;) {
    if (spares.empty()) return false;
    const TreeNode& n0 = next[static_cast<std::size_t>(cur)];
    if (n0.leaf() ? n0.keys.size() < 2 : n0.children.size() < 2) return false;
    const int m = split_point(next, cur);
    TreeNode& sib = new_node(take_spare());
    const int sib_id = sib.id;
    TreeNode& n = next[static_cast<std::size_t>(cur)];  // new_node may have moved it
    if (n.leaf()) {
      sib.keys = {n.keys.lo + m, n.keys.hi};
    } else {  // B-tree split: the upper children move to the sibling
      sib.children.assign(n.children.begin() + m, n.children.end());
      n.children.resize(static_cast<std::size_t>(m));
      sib.keys = {next[static_cast<std::size_t>(sib.children.front())].keys.lo, n.keys.hi};
      for (const int c : sib.children) next[static_cast<std::size_t>(c)].parent = sib_id;
    }
    TreeNode& n2 = next[static_cast<std::size_t>(cur)];
    n2.keys.hi = next[static_cast<std::size_t>(sib_id)].keys.lo;
    if (n2.parent < 0) {  // the root split: a new root above both, and the tree grows a level
      if (spares.empty()) return false;
      // Every request enters at the root: the new root takes the old root's server, which was
      // picked for that, and the old root's half moves to a spare.
      TreeNode& r = new_node(next[static_cast<std::size_t>(cur)].server);
      next[static_cast<std::size_t>(cur)].server = take_spare();
      split.moved.push_back(cur);
      r.keys = {next[static_cast<std::size_t>(cur)].keys.lo, next[static_cast<std::size_t>(sib_id)].keys.hi};
      r.children = {cur, sib_id};
      next[static_cast<std::size_t>(cur)].parent = r.id;
      next[static_cast<std::size_t>(sib_id)].parent = r.id;
      root = r.id;
      break;
    }
    const int p = n2.parent;
    next[static_cast<std::size_t>(sib_id)].parent = p;
    std::vector<int>& ch = next[static_cast<std::size_t>(p)].children;
    ch.insert(std::find(ch.begin(), ch.end(), cur) + 1, sib_id);
    if (static_cast<int>(ch.size()) <= spec_.order) break;
    split.cascaded.push_back(p);  // the parent overflows its order and splits in turn
    cur = p;
  }
  next_out = std::move(next);
  spares_out = std::move(spares);
  root_out = root;
  return true;
}

BalancePeriod FisherTree::balance(double t, double period_s, std::vector<int>& spares, int answered, int correct, double sum_log_p,
                                  bool restructure) {
  BalancePeriod b;
  b.end_s = t;
  b.answered = answered;
  b.correct = correct;
  std::vector<int> ids;
  std::vector<char> measured(nodes_.size(), 0);
  for (TreeNode& n : nodes_) {
    if (n.state != TreeNodeState::Serving) continue;
    ids.push_back(n.id);
    n.load = period_s > 0 ? n.period_busy_s / period_s : 0;
    if (n.fisher_samples >= spec_.min_samples) {
      n.fisher = n.fisher_sum / n.fisher_samples;  // seed 000, §2.3: I_i = tr(F_i), F_i^diag averaged over D
      measured[static_cast<std::size_t>(n.id)] = 1;
    }
  }
  b.nodes = static_cast<int>(ids.size());
  for (const int i : ids) b.mean_load += node(i).load;
  if (!ids.empty()) b.mean_load /= static_cast<double>(ids.size());
  for (const int i : ids) {
    const double dl = node(i).load - b.mean_load;
    b.loss_balance += dl * dl / static_cast<double>(ids.size());  // seed 000, §2.4: L_balance = Var({L_i})
    if (b.mean_load > 0) b.loss_fisher += node(i).fisher * node(i).load / b.mean_load;  // seed 000, §2.4: L_fisher
  }
  b.loss_accuracy = answered > 0 ? -sum_log_p / answered : 0;  // seed 000, §2.4: L_accuracy

  if (pending_ || any_failed() || !restructure) {
    b.skipped = true;
  } else {
    // Split: I_i > τ_split and L_i / L̄ > ρ_split (seed 000, §2.5), the most loaded first. A leaf
    // divides its keys; an inner node with at least four children divides them into halves of two
    // or more (fewer would leave a node with one child, a hop that decides nothing). The root
    // splits only as a B-tree's does, when a split below leaves it more than `order` children
    // (plan_split): every request enters there, so a root split for load would hand all of it
    // to the new root.
    std::vector<int> candidates;
    for (const int i : ids) {
      const TreeNode& n = node(i);
      const bool divisible = n.leaf() ? n.keys.size() >= 2 : (n.parent >= 0 && n.children.size() >= 4);
      if (divisible && measured[static_cast<std::size_t>(i)] && n.fisher > spec_.split_fisher && b.mean_load > 0 &&
          n.load / b.mean_load > spec_.split_load)
        candidates.push_back(i);
    }
    std::stable_sort(candidates.begin(), candidates.end(), [&](int a, int c) { return node(a).load > node(c).load; });
    for (const int i : candidates) {
      std::vector<TreeNode> next = nodes_;
      int next_root = root_;
      TreeSplit s;
      s.node = i;
      s.at_s = t;
      s.fisher = node(i).fisher;
      s.load_ratio = node(i).load / b.mean_load;
      if (!plan_split(next, next_root, i, spares, s)) continue;
      pending_ = s;
      ++splits_planned_;
      pending_nodes_ = std::move(next);
      pending_root_ = next_root;
      b.splits = 1;
      break;
    }
    // Merge: adjacent sibling leaves with (I_a + I_b) / 2 < τ_merge (seed 000, §2.5), lowest first.
    if (!pending_) {
      struct Pair {
        int a, c;
        double mean;
      };
      std::vector<Pair> pairs;
      for (const int p : ids) {
        const std::vector<int>& ch = node(p).children;
        for (std::size_t k = 0; k + 1 < ch.size(); ++k) {
          const TreeNode &a = node(ch[k]), &c = node(ch[k + 1]);
          if (!a.leaf() || !c.leaf() || !measured[static_cast<std::size_t>(a.id)] || !measured[static_cast<std::size_t>(c.id)]) continue;
          const double mean = 0.5 * (a.fisher + c.fisher);
          // Not when the merged leaf's load would split it again: a split's halves are confident
          // by construction and would otherwise merge back the next period.
          const bool would_split = b.mean_load > 0 && (a.load + c.load) / b.mean_load > spec_.split_load;
          if (mean < spec_.merge_fisher && !would_split) pairs.push_back({a.id, c.id, mean});
        }
      }
      std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.mean < y.mean; });
      std::vector<char> used(nodes_.size(), 0);
      std::vector<int> parents;
      for (const Pair& pr : pairs) {
        if (used[static_cast<std::size_t>(pr.a)] || used[static_cast<std::size_t>(pr.c)]) continue;
        used[static_cast<std::size_t>(pr.a)] = used[static_cast<std::size_t>(pr.c)] = 1;
        TreeNode& a = nodes_[static_cast<std::size_t>(pr.a)];
        TreeNode& c = nodes_[static_cast<std::size_t>(pr.c)];
        a.keys.hi = c.keys.hi;
        c.state = TreeNodeState::Retired;
        spares.push_back(c.server);
        std::vector<int>& ch = nodes_[static_cast<std::size_t>(a.parent)].children;
        ch.erase(std::find(ch.begin(), ch.end(), pr.c));
        merges_.push_back(TreeMerge{pr.a, pr.c, -1, t, pr.mean});
        parents.push_back(a.parent);
        ++b.merges;
      }
      for (const int p : parents) {  // a parent left with one leaf child takes its keys back and becomes a leaf
        TreeNode& parent = nodes_[static_cast<std::size_t>(p)];
        if (parent.children.size() != 1 || !node(parent.children[0]).leaf()) continue;
        TreeNode& only = nodes_[static_cast<std::size_t>(parent.children[0])];
        only.state = TreeNodeState::Retired;
        spares.push_back(only.server);
        parent.children.clear();
        for (TreeMerge& mg : merges_)
          if (mg.at_s == t && (mg.kept == only.id)) mg.collapsed_into = p;
      }
    }
  }
  for (TreeNode& n : nodes_) reset_period(n);
  return b;
}

TreeSplit FisherTree::commit_split(double t) {
  TreeSplit s = *pending_;
  s.ready_s = t;
  const std::size_t old = nodes_.size();
  for (std::size_t i = 0; i < old; ++i) {
    TreeNode& n = nodes_[i];
    const TreeNode& p = pending_nodes_[i];
    const bool keys_changed = !(n.keys == p.keys);
    n.parent = p.parent;
    n.children = p.children;
    n.keys = p.keys;
    if (std::find(s.moved.begin(), s.moved.end(), n.id) != s.moved.end()) n.server = p.server;  // the old root's half
    if (keys_changed) n.period_answers.assign(static_cast<std::size_t>(n.keys.size()), 0);
  }
  for (std::size_t i = old; i < pending_nodes_.size(); ++i) {
    TreeNode n = pending_nodes_[i];
    n.state = TreeNodeState::Serving;
    n.ready_at_s = t;
    reset_period(n);
    nodes_.push_back(std::move(n));
  }
  root_ = pending_root_;
  pending_.reset();
  pending_nodes_.clear();
  splits_.push_back(s);
  return s;
}

}  // namespace swarmsim::sim
