// Persistent homology (PH0 + PH1, GUDHI) of geographic random swarms against their size, with
// and without edge collapse (docs/topology.md, "Benchmark"). Product target: a 1,000-node swarm
// in under 100 ms.
//
// Filtration bound: the complete graph of n nodes has n(n-1)/2 edges and ~n^3/6 triangles (1.7e8
// at n = 1,000), so it is never expanded whole. Two sparse choices are measured:
//   Knn:      each node keeps its 10 lightest links (the union over both ends), no scale bound;
//             edges ~ 10 n, triangles bounded by the local degree: linear in n.
//   Quantile: all pairs measured, filtration cut at the 2nd percentile of edge weights (what a
//             caller with a full latency matrix and a scale of interest would do).
// Only compute_persistence is timed; the snapshot and the graph are built once per size.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <map>
#include <memory>

#include "tests/bench/swarm_generator.hpp"
#include "topology/persistence.hpp"

using namespace swarmsim;

namespace {

/// A snapshot of `n` geographic random nodes (tests/bench/swarm_generator.hpp) with each node's
/// `k` nearest links by one-way latency (k = 0: all pairs).
topology::SwarmSnapshot geo_snapshot(int n, int k) {
  const sim::Scenario sc = bench::generated_swarm(n, 0, 1, 1.0, 1);
  topology::SwarmSnapshot s;
  for (const sim::NodeSpec& node : sc.nodes) s.nodes.push_back({node.name, *node.location, node.device->peak_flops, true});
  std::vector<std::pair<double, int>> row;
  std::vector<char> taken;
  for (int i = 0; i < n; ++i) {
    row.clear();
    for (int j = 0; j < n; ++j) {
      if (j == i || (k == 0 && j < i)) continue;
      const auto& a = sc.nodes[static_cast<std::size_t>(i)];
      const auto& b = sc.nodes[static_cast<std::size_t>(j)];
      const double km = topology::great_circle_km(*a.location, *b.location);
      row.emplace_back(a.access_latency_s + b.access_latency_s + topology::propagation_delay_s(km, 200000.0, 2.0), j);
    }
    const std::size_t keep = k == 0 ? row.size() : std::min(row.size(), static_cast<std::size_t>(k));
    std::partial_sort(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(keep), row.end());
    for (std::size_t r = 0; r < keep; ++r) s.links.push_back({i, row[r].second, row[r].first, 125e6});
  }
  return s;  // a pair chosen from both ends appears twice; build_swarm_graph keeps one
}

const topology::SwarmGraph& cached_graph(int n, int k) {
  static std::map<std::pair<int, int>, std::unique_ptr<topology::SwarmGraph>> cache;
  auto& slot = cache[{n, k}];
  if (!slot) slot = std::make_unique<topology::SwarmGraph>(topology::build_swarm_graph(geo_snapshot(n, k)));
  return *slot;
}

void run(benchmark::State& state, const topology::SwarmGraph& g, topology::FiltrationParams p) {
  p.collapse_edges = state.range(1) != 0;
  topology::PersistenceResult r;
  for (auto _ : state) {
    r = topology::compute_persistence(g, p);
    benchmark::DoNotOptimize(r.h1.data());
  }
  state.counters["edges"] = static_cast<double>(r.edges_in);
  state.counters["edges_kept"] = static_cast<double>(r.edges_kept);
  state.counters["simplices"] = static_cast<double>(r.simplices);
  state.counters["h1_pairs"] = static_cast<double>(r.h1.size());
}

void BM_PersistenceKnn(benchmark::State& state) {
  run(state, cached_graph(static_cast<int>(state.range(0)), 10), {});
}

void BM_PersistenceQuantile(benchmark::State& state) {
  const topology::SwarmGraph& g = cached_graph(static_cast<int>(state.range(0)), 0);
  topology::FiltrationParams p;
  p.max_scale_s = topology::edge_weight_quantile(g, 0.02);
  run(state, g, p);
}

}  // namespace

BENCHMARK(BM_PersistenceKnn)->ArgsProduct({{100, 1000, 5000}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PersistenceQuantile)->ArgsProduct({{100, 1000}, {0, 1}})->Unit(benchmark::kMillisecond);
