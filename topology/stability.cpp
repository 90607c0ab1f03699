#include "topology/stability.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace swarmsim::topology {

namespace {

// Union-find with path halving; every set is also a node of the merge tree (dendrogram).
struct MergeForest {
  explicit MergeForest(int n) : parent(static_cast<std::size_t>(n)), tree_node(static_cast<std::size_t>(n)) {
    std::iota(parent.begin(), parent.end(), 0);
    std::iota(tree_node.begin(), tree_node.end(), 0);
  }
  int find(int x) {
    while (parent[static_cast<std::size_t>(x)] != x)
      x = parent[static_cast<std::size_t>(x)] = parent[static_cast<std::size_t>(parent[static_cast<std::size_t>(x)])];
    return x;
  }
  std::vector<int> parent, tree_node;
};

}  // namespace

std::vector<double> snapshot_stability(const SwarmGraph& g, int snapshot_nodes, const StabilityParams& params) {
  const int n = static_cast<int>(boost::num_vertices(g));
  std::vector<double> out(static_cast<std::size_t>(std::max(snapshot_nodes, 0)), 0.0);
  if (n == 0) return out;

  // Merge tree of the H0 filtration: leaves 0..n-1 (born at 0), one internal node per merge.
  std::vector<int> tree_parent(static_cast<std::size_t>(n), -1), size(static_cast<std::size_t>(n), 1);
  std::vector<double> born(static_cast<std::size_t>(n), 0.0);
  MergeForest uf(n);
  const double fixed_T = params.scale_s;
  for (const WeightedEdge& e : sorted_edges(g)) {
    if (fixed_T > 0.0 && e.weight_s > fixed_T) break;  // merges beyond the window do not count
    const int a = uf.find(e.u), b = uf.find(e.v);
    if (a == b) continue;
    const int ta = uf.tree_node[static_cast<std::size_t>(a)], tb = uf.tree_node[static_cast<std::size_t>(b)];
    const int t = static_cast<int>(tree_parent.size());
    tree_parent.push_back(-1);
    size.push_back(size[static_cast<std::size_t>(ta)] + size[static_cast<std::size_t>(tb)]);
    born.push_back(e.weight_s);
    tree_parent[static_cast<std::size_t>(ta)] = tree_parent[static_cast<std::size_t>(tb)] = t;
    uf.parent[static_cast<std::size_t>(b)] = a;
    uf.tree_node[static_cast<std::size_t>(a)] = t;
  }
  const double T = fixed_T > 0.0 ? fixed_T : born.back();  // edges are sorted: the last merge is the largest

  // acc[x] = integral over [0, T] of the size of the component that contains x's leaves while x
  // is their component: size_x * (|[born_x, born_parent) cut to [0, T]|), summed root to leaf.
  const std::size_t m = tree_parent.size();
  std::vector<double> acc(m, 0.0);
  for (std::size_t x = m; x-- > 0;) {
    const int p = tree_parent[x];
    const double end = p < 0 ? T : std::min(born[static_cast<std::size_t>(p)], T);
    const double span = std::max(0.0, end - std::min(born[x], T));
    acc[x] = (p < 0 ? 0.0 : acc[static_cast<std::size_t>(p)]) + size[x] * span;
  }
  for (int v = 0; v < n; ++v) {
    const auto idx = static_cast<std::size_t>(g[static_cast<std::size_t>(v)].snapshot_index);
    if (idx >= out.size()) throw std::invalid_argument("stability: graph vertex outside the snapshot");
    double s;
    if (T > 0.0) {
      s = acc[static_cast<std::size_t>(v)] / (T * n);
    } else {  // no positive scale: the size of the component at scale 0
      int root = v;
      while (tree_parent[static_cast<std::size_t>(root)] >= 0) root = tree_parent[static_cast<std::size_t>(root)];
      s = static_cast<double>(size[static_cast<std::size_t>(root)]) / n;
    }
    out[idx] = std::clamp(s, 0.0, 1.0);
  }
  return out;
}

void StabilityHistory::add(const SwarmSnapshot& snapshot) { add(snapshot, build_swarm_graph(snapshot, graph_params_)); }

void StabilityHistory::add(const SwarmSnapshot& snapshot, const SwarmGraph& graph) {
  if (snapshots_ > 0 && snapshot.time_s < last_time_s_)
    throw std::invalid_argument("stability: snapshot at " + std::to_string(snapshot.time_s) + " s is older than the last one");
  if (snapshots_ > 0 && std::isfinite(params_.half_life_s) && params_.half_life_s > 0.0) {
    const double decay = std::exp2(-(snapshot.time_s - last_time_s_) / params_.half_life_s);
    for (auto& [name, s] : sums_) s.weighted *= decay, s.weight *= decay;
  }
  const std::vector<double> s = snapshot_stability(graph, static_cast<int>(snapshot.nodes.size()), params_);
  for (std::size_t i = 0; i < snapshot.nodes.size(); ++i) {
    Sums& sum = sums_[snapshot.nodes[i].name];
    sum.weighted += s[i];
    sum.weight += 1.0;
  }
  last_time_s_ = snapshot.time_s;
  ++snapshots_;
}

double StabilityHistory::stability(const std::string& node) const {
  const auto it = sums_.find(node);
  if (it == sums_.end() || !(it->second.weight > 0.0)) return 0.0;
  return it->second.weighted / it->second.weight;
}

std::map<std::string, double> StabilityHistory::multipliers() const {
  std::map<std::string, double> m;
  double best = 0.0;
  for (const auto& [name, s] : sums_) best = std::max(best, m[name] = stability(name));
  for (auto& [name, v] : m) v = best > 0.0 ? v / best : 0.0;
  return m;
}

double StabilityHistory::multiplier(const std::string& node) const {
  if (!sums_.count(node)) return 0.0;
  return multipliers().at(node);
}

}  // namespace swarmsim::topology
