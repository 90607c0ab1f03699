// The fine-tuning loss proxy's cost (workload.fine_tuning.loss): one training step (the teacher's
// forward, the student's forward, backward through every block and the Adam update) against the
// baseline of one forward pass with the same adapters, in the same run. Llama-3-8B's 32 blocks.
#include <benchmark/benchmark.h>

#include "gpu/fine_tuning_proxy.hpp"
#include "gpu/model_catalog.hpp"

using namespace swarmsim::gpu;

namespace {

FineTuningProxy proxy(int width, int sequences, int tokens) {
  ProxyConfig cfg;
  cfg.width = width;
  cfg.sequences = sequences;
  cfg.tokens = tokens;
  return FineTuningProxy(*find_model("Llama-3-8B"), AdapterSpec{AdapterKind::Lora, 16, kLoraQkv | kLoraO}, Optimizer::Adam, cfg, 5);
}

/// One session step, as TrainingLoss runs it: the teacher's distributions, then the step.
void BM_LossProxyStep(benchmark::State& state) {
  FineTuningProxy p = proxy(static_cast<int>(state.range(0)), 2, static_cast<int>(state.range(1)));
  FineTuningProxy::Adapters ad = p.initial();
  std::uint64_t i = 0;
  for (auto _ : state) {
    const std::vector<int> b = p.batch(0, i++);
    benchmark::DoNotOptimize(p.step(ad, b, p.teacher(b)));
  }
}
BENCHMARK(BM_LossProxyStep)->ArgNames({"width", "tokens"})->Args({32, 16})->Args({64, 16})->Args({32, 64})->Unit(benchmark::kMillisecond);

/// The baseline: one forward pass and its loss at the same shapes.
void BM_LossProxyForward(benchmark::State& state) {
  FineTuningProxy p = proxy(static_cast<int>(state.range(0)), 2, static_cast<int>(state.range(1)));
  const std::vector<int> b = p.batch(0, 0);
  const std::vector<double> t = p.teacher(b);
  for (auto _ : state) benchmark::DoNotOptimize(p.loss(p.initial(), b, t));
}
BENCHMARK(BM_LossProxyForward)->ArgNames({"width", "tokens"})->Args({32, 16})->Args({64, 16})->Args({32, 64})->Unit(benchmark::kMillisecond);

}  // namespace
