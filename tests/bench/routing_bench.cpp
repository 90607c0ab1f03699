// Chain-building cost of each router on large swarms (pure code, no SimGrid).
#include <benchmark/benchmark.h>

#include <map>

#include "gpu/shard_cost_model.hpp"
#include "sim/routing/chain_router.hpp"
#include "sim/swarm/latency_table.hpp"
#include "tests/bench/swarm_generator.hpp"
#include "tests/sim/farthest_pair_reference.hpp"

using namespace swarmsim;

namespace {

class UniformNetwork final : public sim::NetworkEstimate {
 public:
  double latency_s(int a, int b) const override { return 0.001 * ((a * 31 + b * 17) % 97); }
  double bandwidth_Bps(int, int) const override { return 125e6; }
};

void route_bench(benchmark::State& state, const sim::ChainRouter& router) {
  const int n = static_cast<int>(state.range(0));
  const gpu::TransformerSpec model = *gpu::find_model("Llama-3-8B");
  gpu::RooflineCostModel cost;
  sim::OverheadSpec overheads;
  UniformNetwork net;
  std::vector<sim::ServerView> servers(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& s = servers[static_cast<std::size_t>(i)];
    s.host = i;
    s.blocks = {(i * 8) % 32, (i * 8) % 32 + 8};
    s.device = gpu::find_device(i % 2 ? "L4" : "RTX-4090");
    s.free_kv_bytes = 1e12;
  }
  const sim::SwarmView view{servers, &net, &model, &cost, &overheads};
  const sim::RouteRequest req{n, 1, 64, 64};
  sim::Rng rng(1);
  for (auto _ : state) benchmark::DoNotOptimize(router.route(view, req, rng));
  state.SetComplexityN(n);
}

void BM_Eq18Route(benchmark::State& s) { route_bench(s, sim::Eq18Router({1, -1, -1}, 0)); }
void BM_ShortestPathRoute(benchmark::State& s) { route_bench(s, sim::ShortestPathRouter()); }
void BM_RandomRoute(benchmark::State& s) { route_bench(s, sim::RandomRouter()); }
BENCHMARK(BM_Eq18Route)->RangeMultiplier(10)->Range(10, 1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ShortestPathRoute)->RangeMultiplier(10)->Range(10, 1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_RandomRoute)->RangeMultiplier(10)->Range(10, 1000)->Unit(benchmark::kMicrosecond);

/// A generated swarm's geography as the engines see it: latencies from its LatencyTable, every
/// link 125 MB/s. With `regions` false the table's regions are hidden, so the eq. 18 router
/// bounds every candidate.
class GeoNetwork final : public sim::NetworkEstimate {
 public:
  GeoNetwork(const sim::LatencyTable& table, bool regions) : t_(table), regions_(regions) {}
  double latency_s(int a, int b) const override { return t_.one_way(a, b); }
  double bandwidth_Bps(int, int) const override { return 125e6; }
  bool has_cheap_latency_floor() const override { return t_.floor_is_cheaper(); }
  double latency_floor_s(int a, int b) const override { return t_.one_way_floor(a, b); }
  int regions() const override { return regions_ ? t_.regions() : 0; }
  std::span<const int> host_regions() const override { return t_.host_regions(); }
  double latency_floor_to_region_s(int from, int region) const override { return t_.one_way_floor_to_region(from, region); }

 private:
  const sim::LatencyTable& t_;
  bool regions_;
};

/// Eq. 18 chains for the 50 clients of a generated swarm of N nodes (8-block ranges at random
/// starts, 0-3 sessions in flight each), in turn; with `kept_layout`, the view has a layout, so
/// the router groups the servers by region once instead of at every route.
void geo_route_bench(benchmark::State& state, bool regions, bool kept_layout) {
  const int n = static_cast<int>(state.range(0));
  const sim::Scenario sc = bench::generated_swarm(n, 50, 1, 1.0, 1);
  const sim::LatencyTable table(sc);
  const GeoNetwork net(table, regions);
  gpu::RooflineCostModel cost;
  sim::Rng rng(3);
  std::vector<sim::ServerView> servers(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& s = servers[static_cast<std::size_t>(i)];
    s.host = i;
    const int start = static_cast<int>(rng.below(sc.model.n_layers - 7));
    s.blocks = {start, start + 8};
    s.device = sc.nodes[static_cast<std::size_t>(i)].device;
    s.active_sessions = static_cast<int>(rng.below(4));
    s.free_kv_bytes = 1e12;
  }
  const sim::SwarmView view{servers, &net, &sc.model, &cost, &sc.overheads, nullptr, kept_layout ? 1u : 0u};
  const sim::Eq18Router router({1, -1, -1}, 0);
  int client = 0;
  for (auto _ : state) {
    const sim::RouteRequest req{n + client, 1, 64, 64};
    benchmark::DoNotOptimize(router.route(view, req, rng));
    client = (client + 1) % 50;
  }
}
void BM_Eq18RouteGeo(benchmark::State& s) { geo_route_bench(s, true, false); }
void BM_Eq18RouteGeoKept(benchmark::State& s) { geo_route_bench(s, true, true); }
void BM_Eq18RouteGeoNoRegions(benchmark::State& s) { geo_route_bench(s, false, false); }
BENCHMARK(BM_Eq18RouteGeo)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Eq18RouteGeoKept)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Eq18RouteGeoNoRegions)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace

// The farthest round trip of a swarm (the DHT timeout advice, sim/scenario/scenario_advice.cpp):
// the pruned search against trying every pair of hosts, on N hosts at N distinct locations.
void BM_FarthestPair(benchmark::State& state) {
  const sim::LatencyTable table(bench::generated_swarm(static_cast<int>(state.range(0)), 1, 1, 1.0, 1));
  for (auto _ : state) benchmark::DoNotOptimize(table.farthest_pair());
}
void BM_FarthestPairExhaustive(benchmark::State& state) {
  const sim::LatencyTable table(bench::generated_swarm(static_cast<int>(state.range(0)), 1, 1, 1.0, 1));
  for (auto _ : state) benchmark::DoNotOptimize(test::farthest_pair_exhaustive(table));
}
BENCHMARK(BM_FarthestPair)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FarthestPairExhaustive)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
