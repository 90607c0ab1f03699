// The partitioner's runtime against graph size (100 to 10,000 ops) and k (2 to 64), and its
// quality: each method's bottleneck over the best lower bound (max(Σ work / k, max work(v))),
// reported as the counter `vs_lower_bound` (1.00 = provably optimal).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "sim/partition/model_graph_io.hpp"
#include "sim/partition/strategies.hpp"
#include "gpu/device_catalog.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace {
using namespace swarmsim::partition;

/// The graphs, built once: random layered DAGs of 4-wide layers.
const ModelGraph& graph_of_size(int n) {
  static std::map<int, std::unique_ptr<ModelGraph>> cache;
  auto& g = cache[n];
  if (!g) g = std::make_unique<ModelGraph>(random_layered_dag(n, 4, 42));
  return *g;
}

/// A homogeneous swarm of A100-like nodes on 100 Gbit/s links, 40 GB of fast memory.
MtppParams params() {
  MtppParams p;
  p.device.flops_per_s = 312e12 * 0.5;
  p.device.mem_Bps = 2.0e12 * 0.8;
  p.link_Bps = 12.5e9;  // 100 Gbit/s: a datacenter swarm, where cutting the graph pays
  p.fast_memory_bytes = 40e9;
  p.stream_Bps = 25e9;
  return p;
}

void run_method(benchmark::State& state, Method m) {
  const ModelGraph& g = graph_of_size(static_cast<int>(state.range(0)));
  const int k = static_cast<int>(state.range(1));
  const MtppParams p = params();
  BrkgaParams bp;
  bp.population = 32;
  bp.generations = 20;
  bp.stall_generations = 0;
  Partition part;
  for (auto _ : state) {
    part = partition_graph(g, k, m, p, bp);
    benchmark::DoNotOptimize(part.block_of.data());
  }
  const PartitionQuality q = partition_quality(g, part, p);
  state.counters["vs_lower_bound"] = q.bottleneck_s / bottleneck_lower_bound(g, k, p);
  state.counters["blocks"] = part.blocks;
}

/// BRKGA at its default settings (population 64, up to 100 generations, stop after 30 without
/// improvement): the quality target "within 5% of the lower bound at k = 16".
void BM_BrkgaDefaults(benchmark::State& state) {
  const ModelGraph& g = graph_of_size(static_cast<int>(state.range(0)));
  const int k = static_cast<int>(state.range(1));
  const MtppParams p = params();
  Partition part;
  for (auto _ : state) {
    part = partition_graph(g, k, Method::Brkga, p, BrkgaParams{});
    benchmark::DoNotOptimize(part.block_of.data());
  }
  const PartitionQuality q = partition_quality(g, part, p);
  state.counters["vs_lower_bound"] = q.bottleneck_s / bottleneck_lower_bound(g, k, p);
  state.counters["vs_slicegraph"] = q.bottleneck_s / partition_quality(g, partition_graph(g, k, Method::SliceGraph, p), p).bottleneck_s;
  state.counters["blocks"] = part.blocks;
}
BENCHMARK(BM_BrkgaDefaults)->Args({1000, 16})->Args({100, 16})->Unit(benchmark::kMillisecond)->Iterations(1);

void sizes(benchmark::internal::Benchmark* b, int max_n) {
  for (int n : {100, 1000, 10000})
    for (int k : {2, 16, 64})
      if (n <= max_n && k < n) b->Args({n, k});
  b->Unit(benchmark::kMillisecond);
}

void BM_SliceGraph(benchmark::State& s) { run_method(s, Method::SliceGraph); }
void BM_SliceGraphDp(benchmark::State& s) { run_method(s, Method::SliceGraphDp); }
void BM_Brkga(benchmark::State& s) { run_method(s, Method::Brkga); }
void BM_LayerWise(benchmark::State& s) { run_method(s, Method::LayerWise); }
void BM_LoadBalanced(benchmark::State& s) { run_method(s, Method::LoadBalanced); }
void BM_TopologyAware(benchmark::State& s) { run_method(s, Method::TopologyAware); }
void BM_Pipeline(benchmark::State& s) { run_method(s, Method::Pipeline); }

BENCHMARK(BM_SliceGraph)->Apply([](auto* b) { sizes(b, 10000); });
BENCHMARK(BM_SliceGraphDp)->Apply([](auto* b) { sizes(b, 1000); });  // O(n²) memory: 8 MB at 1,000 ops
BENCHMARK(BM_Brkga)->Apply([](auto* b) { sizes(b, 1000); })->Iterations(1);
BENCHMARK(BM_LayerWise)->Apply([](auto* b) { sizes(b, 10000); });
BENCHMARK(BM_LoadBalanced)->Apply([](auto* b) { sizes(b, 10000); });
BENCHMARK(BM_TopologyAware)->Apply([](auto* b) { sizes(b, 10000); });
BENCHMARK(BM_Pipeline)->Apply([](auto* b) { sizes(b, 10000); });

/// The named networks at k = 8: quality of each method on real structure.
void BM_NamedGraph(benchmark::State& state, const char* generator, Method m) {
  static std::map<std::string, std::unique_ptr<ModelGraph>> cache;
  auto& g = cache[generator];
  GeneratorOptions o;
  o.batch = 8;
  if (!g) g = std::make_unique<ModelGraph>(generate_model_graph(generator, o));
  const MtppParams p = params();
  BrkgaParams bp;
  bp.population = 32;
  bp.generations = 30;
  Partition part;
  for (auto _ : state) part = partition_graph(*g, 8, m, p, bp);
  state.counters["vs_lower_bound"] = partition_quality(*g, part, p).bottleneck_s / bottleneck_lower_bound(*g, 8, p);
  state.counters["ops"] = g->size();
}
BENCHMARK_CAPTURE(BM_NamedGraph, resnet50_slicegraph, "resnet50", Method::SliceGraph)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NamedGraph, resnet50_brkga, "resnet50", Method::Brkga)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_NamedGraph, resnet50_metis, "resnet50", Method::TopologyAware)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NamedGraph, resnet50_pipeline, "resnet50", Method::Pipeline)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NamedGraph, unet_slicegraph, "unet-sd", Method::SliceGraph)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NamedGraph, unet_brkga, "unet-sd", Method::Brkga)->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(BM_NamedGraph, unet_metis, "unet-sd", Method::TopologyAware)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NamedGraph, unet_pipeline, "unet-sd", Method::Pipeline)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NamedGraph, bert_slicegraph, "bert-base", Method::SliceGraph)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_NamedGraph, bert_layerwise, "bert-base", Method::LayerWise)->Unit(benchmark::kMillisecond);

/// Planning a graph scenario's pipeline (SliceGraph on the U-Net, every stage count, optimal
/// placement, the recut onto the nodes) for `servers` GPUs of four kinds, without an objective and
/// with one (`objective` 1: the least energy, every set of servers scored). With `distinct` 1
/// every server has its own rent, so none is interchangeable and the recut runs over every set of
/// servers (2^12 at 12); with 0 servers of a kind share one, and the recut counts them by kind.
/// scripts/bench.sh prints the ratio of planning with and without the objective in the same run.
void BM_PlanPipeline(benchmark::State& state) {
  const int servers = static_cast<int>(state.range(0));
  const bool objective = state.range(1) != 0;
  const bool distinct = state.range(2) != 0;
  const char* gpus[] = {"RTX-4090", "RTX-3090", "L4", "A100-80GB"};
  std::string nodes;
  for (int j = 0; j < servers; ++j)
    nodes += std::string(j ? "," : "") + R"({"name": "s)" + std::to_string(j) + R"(", "gpu": ")" + gpus[j % 4] +
             R"(", "location": {"lat": 50.1, "lon": 8.6}, "uplink": "25Gbps", "downlink": "25Gbps", "costs": {"rent": ")" +
             std::to_string(distinct ? 0.50 + 0.01 * j : 0.50) + R"(/h"}})";
  const std::string text = R"({"name": "plan-bench", "model": {"graph": {"generator": "unet-sd", "image_size": 512, "batch": 1}},
    "nodes": [)" + nodes + R"(],
    "clients": [{"name": "c", "device": "cpu-generic", "location": {"lat": 50.1, "lon": 8.6}, "uplink": "10Gbps", "downlink": "10Gbps"}],
    "workload": {"sessions": 1000, "arrival": {"process": "poisson", "rate": "50/s"}},
    "policy": {"partitioner": {"method": "slicegraph")" +
                           std::string(objective ? R"(, "objective": {"minimize": "energy", "unused_nodes": "off"})" : "") + R"(}}})";
  const swarmsim::sim::Scenario sc = swarmsim::sim::load_scenario_text(text, "plan-bench.json");
  swarmsim::sim::PipelinePlan plan;
  for (auto _ : state) {
    plan = swarmsim::sim::plan_pipeline(sc);
    benchmark::DoNotOptimize(plan.stages.data());
  }
  state.counters["candidates"] = static_cast<double>(plan.candidates.size());
  state.counters["stages"] = static_cast<double>(plan.stages.size());
}
BENCHMARK(BM_PlanPipeline)->ArgsProduct({{6, 12}, {0, 1}, {0, 1}})->Unit(benchmark::kMillisecond);

/// Pricing every op of an n-op graph on one device (what a plan does once per device kind): by
/// the roofline (arg 1 = 0) and from the committed CPU profile (arg 1 = 1), whose nearest-entry
/// lookup scans the profile's entries per op. The counter `vs_slicegraph_k64` is the time over
/// SliceGraph's on the same graph at k = 64, measured in the same run.
void BM_GraphOpPrices(benchmark::State& state) {
  const ModelGraph& g = graph_of_size(static_cast<int>(state.range(0)));
  const bool profile = state.range(1) != 0;
  const auto model = swarmsim::sim::make_cost_model(profile ? swarmsim::sim::Pricing::Auto : swarmsim::sim::Pricing::Roofline);
  const swarmsim::gpu::DeviceSpec& cpu = *swarmsim::gpu::find_device("cpu-generic");
  std::vector<double> seconds;
  const auto t0 = std::chrono::steady_clock::now();
  std::int64_t n = 0;
  for (auto _ : state) {
    seconds = swarmsim::sim::graph_op_seconds(*model, cpu, g);
    benchmark::DoNotOptimize(seconds.data());
    ++n;
  }
  const double per_pricing = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / static_cast<double>(n);
  const auto s0 = std::chrono::steady_clock::now();
  const Partition part = partition_graph(g, 64, Method::SliceGraph, params(), BrkgaParams{});
  benchmark::DoNotOptimize(part.block_of.data());
  state.counters["vs_slicegraph_k64"] = per_pricing / std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
}
BENCHMARK(BM_GraphOpPrices)->ArgsProduct({{10000}, {0, 1}})->Unit(benchmark::kMillisecond);

}  // namespace
