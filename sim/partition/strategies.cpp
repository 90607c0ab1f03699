#include "sim/partition/strategies.hpp"

#include <algorithm>
#include <cmath>
#include <queue>
#include <stdexcept>
#include <string>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/strong_components.hpp>
#include <metis.h>

namespace swarmsim::partition {

namespace {

constexpr struct {
  Method method;
  const char* name;
} kMethods[] = {
    {Method::SliceGraph, "slicegraph"},       {Method::SliceGraphDp, "slicegraph-dp"}, {Method::Brkga, "brkga"},
    {Method::LayerWise, "layer-wise"},        {Method::LoadBalanced, "load-balanced"},
    {Method::TopologyAware, "topology-aware"}, {Method::Pipeline, "pipeline"},
};

/// Seed 003 §1: layers_per_worker = ceil(len(L) / len(W)); layer i goes to worker i // that.
std::vector<int> layer_wise(const ModelGraph& g, int k) {
  const std::vector<int> order = g.kahn_order();
  const int n = g.size();
  const int per = (n + k - 1) / k;
  std::vector<int> block_of(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) block_of[order[i]] = i / per;
  return block_of;
}

/// Seed 003 §2 (LPT: largest op first onto the least-loaded worker). As printed it ignores the
/// edges and so returns cyclic partitions; swarmsim keeps it a pipeline: ops are taken
/// largest-first among those whose inputs are placed, and go to the least-loaded block whose
/// index is not below any input's block, so every edge points forward.
std::vector<int> load_balanced(const ModelGraph& g, int k, const MtppParams& p) {
  const int n = g.size();
  std::vector<int> block_of(static_cast<std::size_t>(n), -1), missing(static_cast<std::size_t>(n));
  std::vector<double> load(static_cast<std::size_t>(k), 0.0);
  using Ready = std::pair<double, int>;  // (-work, id): largest work first, then smallest id
  std::priority_queue<Ready, std::vector<Ready>, std::greater<>> ready;
  for (int v = 0; v < n; ++v) {
    missing[v] = static_cast<int>(g.preds(v).size());
    if (missing[v] == 0) ready.push({-p.device.work_s(v, g.op(v)), v});
  }
  while (!ready.empty()) {
    const int v = ready.top().second;
    ready.pop();
    int lowest = 0;
    for (int u : g.preds(v)) lowest = std::max(lowest, block_of[u]);
    int best = lowest;
    for (int b = lowest + 1; b < k; ++b)
      if (load[b] < load[best]) best = b;
    block_of[v] = best;
    load[best] += p.device.work_s(v, g.op(v));
    for (int w : g.succs(v))
      if (--missing[w] == 0) ready.push({-p.device.work_s(w, g.op(w)), w});
  }
  return block_of;
}

/// Seed 003 §3: METIS k-way partitioning of the undirected graph, vertex weight work(v), edge
/// weight sizeout(u); blocks that form a cycle in the quotient graph are then merged (its
/// strongly connected components), which is the least change that makes the pipeline acyclic.
std::vector<int> topology_aware(const ModelGraph& g, int k, const MtppParams& p, std::uint64_t seed) {
  const int n = g.size();
  std::vector<int> block_of(static_cast<std::size_t>(n), 0);
  if (k >= n) {
    for (int v = 0; v < n; ++v) block_of[v] = v;
    return block_of;
  }
  if (k > 1) {
    double max_work = 0, max_bytes = 0;
    for (int v = 0; v < n; ++v) {
      max_work = std::max(max_work, p.device.work_s(v, g.op(v)));
      max_bytes = std::max(max_bytes, g.op(v).out_bytes);
    }
    auto scale = [](double x, double max) { return static_cast<idx_t>(1 + std::llround(max > 0 ? 99999.0 * x / max : 0.0)); };
    std::vector<idx_t> xadj(static_cast<std::size_t>(n) + 1, 0), adjncy, vwgt(static_cast<std::size_t>(n)), adjwgt;
    for (int v = 0; v < n; ++v) {
      vwgt[v] = scale(p.device.work_s(v, g.op(v)), max_work);
      for (int u : g.preds(v)) {
        adjncy.push_back(u);
        adjwgt.push_back(scale(g.op(u).out_bytes, max_bytes));
      }
      for (int w : g.succs(v)) {
        adjncy.push_back(w);
        adjwgt.push_back(scale(g.op(v).out_bytes, max_bytes));
      }
      xadj[v + 1] = static_cast<idx_t>(adjncy.size());
    }
    idx_t nv = n, ncon = 1, nparts = k, objval = 0;
    idx_t options[METIS_NOPTIONS];
    METIS_SetDefaultOptions(options);
    options[METIS_OPTION_SEED] = static_cast<idx_t>(seed % 2147483647);
    options[METIS_OPTION_NUMBERING] = 0;
    std::vector<idx_t> part(static_cast<std::size_t>(n), 0);
    if (adjncy.empty()) adjncy.push_back(0), adjwgt.push_back(1);  // METIS reads adjncy[0] even with no edges
    const int rc = METIS_PartGraphKway(&nv, &ncon, xadj.data(), adjncy.data(), vwgt.data(), nullptr, adjwgt.data(), &nparts,
                                       nullptr, nullptr, options, &objval, part.data());
    if (rc != METIS_OK) throw std::runtime_error("METIS_PartGraphKway failed with code " + std::to_string(rc));
    for (int v = 0; v < n; ++v) block_of[v] = static_cast<int>(part[v]);
  }
  // Merge the blocks of each strongly connected component of the quotient graph.
  using Quotient = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;
  Quotient q(static_cast<std::size_t>(k));
  for (int v = 0; v < n; ++v)
    for (int w : g.succs(v))
      if (block_of[v] != block_of[w]) boost::add_edge(static_cast<std::size_t>(block_of[v]), static_cast<std::size_t>(block_of[w]), q);
  std::vector<int> component(static_cast<std::size_t>(k));
  boost::strong_components(q, boost::make_iterator_property_map(component.begin(), boost::get(boost::vertex_index, q)));
  for (int& b : block_of) b = component[b];
  return block_of;
}

/// Seed 003 §4: walk Kahn's order, close a stage once its work reaches total / k.
std::vector<int> pipeline(const ModelGraph& g, int k, const MtppParams& p) {
  const std::vector<int> order = g.kahn_order();
  double total = 0;
  for (int v = 0; v < g.size(); ++v) total += p.device.work_s(v, g.op(v));
  const double target = total / k;
  std::vector<int> block_of(static_cast<std::size_t>(g.size()));
  int stage = 0;
  double current = 0;
  for (int v : order) {
    block_of[v] = std::min(stage, k - 1);  // a remainder past k stages joins the last one
    current += p.device.work_s(v, g.op(v));
    if (current >= target) {
      ++stage;
      current = 0;
    }
  }
  return block_of;
}

}  // namespace

const char* to_string(Method m) {
  for (const auto& e : kMethods)
    if (e.method == m) return e.name;
  return "?";
}

std::optional<Method> method_from_string(std::string_view name) {
  for (const auto& e : kMethods)
    if (name == e.name) return e.method;
  return std::nullopt;
}

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& e : kMethods) v.emplace_back(e.name);
    return v;
  }();
  return names;
}

Partition partition_graph(const ModelGraph& g, int k, Method method, const MtppParams& p, const BrkgaParams& brkga,
                          const std::function<void(const BrkgaGeneration&)>& on_generation) {
  if (k < 1) throw std::invalid_argument("partition: k must be >= 1, got " + std::to_string(k));
  if (g.size() == 0) throw std::invalid_argument("partition: graph \"" + g.name() + "\" has no ops");
  Partition part;
  part.method = method;
  switch (method) {
    case Method::SliceGraph: part.block_of = slice_graph(g, g.kahn_order(), k, p).block_of; break;
    case Method::SliceGraphDp: part.block_of = slice_graph_dp(g, g.kahn_order(), k, p).block_of; break;
    case Method::Brkga: {
      BrkgaResult r = brkga_partition(g, k, p, brkga, on_generation);
      part.block_of = std::move(r.best.block_of);
      part.convergence = std::move(r.log);
      break;
    }
    case Method::LayerWise: part.block_of = layer_wise(g, std::min(k, g.size())); break;
    case Method::LoadBalanced: part.block_of = load_balanced(g, k, p); break;
    case Method::TopologyAware: part.block_of = topology_aware(g, k, p, brkga.seed); break;
    case Method::Pipeline: part.block_of = pipeline(g, k, p); break;
  }
  part.blocks = normalize_partition(g, part.block_of);
  return part;
}

PartitionQuality partition_quality(const ModelGraph& g, const Partition& part, const MtppParams& p) {
  PartitionQuality q;
  q.blocks = part.blocks;
  q.block = block_costs(g, part.block_of, part.blocks, p);
  double sum = 0;
  for (const auto& b : q.block) {
    q.bottleneck_s = std::max(q.bottleneck_s, b.total());
    sum += b.total();
    q.communication_bytes += b.in_bytes;
    q.peak_memory_bytes = std::max(q.peak_memory_bytes, b.param_bytes + b.peak_bytes);
  }
  const double mean = sum / std::max(1, q.blocks);
  double var = 0;
  for (const auto& b : q.block) var += (b.total() - mean) * (b.total() - mean);
  q.load_stddev_s = std::sqrt(var / std::max(1, q.blocks));
  // Longest path of the quotient DAG; blocks are numbered in a topological order of it.
  std::vector<std::vector<int>> next(static_cast<std::size_t>(q.blocks));
  for (int v = 0; v < g.size(); ++v)
    for (int w : g.succs(v))
      if (part.block_of[v] != part.block_of[w]) next[part.block_of[v]].push_back(part.block_of[w]);
  std::vector<double> path_s(static_cast<std::size_t>(q.blocks), 0.0);
  std::vector<int> path_blocks(static_cast<std::size_t>(q.blocks), 1);
  for (int b = q.blocks - 1; b >= 0; --b) {
    double best_s = 0;
    int best_blocks = 0;
    for (int c : next[b]) {
      best_s = std::max(best_s, path_s[c]);
      best_blocks = std::max(best_blocks, path_blocks[c]);
    }
    path_s[b] = q.block[b].total() + best_s;
    path_blocks[b] = 1 + best_blocks;
    q.critical_path_s = std::max(q.critical_path_s, path_s[b]);
    q.critical_path_blocks = std::max(q.critical_path_blocks, path_blocks[b]);
  }
  return q;
}

}  // namespace swarmsim::partition
