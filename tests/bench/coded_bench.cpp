// Building seed 001's coded ensemble (sim/coded/coin.hpp) at the shipped defaults: pretraining,
// fine-tuning, the diagonal Fishers and eq. 15 ("coin"), or the full Fishers and their Cholesky
// solve ("coin_full", also at the largest size the loader accepts), against the same without the
// Fishers ("average", the baseline in the same run); and the offline evaluation a coded run starts with.
#include <benchmark/benchmark.h>

#include "sim/coded/coin.hpp"

namespace {

using namespace swarmsim;

void BM_CodedEnsemble(benchmark::State& state, const char* method, int hidden) {
  sim::CodedSpec spec;
  spec.method = method;
  spec.hidden = hidden;
  std::uint64_t seed = 1;
  for (auto _ : state) {
    const sim::CodedEnsemble e(spec, seed++);
    benchmark::DoNotOptimize(e.coded.front().theta.data());
  }
}
BENCHMARK_CAPTURE(BM_CodedEnsemble, coin, "coin", 16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CodedEnsemble, coin_full, "coin_full", 16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CodedEnsemble, average, "average", 16)->Unit(benchmark::kMillisecond);
// 170 hidden units: 170·9 + 3·171 = 2043 parameters, just under kMaxFullFisherParameters.
BENCHMARK_CAPTURE(BM_CodedEnsemble, coin_full_2043_parameters, "coin_full", 170)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CodedEnsemble, coin_2043_parameters, "coin", 170)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CodedEnsemble, coin_block, "coin_block", 16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_CodedEnsemble, coin_block_2043_parameters, "coin_block", 170)->Unit(benchmark::kMillisecond);

/// The normalized decoding accuracy over range(0) test inputs per task: N + 1 forward passes and a decode per input.
void BM_CodedEvaluate(benchmark::State& state) {
  const sim::CodedEnsemble e(sim::CodedSpec{}, 1);
  for (auto _ : state) benchmark::DoNotOptimize(e.evaluate(static_cast<int>(state.range(0))).mean_normalized);
  state.counters["inputs_per_s"] = benchmark::Counter(2.0 * static_cast<double>(state.range(0)), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_CodedEvaluate)->Arg(2000)->Unit(benchmark::kMillisecond);

}  // namespace
