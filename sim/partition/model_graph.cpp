#include "sim/partition/model_graph.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string_view>

namespace swarmsim::partition {

namespace {

/// An op id as a vector index.
constexpr std::size_t ix(int v) { return static_cast<std::size_t>(v); }

/// "%g" of a number, for messages.
std::string number_text(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

/// "\"conv1\" (id 3)": how messages name an op.
std::string label(const std::vector<Op>& ops, int v) {
  return "\"" + ops[ix(v)].name + "\" (id " + std::to_string(v) + ")";
}

/// An endpoint of an edge as given: the op's label when in range, else the raw index.
std::string endpoint(const std::vector<Op>& ops, int v) {
  return v >= 0 && v < static_cast<int>(ops.size()) ? label(ops, v) : std::to_string(v);
}

std::string edge_text(const std::vector<Op>& ops, int u, int v) { return endpoint(ops, u) + " -> " + endpoint(ops, v); }

void check_size(const std::vector<Op>& ops, int v, std::string_view field, double x) {
  if (!std::isfinite(x) || x < 0)
    throw GraphError("op " + label(ops, v) + ": " + std::string(field) + " must be a finite number >= 0, got " +
                     number_text(x));
}

/// Builds a CSR adjacency (offsets of n+1 entries, targets ascending within each row).
void build_csr(int n, const std::vector<std::pair<int, int>>& rows_cols, std::vector<int>& off, std::vector<int>& idx) {
  off.assign(ix(n) + 1, 0);
  for (const auto& [r, c] : rows_cols) ++off[ix(r) + 1];
  for (int i = 0; i < n; ++i) off[ix(i) + 1] += off[ix(i)];
  idx.assign(rows_cols.size(), 0);
  std::vector<int> fill(off.begin(), off.end() - 1);
  for (const auto& [r, c] : rows_cols) idx[ix(fill[ix(r)]++)] = c;
  for (int i = 0; i < n; ++i)
    std::sort(idx.begin() + off[ix(i)], idx.begin() + off[ix(i) + 1]);
}

}  // namespace

ModelGraph::ModelGraph(std::string name, std::vector<Op> ops, const std::vector<std::pair<int, int>>& edges)
    : name_(std::move(name)), ops_(std::move(ops)) {
  const int n = size();

  // Ops: names and sizes.
  std::map<std::string_view, int> by_name;
  for (int v = 0; v < n; ++v) {
    const Op& op = ops_[ix(v)];
    if (op.name.empty()) throw GraphError("op with id " + std::to_string(v) + " has an empty name");
    if (const auto [it, inserted] = by_name.emplace(op.name, v); !inserted)
      throw GraphError("duplicate op name \"" + op.name + "\" (ids " + std::to_string(it->second) + " and " +
                       std::to_string(v) + ")");
    check_size(ops_, v, "flops", op.flops);
    check_size(ops_, v, "mem_bytes", op.mem_bytes);
    check_size(ops_, v, "param_bytes", op.param_bytes);
    check_size(ops_, v, "out_bytes", op.out_bytes);
  }

  // Edges: in range, no self-loops, no duplicates.
  for (const auto& [u, v] : edges) {
    if (u < 0 || u >= n || v < 0 || v >= n)
      throw GraphError("edge " + edge_text(ops_, u, v) + ": op id out of range [0, " + std::to_string(n) + ")");
    if (u == v) throw GraphError("self-loop on op " + label(ops_, u) + ": an op cannot consume its own output");
  }
  std::vector<std::pair<int, int>> sorted = edges;
  std::sort(sorted.begin(), sorted.end());
  if (const auto dup = std::adjacent_find(sorted.begin(), sorted.end()); dup != sorted.end())
    throw GraphError("duplicate edge " + edge_text(ops_, dup->first, dup->second));

  // CSR copies: succs are rows by source, preds rows by target.
  build_csr(n, edges, succ_off_, succ_idx_);
  std::vector<std::pair<int, int>> reversed;
  reversed.reserve(edges.size());
  for (const auto& [u, v] : edges) reversed.emplace_back(v, u);
  build_csr(n, reversed, pred_off_, pred_idx_);

  // Cycles: whatever Kahn's algorithm cannot order lies on or behind a cycle.
  const std::vector<int> order = kahn_order();
  if (static_cast<int>(order.size()) < n) {
    std::vector<char> ordered(ix(n), 0);
    for (int v : order) ordered[ix(v)] = 1;
    // Every unordered op has an unordered predecessor; walk predecessors until one repeats.
    int start = 0;
    while (ordered[ix(start)]) ++start;
    std::vector<int> step_of(ix(n), -1), walk;
    int v = start;
    while (step_of[ix(v)] < 0) {
      step_of[ix(v)] = static_cast<int>(walk.size());
      walk.push_back(v);
      for (int p : preds(v))
        if (!ordered[ix(p)]) {
          v = p;
          break;
        }
    }
    // walk[step_of[v]..] is the cycle backwards; print it forwards from its smallest id.
    std::vector<int> cycle(walk.begin() + step_of[ix(v)], walk.end());
    std::reverse(cycle.begin(), cycle.end());
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    std::string text;
    for (int c : cycle) text += ops_[ix(c)].name + " -> ";
    throw GraphError("cycle: " + text + ops_[ix(cycle.front())].name);
  }

  // The Boost.Graph view.
  for (const Op& op : ops_) boost::add_vertex(op, graph_);
  for (const auto& [u, v] : edges) boost::add_edge(ix(u), ix(v), graph_);
}

std::vector<int> ModelGraph::kahn_order() const {
  const int n = size();
  std::vector<int> indegree(ix(n)), heap, order;
  order.reserve(ix(n));
  const auto greater = std::greater<int>();
  for (int v = 0; v < n; ++v) {
    indegree[ix(v)] = pred_off_[ix(v) + 1] - pred_off_[ix(v)];
    if (indegree[ix(v)] == 0) heap.push_back(v);
  }
  std::make_heap(heap.begin(), heap.end(), greater);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const int v = heap.back();
    heap.pop_back();
    order.push_back(v);
    for (int s : succs(v))
      if (--indegree[ix(s)] == 0) {
        heap.push_back(s);
        std::push_heap(heap.begin(), heap.end(), greater);
      }
  }
  return order;
}

std::vector<int> ModelGraph::kahn_order(std::span<const double> keys) const {
  const int n = size();
  if (keys.size() != ix(n))
    throw std::invalid_argument("kahn_order: " + std::to_string(keys.size()) + " keys for " + std::to_string(n) +
                                " ops");
  for (double k : keys)
    if (std::isnan(k)) throw std::invalid_argument("kahn_order: a key is NaN");
  using Entry = std::pair<double, int>;  // (key, id): smallest first
  const auto greater = std::greater<Entry>();
  std::vector<int> indegree(ix(n)), order;
  std::vector<Entry> heap;
  order.reserve(ix(n));
  for (int v = 0; v < n; ++v) {
    indegree[ix(v)] = pred_off_[ix(v) + 1] - pred_off_[ix(v)];
    if (indegree[ix(v)] == 0) heap.emplace_back(keys[ix(v)], v);
  }
  std::make_heap(heap.begin(), heap.end(), greater);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const int v = heap.back().second;
    heap.pop_back();
    order.push_back(v);
    for (int s : succs(v))
      if (--indegree[ix(s)] == 0) {
        heap.emplace_back(keys[ix(s)], s);
        std::push_heap(heap.begin(), heap.end(), greater);
      }
  }
  return order;
}

bool ModelGraph::is_topological(std::span<const int> order) const {
  const int n = size();
  if (order.size() != ix(n)) return false;
  std::vector<int> position(ix(n), -1);
  for (int i = 0; i < n; ++i) {
    const int v = order[ix(i)];
    if (v < 0 || v >= n || position[ix(v)] >= 0) return false;
    position[ix(v)] = i;
  }
  for (int v = 0; v < n; ++v)
    for (int s : succs(v))
      if (position[ix(v)] >= position[ix(s)]) return false;
  return true;
}

double ModelGraph::total_flops() const {
  double sum = 0.0;
  for (const Op& op : ops_) sum += op.flops;
  return sum;
}

double ModelGraph::total_param_bytes() const {
  double sum = 0.0;
  for (const Op& op : ops_) sum += op.param_bytes;
  return sum;
}

}  // namespace swarmsim::partition
