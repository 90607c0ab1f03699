// CPU kernels at Llama-3-8B shapes, in GFLOP/s or GB/s and as fractions of this machine's peaks
// (measured in the same run: FMA chains for FLOP/s, STREAM triad for bandwidth). GEMM is OpenBLAS;
// its naive twin is timed on the same shape as the baseline the target "CPU GEMM at least half of
// OpenBLAS" is read against.
#include <benchmark/benchmark.h>

#include <vector>

#include "gpu/block_ops.hpp"
#include "gpu/cpu/cpu_ops.hpp"
#include "gpu/model_catalog.hpp"
#include "gpu/op_profiler.hpp"

using namespace swarmsim::gpu;

namespace {

const ProfiledDevice& peaks() {
  static const ProfiledDevice p = measure_cpu_peaks();
  return p;
}

void report(benchmark::State& state, double flops, double bytes, bool compute_bound) {
  const double s = state.iterations() > 0 ? 1.0 : 0.0;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * s, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["GB/s"] = benchmark::Counter(bytes * s, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters[compute_bound ? "peak_flops" : "peak_bw"] = compute_bound ? peaks().peak_flops / 1e9 : peaks().memory_bandwidth / 1e9;
}

// Llama-3-8B's gate|up projection: [rows x 4096] x [28672 x 4096]^T.
void BM_Gemm(benchmark::State& state, bool naive) {
  const int rows = static_cast<int>(state.range(0)), n_in = 4096, n_out = naive ? 2048 : 28672;
  std::vector<float> x(static_cast<std::size_t>(rows) * n_in, 0.5f), w(static_cast<std::size_t>(n_out) * n_in, 0.25f),
      out(static_cast<std::size_t>(rows) * n_out);
  for (auto _ : state) {
    (naive ? cpu::matmul_naive : cpu::matmul)(out.data(), x.data(), w.data(), rows, n_in, n_out);
    benchmark::DoNotOptimize(out.data());
  }
  const double flops = 2.0 * rows * n_in * n_out, bytes = 4.0 * (double(n_out) * n_in + double(rows) * (n_in + n_out));
  report(state, flops, bytes, flops / bytes > peaks().peak_flops / peaks().memory_bandwidth);
}
void BM_GemmOpenBlas(benchmark::State& s) { BM_Gemm(s, false); }
void BM_GemmNaiveTwin(benchmark::State& s) { BM_Gemm(s, true); }
BENCHMARK(BM_GemmOpenBlas)->Arg(1)->Arg(64)->Arg(512)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_GemmNaiveTwin)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond);

void BM_Attention(benchmark::State& state) {
  const TransformerSpec& m = *find_model("Llama-3-8B");
  const int batch = 8, kv = static_cast<int>(state.range(0));
  const AttentionShape s{batch, 1, kv, kv + 1, m.n_heads, m.n_kv_heads, m.head_dim};
  std::vector<float> q(static_cast<std::size_t>(s.rows()) * s.q_dim(), 0.1f), out(q.size());
  std::vector<float> k(static_cast<std::size_t>(batch) * s.max_len * s.kv_dim(), 0.1f), v(k.size(), 0.2f);
  for (auto _ : state) cpu::attention(out.data(), q.data(), Columns{0, static_cast<std::size_t>(s.q_dim())}, k.data(), v.data(), s);
  const OpCost op = [&] {
    for (const OpCost& o : block_ops(m, {batch, 1, kv}))
      if (std::string(o.name) == "attention") return o;
    return OpCost{};
  }();
  report(state, op.flops, op.bytes * 2 /* FP32 here, BF16 in the op count */, false);
}
BENCHMARK(BM_Attention)->Arg(512)->Arg(4096)->Unit(benchmark::kMillisecond);

void BM_RmsNorm(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0)), dim = 4096;
  std::vector<float> x(static_cast<std::size_t>(rows) * dim, 1.0f), w(dim, 1.0f), out(x.size());
  for (auto _ : state) cpu::rmsnorm(out.data(), x.data(), w.data(), rows, dim, 1e-5f);
  report(state, 4.0 * rows * dim, 8.0 * rows * dim, false);
}
BENCHMARK(BM_RmsNorm)->Arg(512)->Arg(8192)->Unit(benchmark::kMicrosecond);

// Rotary embeddings of the query heads of `rows` tokens at Llama-3-8B's shape: read and write
// each value once (FP32), and about 6 FLOPs per pair.
void BM_Rope(benchmark::State& state) {
  const TransformerSpec& m = *find_model("Llama-3-8B");
  const int rows = static_cast<int>(state.range(0));
  const AttentionShape s{rows, 1, 100, 101, m.n_heads, m.n_kv_heads, m.head_dim};
  std::vector<float> x(static_cast<std::size_t>(rows) * s.q_dim(), 0.5f);
  for (auto _ : state) cpu::rope(x.data(), Columns{0, static_cast<std::size_t>(s.q_dim())}, m.n_heads, s, static_cast<float>(m.rope_theta));
  report(state, 3.0 * rows * s.q_dim(), 8.0 * rows * s.q_dim(), false);
}
BENCHMARK(BM_Rope)->Arg(64)->Arg(512)->Unit(benchmark::kMicrosecond);

void BM_SiluMul(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0)), width = 14336;
  std::vector<float> gu(static_cast<std::size_t>(rows) * 2 * width, 0.5f), out(static_cast<std::size_t>(rows) * width);
  for (auto _ : state) cpu::silu_mul(out.data(), gu.data(), rows, width);
  report(state, 5.0 * rows * width, 12.0 * rows * width, false);
}
BENCHMARK(BM_SiluMul)->Arg(64)->Arg(512)->Unit(benchmark::kMicrosecond);

void BM_QuantizeBlockwise(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(state.range(0));
  std::vector<float> x(n, 0.3f), back(n);
  std::vector<std::int8_t> q(n);
  std::vector<float> scales((n + 63) / 64);
  for (auto _ : state) {
    cpu::quantize_blockwise(q.data(), scales.data(), x.data(), n, 64);
    cpu::dequantize_blockwise(back.data(), q.data(), scales.data(), n, 64);
  }
  report(state, 0.0, n * (4.0 + 1.0 + 1.0 + 4.0) + 8.0 * scales.size(), false);
}
BENCHMARK(BM_QuantizeBlockwise)->Arg(512 * 4096)->Arg(8192 * 4096)->Unit(benchmark::kMicrosecond);

}  // namespace
